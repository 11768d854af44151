"""A fake Google Generative Language API for the integration tests:
POST /v1beta/models/{model}:generateContent, :streamGenerateContent
?alt=sse and :batchEmbedContents, the real wire format over HTTP/1.1 on
127.0.0.1 (CRLF event framing, as Google sends it). Streams and whole
answers are built from the same parts. See families_http.py for the
common API (push, requests, aborted, close).

Scripts (fake.push(kind, **opts)):
  text          one text part (opts: text)
  tools         a thought, text, then two parallel functionCall parts
                (get_weather Paris with a thoughtSignature, get_time)
  thinking      thought text, then text (thoughtsTokenCount in usage)
  cache         text with cachedContentTokenCount
  max_tokens    finishReason MAX_TOKENS
  safety        finishReason SAFETY
  blocked       promptFeedback.blockReason, no candidates
  error         status (default 500) with Google's error body; opts:
                status, error_status, message, retry_after
  stream_error  (streams) an error object after the first chunk
Every script takes delay, gate (gate_at: after which event, default 0),
truncate, stall (streams).

:countTokens takes {"contents"} or {"generateContentRequest": {"model":
"models/<the path's model>", "contents", ...}} (not both, as Google
refuses) and answers {"totalTokens": N, "promptTokensDetails"}, N the
words of every string of its contents, systemInstruction and tools
(families_http.count_words) plus 3. An "error" script makes it fail.

Conversations as Gemini checks them: a model turn with functionCall
parts must be followed by a turn with as many functionResponse parts,
and a functionResponse turn must follow a functionCall turn (else 400
INVALID_ARGUMENT with Google's message).

Authentication as Google checks it: x-goog-api-key must equal api_key
when the fake has one, else 400 INVALID_ARGUMENT / API_KEY_INVALID.

Run alone: python3 gemini_fake.py [port]
"""

import json
import re
import sys
import time

try:
    from .families_http import FakeBase, count_words
except ImportError:
    from families_http import FakeBase, count_words

PATH = re.compile(r"^/v1beta/models/([A-Za-z0-9._-]+):"
                  r"(generateContent|streamGenerateContent|"
                  r"batchEmbedContents|countTokens)$")

STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
          503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


SIGNATURE = "CiQB0e2Kb3fakeSig"


