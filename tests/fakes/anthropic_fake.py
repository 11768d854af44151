"""A fake Anthropic Messages API (POST /v1/messages) for the integration
tests: the real wire format over HTTP/1.1 on 127.0.0.1, whole answers
and SSE streams built from the same content, so a streamed answer and a
whole one say the same thing. See families_http.py for the common API
(push, requests, aborted, close).

Scripts (fake.push(kind, **opts)):
  text          one text block (opts: text)
  tools         thinking, text, then two parallel tool_use blocks
                (get_weather Paris, get_time Europe/Paris); tool_use stop
  thinking      thinking (with signature), redacted_thinking, text
  cache         text, with cache reads and writes in usage
  stop_sequence text cut at a stop sequence (stop_sequence "END")
  max_tokens    text cut by max_tokens
  refusal       stop_reason refusal
  error         status (default 500) with Anthropic's error body; opts:
                status, error_type, message, retry_after
  stream_error  (streams) an error event after the first text delta
  start_error   (streams) message_start, ping, then an overloaded_error
                event: no content at all
  ping          text with ping events between deltas
Every script takes delay, gate (gate_at: after which event, default 0),
truncate, stall (streams).

POST /v1/messages/count_tokens answers {"input_tokens": N}, N the words
of every string of the request's messages, system and tools
(families_http.count_words) plus 3; like Anthropic it refuses fields
other than model, messages, system, tools, tool_choice and thinking
("max_tokens: Extra inputs are not permitted"). An "error" script
makes it fail as /v1/messages would.

Conversations as Anthropic checks them: every tool_use block of an
assistant turn needs its tool_result in the next (user) turn, and every
tool_result a tool_use in the turn before (else 400
invalid_request_error with Anthropic's message), so a translator that
loses a call or its result on the way is caught.

Authentication as Anthropic checks it: x-api-key must equal api_key
(when the fake has one; else 401 authentication_error) and
anthropic-version must be present (else 400).

Run alone: python3 anthropic_fake.py [port]
"""

import json
import sys
import time

try:
    from .families_http import FakeBase, count_words
except ImportError:  # run as a script, or imported with tests/fakes on path
    from families_http import FakeBase, count_words

COUNT_FIELDS = {"model", "messages", "system", "tools", "tool_choice",
                "thinking"}

MODEL_SUFFIX = "-20250929"

