#!/usr/bin/python3
"""console/* -> C source holding every file of the console (the web UI,
docs/frontend.md "The console") for app/core/console.c: its name, its
Content-Type, its bytes and a strong ETag (a hash of the bytes), in
struct tg_console_asset (app/core/console.h). Run by make with the files
as arguments; needs nothing beyond python3 (no network). A file whose
name or extension the console does not serve stops the build."""

import hashlib
import os
import re
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(paths):
    out = ["/* Generated from console/ by scripts/embed-console.py. */",
           "#include <stddef.h>",
           '#include "console.h"']
    rows = []
    for i, path in enumerate(sorted(paths, key=os.path.basename)):
        name = os.path.basename(path)
        ctype = TYPES.get(os.path.splitext(name)[1])
        if not NAME.match(name) or ctype is None:
            sys.exit("embed-console: %s: not a name or type the console "
                     "serves" % path)
        with open(path, "rb") as f:
            data = f.read()
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:32]
        out.append("static const unsigned char console_%d[] = {" % i)
        for j in range(0, len(data), 16):
            out.append("".join("0x%02x," % b for b in data[j:j + 16]))
        out.append("0x00 };")
        rows.append("\t{ %s, %s, console_%d, %d, %s }," %
                    (c_string(name), c_string(ctype), i, len(data),
                     c_string(etag)))
    if not any(r.startswith('\t{ "index.html"') for r in rows):
        sys.exit("embed-console: console/index.html is missing")
    out.append("const struct tg_console_asset tg_console_assets[] = {")
    out.extend(rows)
    out.append("\t{ NULL, NULL, NULL, 0, NULL }")
    out.append("};")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
