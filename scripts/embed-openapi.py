#!/usr/bin/python3
"""docs/openapi.yaml -> C source holding it as compact JSON, for
GET /openapi.json (app/core/openapi.c). Run by make; Debian's python3-yaml
(scripts/deps.sh) is all it needs. Refuses a document that is not
OpenAPI 3.1 with paths, so a broken spec fails the build."""

import json
import sys

import yaml


def main(src):
    with open(src) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or \
            not str(doc.get("openapi", "")).startswith("3.1") or \
            not doc.get("paths"):
        sys.exit("%s: not an OpenAPI 3.1 document with paths" % src)
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False,
                      sort_keys=False).encode()
    out = ["/* Generated from %s by scripts/embed-openapi.py. */" % src,
           "#include <stddef.h>",
           "const unsigned char tg_openapi_json[] = {"]
    for i in range(0, len(data), 16):
        out.append("".join("0x%02x," % b for b in data[i:i + 16]))
    out.append("};")
    out.append("const size_t tg_openapi_json_len = %d;" % len(data))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