USAGE = {"input_tokens": 25, "output_tokens": 12,
         "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def _error_type(status):
    return {400: "invalid_request_error", 401: "authentication_error",
            403: "permission_error", 404: "not_found_error",
            413: "request_too_large", 429: "rate_limit_error",
            529: "overloaded_error"}.get(status, "api_error")


class AnthropicFake(FakeBase):
    name = "anthropic"

    def __init__(self, api_key=None, **kw):
        super().__init__(api_key=api_key, **kw)
        self.counter = 0
        self.signed = {}    # signature -> the thinking text it signs

    # the content of each script, as Anthropic content blocks
    def answer(self, script, req):
        kind = script.kind
        text = script.get("text", "Hello from the Anthropic fake.")
        usage = dict(USAGE)
        stop, stop_seq = "end_turn", None
        if kind == "tools":
            blocks = [
                {"type": "thinking", "thinking": "Two lookups are needed.",
                 "signature": "EqQBCgIYAhIMfakeSignature"},
                {"type": "text", "text": "Let me check both."},
                {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
                 "input": {"location": "Paris", "unit": "celsius"}},
                {"type": "tool_use", "id": "toolu_01B", "name": "get_time",
                 "input": {"tz": "Europe/Paris"}},
            ]
            stop = "tool_use"
            usage["output_tokens"] = 89
        elif kind == "thinking":
            blocks = [
                {"type": "thinking", "thinking": "Let me reason it out.",
                 "signature": "EqQBsig2"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                {"type": "text", "text": text},
            ]
        elif kind == "cache":
            blocks = [{"type": "text", "text": text}]
            usage.update(input_tokens=21, cache_creation_input_tokens=188,
                         cache_read_input_tokens=1800)
        elif kind == "stop_sequence":
            blocks = [{"type": "text", "text": "one two three "}]
            stop, stop_seq = "stop_sequence", "END"
        elif kind == "max_tokens":
            blocks = [{"type": "text", "text": "This answer is cut sh"}]
            stop = "max_tokens"
            usage["output_tokens"] = int((req or {}).get("max_tokens") or 5)
        elif kind == "refusal":
            blocks = [{"type": "text", "text": "I can't help with that."}]
            stop = "refusal"
        else:
            blocks = [{"type": "text", "text": text}]
        model = str((req or {}).get("model") or "claude")
        for b in blocks:
            if b["type"] == "thinking":
                self.signed[b["signature"]] = b["thinking"]
        self.counter += 1
        msg = {"id": "msg_fake%04d" % self.counter, "type": "message",
               "role": "assistant", "model": model + MODEL_SUFFIX,
               "content": blocks, "stop_reason": stop,
               "stop_sequence": stop_seq, "usage": usage}
        return msg

    def bad_thinking(self, req):
        """As Anthropic checks replayed thinking: a thinking block's
        signature must be one the fake gave, for exactly that text."""
        for i, m in enumerate(req.get("messages") or []):
            if not isinstance(m, dict) or m.get("role") != "assistant" or \
                    not isinstance(m.get("content"), list):
                continue
            for j, b in enumerate(m["content"]):
                if not isinstance(b, dict) or b.get("type") != "thinking":
                    continue
                sig, text = b.get("signature"), b.get("thinking")
                if not text or self.signed.get(sig) != text:
                    return ("messages.%d.content.%d: Invalid `signature` "
                            "in `thinking` block" % (i, j))
        return None

    @staticmethod
    def _block_ids(msg, role, btype, key):
        if not isinstance(msg, dict) or msg.get("role") != role or \
                not isinstance(msg.get("content"), list):
            return []
        return [b.get(key) for b in msg["content"]
                if isinstance(b, dict) and b.get("type") == btype]

    def bad_tool_pairs(self, req):
        """As Anthropic checks tool turns: a tool_use needs its
        tool_result in the next message, a tool_result its tool_use in
        the previous one. Returns Anthropic's message, or None."""
        msgs = req.get("messages") or []
        for i, m in enumerate(msgs):
            prev = self._block_ids(msgs[i - 1], "assistant", "tool_use",
                                   "id") if i > 0 else []
            for j, r in enumerate(self._block_ids(m, "user", "tool_result",
                                                  "tool_use_id")):
                if r not in prev:
                    return ("messages.%d.content.%d: unexpected "
                            "`tool_use_id` found in `tool_result` blocks: "
                            "%s. Each `tool_result` block must have a "
                            "corresponding `tool_use` block in the "
                            "previous message." % (i, j, r))
            uses = self._block_ids(m, "assistant", "tool_use", "id")
            if not uses or i + 1 == len(msgs):
                continue
            answered = self._block_ids(msgs[i + 1], "user", "tool_result",
                                       "tool_use_id")
            missing = [u for u in uses if u not in answered]
            if missing:
                return ("messages.%d: `tool_use` ids were found without "
                        "`tool_result` blocks immediately after: %s. Each "
                        "`tool_use` block must have a corresponding "
                        "`tool_result` block in the next message." %
                        (i, ", ".join(missing)))
        return None

    def error(self, h, script):
        status = int(script.get("status", 500))
        etype = script.get("error_type") or _error_type(status)
        headers = {}
        if script.get("retry_after") is not None:
            headers["retry-after"] = str(script.get("retry_after"))
        self.send_json(h, status, {"type": "error", "error": {
            "type": etype,
            "message": script.get("message", "fake %s" % etype)}},
            headers)

    def handle(self, h, rec):
        path = rec.path.split("?")[0]
        if rec.method != "POST" or path not in (
                "/v1/messages", "/v1/messages/count_tokens"):
            self.send_json(h, 404, {"type": "error", "error": {
                "type": "not_found_error", "message": "Not found"}})
            return
        if self.api_key is not None and \
                rec.headers.get("x-api-key") != self.api_key:
            self.send_json(h, 401, {"type": "error", "error": {
                "type": "authentication_error",
                "message": "invalid x-api-key"}})
            return
        if "anthropic-version" not in rec.headers:
            self.send_json(h, 400, {"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "anthropic-version: header is required"}})
            return
        req = rec.json
        if path.endswith("/count_tokens"):
            self.count_tokens(h, req)
            return
        if not isinstance(req, dict) or "max_tokens" not in req or \
                not isinstance(req.get("messages"), list):
            self.send_json(h, 400, {"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "max_tokens: Field required"}})
            return
        bad = self.bad_thinking(req) or self.bad_tool_pairs(req)
        if bad is not None:
            self.send_json(h, 400, {"type": "error", "error": {
                "type": "invalid_request_error", "message": bad}})
            return
        script = self.next_script()
        if script.kind == "error":
            self.error(h, script)
            return
        msg = self.answer(script, req)
        if not req.get("stream"):
            self.send_json(h, 200, msg, {"request-id": "req_fake"})
            return
        self.start_stream(h, {"request-id": "req_fake"})
        if script.kind == "start_error":
            self.stream_events(h, self.start_error_frames(msg), script)
            return
        self.stream_events(h, self.frames(msg, script), script)

    def count_tokens(self, h, req):
        if not isinstance(req, dict) or not isinstance(
                req.get("messages"), list) or "model" not in req:
            self.send_json(h, 400, {"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "messages: Field required"}})
            return
        for k in sorted(req):
            if k not in COUNT_FIELDS:
                self.send_json(h, 400, {"type": "error", "error": {
                    "type": "invalid_request_error",
                    "message": "%s: Extra inputs are not permitted" % k}})
                return
        script = self.next_script()
        if script.kind == "error":
            self.error(h, script)
            return
        n = 3 + count_words([req.get("messages"), req.get("system"),
                             req.get("tools")])
        self.send_json(h, 200, {"input_tokens": n})

    def start_error_frames(self, msg):
        """message_start, a ping, then an overloaded_error event: the
        stream failed before any content."""
        start = dict(msg, content=[], stop_reason=None, stop_sequence=None,
                     usage=dict(msg["usage"], output_tokens=1))
        return [self.frame(e) for e in (
            {"type": "message_start", "message": start},
            {"type": "ping"},
            {"type": "error", "error": {"type": "overloaded_error",
                                        "message": "Overloaded"}})]

    @staticmethod
    def frame(ev):
        return "event: %s\ndata: %s\n\n" % (ev["type"], json.dumps(ev))

    def frames(self, msg, script):
        """The SSE events of msg, as Anthropic streams it."""
        start = dict(msg, content=[], stop_reason=None, stop_sequence=None,
                     usage=dict(msg["usage"], output_tokens=1))
        evs = [{"type": "message_start", "message": start}]
        for i, b in enumerate(msg["content"]):
            t = b["type"]
            if t == "text":
                evs.append({"type": "content_block_start", "index": i,
                            "content_block": {"type": "text", "text": ""}})
                for n, p in enumerate(self.pieces(b["text"])):
                    evs.append({"type": "content_block_delta", "index": i,
                                "delta": {"type": "text_delta", "text": p}})
                    if script.kind == "ping":
                        evs.append({"type": "ping"})
                    if script.kind == "stream_error" and n == 0:
                        evs.append({"type": "error", "error": {
                            "type": "overloaded_error",
                            "message": "Overloaded"}})
                        return [self.frame(e) for e in evs]
            elif t == "thinking":
                evs.append({"type": "content_block_start", "index": i,
                            "content_block": {"type": "thinking",
                                              "thinking": "",
                                              "signature": ""}})
                for p in self.pieces(b["thinking"], 2):
                    evs.append({"type": "content_block_delta", "index": i,
                                "delta": {"type": "thinking_delta",
                                          "thinking": p}})
                evs.append({"type": "content_block_delta", "index": i,
                            "delta": {"type": "signature_delta",
                                      "signature": b["signature"]}})
            elif t == "redacted_thinking":
                evs.append({"type": "content_block_start", "index": i,
                            "content_block": b})
            elif t == "tool_use":
                evs.append({"type": "content_block_start", "index": i,
                            "content_block": dict(b, input={})})
                js = json.dumps(b["input"])
                evs.append({"type": "content_block_delta", "index": i,
                            "delta": {"type": "input_json_delta",
                                      "partial_json": ""}})
                for p in self.pieces(js, 3):
                    evs.append({"type": "content_block_delta", "index": i,
                                "delta": {"type": "input_json_delta",
                                          "partial_json": p}})
            evs.append({"type": "content_block_stop", "index": i})
            if i == 0:
                evs.append({"type": "ping"})
        evs.append({"type": "message_delta",
                    "delta": {"stop_reason": msg["stop_reason"],
                              "stop_sequence": msg["stop_sequence"]},
                    "usage": {"output_tokens": msg["usage"]["output_tokens"]}})
        evs.append({"type": "message_stop"})
        return [self.frame(e) for e in evs]


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    f = AnthropicFake(port=port)
    print(f.url, flush=True)
    while True:
        time.sleep(3600)