class GeminiFake(FakeBase):
    name = "gemini"

    def __init__(self, api_key=None, **kw):
        super().__init__(api_key=api_key, **kw)
        self.counter = 0

    def error(self, h, status, message, gstatus=None, retry_after=None,
              details=None):
        err = {"code": status, "message": message,
               "status": gstatus or STATUS.get(status, "UNKNOWN")}
        if details:
            err["details"] = details
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        self.send_json(h, status, {"error": err}, headers)

    def answer(self, script, model):
        """(candidates, usageMetadata, promptFeedback) of the script."""
        kind = script.kind
        text = script.get("text", "Hello from the Gemini fake.")
        usage = {"promptTokenCount": 30, "candidatesTokenCount": 10,
                 "totalTokenCount": 40,
                 "promptTokensDetails": [{"modality": "TEXT",
                                          "tokenCount": 30}]}
        finish = "STOP"
        if kind == "tools":
            parts = [
                {"text": "Two lookups are needed.", "thought": True},
                {"text": "Let me check both."},
                {"functionCall": {"name": "get_weather",
                                  "args": {"location": "Paris",
                                           "unit": "celsius"}},
                 "thoughtSignature": SIGNATURE},
                {"functionCall": {"name": "get_time",
                                  "args": {"tz": "Europe/Paris"}}},
            ]
            usage.update(candidatesTokenCount=20, thoughtsTokenCount=15,
                         totalTokenCount=65)
        elif kind == "thinking":
            parts = [{"text": "Let me reason it out.", "thought": True},
                     {"text": text}]
            usage.update(thoughtsTokenCount=25, totalTokenCount=65)
        elif kind == "cache":
            parts = [{"text": text}]
            usage.update(promptTokenCount=2048, cachedContentTokenCount=2000,
                         totalTokenCount=2058)
        elif kind == "max_tokens":
            parts = [{"text": "This answer is cut sh"}]
            finish = "MAX_TOKENS"
        elif kind == "safety":
            parts = []
            finish = "SAFETY"
        elif kind == "blocked":
            return [], {"promptTokenCount": 9, "totalTokenCount": 9}, \
                {"blockReason": "SAFETY"}
        else:
            parts = [{"text": text}]
        cand = {"content": {"role": "model", "parts": parts},
                "finishReason": finish, "index": 0,
                "safetyRatings": []}
        return [cand], usage, None

    @staticmethod
    def unsigned_call(req):
        """As Gemini thinking models check a follow-up turn: a functionCall
        the fake signed (get_weather) must come back with its
        thoughtSignature. Returns Gemini's message, or None."""
        for c in req.get("contents") or []:
            if not isinstance(c, dict) or c.get("role") != "model":
                continue
            for p in c.get("parts") or []:
                fc = p.get("functionCall") if isinstance(p, dict) else None
                if isinstance(fc, dict) and \
                        fc.get("name") == "get_weather" and \
                        p.get("thoughtSignature") != SIGNATURE:
                    return ("Function call is missing a thought_signature "
                            "in functionCall parts. This is required for "
                            "tools to work correctly.")
        return None

    @staticmethod
    def _parts(content, key):
        if not isinstance(content, dict):
            return 0
        return sum(1 for p in content.get("parts") or []
                   if isinstance(p, dict) and key in p)

    @classmethod
    def unpaired_calls(cls, req):
        """As Gemini checks function turns: each functionCall turn is
        answered by the next turn with as many functionResponse parts,
        and functionResponse parts only answer the turn before. Returns
        Google's message, or None."""
        contents = req.get("contents") or []
        for i, c in enumerate(contents):
            answers = cls._parts(c, "functionResponse")
            calls = cls._parts(contents[i - 1], "functionCall") \
                if i > 0 else 0
            if answers and not calls:
                return ("Please ensure that function response turn comes "
                        "immediately after a function call turn.")
            if calls and answers != calls:
                return ("Please ensure that the number of function "
                        "response parts is equal to the number of "
                        "function call parts of the function call turn.")
        return None

    def count_tokens(self, h, req, model):
        g = req.get("generateContentRequest")
        if g is not None and "contents" in req:
            self.error(h, 400, "contents and generateContentRequest are "
                       "mutually exclusive")
            return
        if g is not None and (not isinstance(g, dict) or
                              g.get("model") != "models/" + model):
            self.error(h, 400, "generateContentRequest.model must be "
                       "models/" + model)
            return
        doc = g if g is not None else req
        if not isinstance(doc.get("contents"), list) or not doc["contents"]:
            self.error(h, 400, "* CountTokensRequest.contents: contents is "
                       "not specified")
            return
        n = 3 + count_words([doc.get("contents"),
                             doc.get("systemInstruction"), doc.get("tools")])
        self.send_json(h, 200, {"totalTokens": n, "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": n}]})

    def handle(self, h, rec):
        path, _, query = rec.path.partition("?")
        m = PATH.match(path)
        if rec.method != "POST" or m is None:
            self.error(h, 404, "Method not found.")
            return
        model, method = m.group(1), m.group(2)
        if self.api_key is not None and \
                rec.headers.get("x-goog-api-key") != self.api_key:
            self.error(h, 400, "API key not valid. Please pass a valid API "
                       "key.", details=[{
                           "@type": "type.googleapis.com/google.rpc."
                                    "ErrorInfo",
                           "reason": "API_KEY_INVALID",
                           "domain": "googleapis.com"}])
            return
        req = rec.json
        if not isinstance(req, dict):
            self.error(h, 400, "Invalid JSON payload received.")
            return
        missing = self.unsigned_call(req) or self.unpaired_calls(req)
        if missing is not None:
            self.error(h, 400, missing, "INVALID_ARGUMENT")
            return
        script = self.next_script()
        if script.kind == "error":
            status = int(script.get("status", 500))
            self.error(h, status, script.get("message", "fake error"),
                       script.get("error_status"), script.get("retry_after"))
            return
        if method == "batchEmbedContents":
            self.embed(h, req)
            return
        if method == "countTokens":
            self.count_tokens(h, req, model)
            return
        if not isinstance(req.get("contents"), list) or not req["contents"]:
            self.error(h, 400, "* GenerateContentRequest.contents: contents "
                       "is not specified")
            return
        cands, usage, feedback = self.answer(script, model)
        self.counter += 1
        rid = "fakeResp%04dXz" % self.counter
        if method == "generateContent":
            doc = {"candidates": cands, "usageMetadata": usage,
                   "modelVersion": model, "responseId": rid}
            if feedback:
                doc = {"promptFeedback": feedback, "usageMetadata": usage,
                       "modelVersion": model, "responseId": rid}
            self.send_json(h, 200, doc)
            return
        if query != "alt=sse":
            self.error(h, 400, "this fake streams only with alt=sse")
            return
        self.start_stream(h)
        self.stream_events(h, self.frames(cands, usage, feedback, model,
                                          rid, script), script)

    def frames(self, cands, usage, feedback, model, rid, script):
        def frame(doc):
            return "data: %s\r\n\r\n" % json.dumps(doc)

        base = {"modelVersion": model, "responseId": rid}
        if feedback:
            return [frame(dict(base, promptFeedback=feedback,
                               usageMetadata=usage))]
        cand = cands[0]
        out = []
        parts = cand["content"]["parts"]
        # text parts go out in pieces, function calls whole
        chunks = []
        for p in parts:
            if "text" in p:
                for piece in self.pieces(p["text"], 2):
                    chunks.append([dict(p, text=piece)])
            else:
                chunks.append([p])
        if not chunks:
            chunks = [[]]
        partial = {"promptTokenCount": usage["promptTokenCount"],
                   "totalTokenCount": usage["promptTokenCount"]}
        if "cachedContentTokenCount" in usage:
            partial["cachedContentTokenCount"] = \
                usage["cachedContentTokenCount"]
        for n, ps in enumerate(chunks):
            c = {"content": {"role": "model", "parts": ps}, "index": 0}
            last = n == len(chunks) - 1
            if last:
                c["finishReason"] = cand["finishReason"]
            out.append(frame(dict(base, candidates=[c],
                                  usageMetadata=usage if last else partial)))
            if script.kind == "stream_error" and n == 0:
                out.append(frame({"error": {
                    "code": 503, "message": "The model is overloaded.",
                    "status": "UNAVAILABLE"}}))
                return out
        return out

    def embed(self, h, req):
        reqs = req.get("requests")
        if not isinstance(reqs, list) or not reqs:
            self.error(h, 400, "requests is required")
            return
        out = []
        for r in reqs:
            text = "".join(p.get("text", "") for p in
                           r.get("content", {}).get("parts", []))
            dims = int(r.get("outputDimensionality") or 4)
            # deterministic values from the text
            vals = [round(((sum(map(ord, text)) * (i + 1)) % 1000) / 1000.0,
                          3) for i in range(dims)]
            out.append({"values": vals})
        self.send_json(h, 200, {"embeddings": out})


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    f = GeminiFake(port=port)
    print(f.url, flush=True)
    while True:
        time.sleep(3600)
