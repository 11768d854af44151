"""A fake OpenAI-compatible upstream for the router's tests.

It speaks the real wire format over HTTP/1.1 on 127.0.0.1 (optionally
HTTPS with a self-signed certificate): POST /v1/chat/completions
(whole answers and text/event-stream in chunked encoding, with the usage
chunk when stream_options.include_usage) and POST /v1/embeddings. Tests
reach it only through the router's configuration (a provider base URL).

Behaviour is scripted per upstream model name:

    fake.script("m", [FakeReply(...), FakeReply(status=429, ...)])

Each request for model "m" takes the next reply from its queue; an empty
queue gives the default answer ("fake: <last user text>"). A FakeReply
describes one answer, from which both the whole and the streamed forms
are made, so a test can compare them:

    content, tool_calls, finish_reason, usage   the answer
    pieces          how content is split into stream events (default: words)
    status, body, headers                        an error answer instead
    delay           seconds before the status line
    event_delay     seconds between stream events
    gate            stream: after the first event, wait until the test
                    calls fake.open_gate() (proves incremental relaying);
                    set reply.gate_at = k to wait after event k instead
    behaviour       "malformed" (bad JSON / bad event), "truncated" (the
                    stream stops without [DONE] and the connection
                    closes), "stall" (stream: stop sending after `after`
                    events, keep the connection open), "error_event" (an
                    error event after `after` events), "hang" (never
                    answer), "drop" (close the connection at once),
                    "reset" (stream: a TCP RST after `after` events),
                    "garbage" (stream: bytes that are no chunk after
                    `after` events, then close), "binary_event" (stream:
                    an event of NUL and invalid UTF-8 after `after`
                    events, then the stream goes on)

Azure OpenAI mode (fake.azure = {"key": K, "api_version": V,
"deployments": [names]}): requests must go to
/openai/deployments/<name>/chat/completions?api-version=V with the key
in an api-key header, as Azure wants them; a wrong or missing key is
Azure's 401, a missing api-version or an unknown deployment its 404,
and the deployment, not the body's model, picks the script.

Models named o1*, o3* or o4* refuse the legacy max_tokens field with
OpenAI's 400 unsupported_parameter, as the o-series does.

Conversations as OpenAI checks them: an assistant message with
tool_calls must be followed by a tool message for each tool_call_id,
and a tool message must answer such a call (else OpenAI's 400
invalid_request_error, param messages.[i].role).

Every request is recorded (fake.requests: path, headers, JSON body,
time) and, for each connection, when the fake saw it close
(fake.closed_at[conn_id]; requests carry their conn_id).

Standalone (for make bench and manual checks):
    python3 tests/fakes/openai_fake.py --port 9999 [--tls CERTDIR]
"""

import argparse
import base64
import datetime
import ipaddress
import json
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeReply:
    def __init__(self, content=None, tool_calls=None, finish_reason=None,
                 usage=None, pieces=None, status=200, body=None,
                 headers=None, delay=0.0, event_delay=0.0, gate=False,
                 behaviour=None, after=1, n=1):
        self.content = content
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.usage = usage
        self.pieces = pieces
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay
        self.event_delay = event_delay
        self.gate = gate
        self.behaviour = behaviour
        self.after = after
        self.n = n


def _last_user_text(req):
    for m in reversed(req.get("messages") or []):
        c = m.get("content")
        if isinstance(c, str) and c.strip():
            return c
        if isinstance(c, list):
            t = " ".join(p.get("text", "") for p in c
                         if isinstance(p, dict) and p.get("type") == "text")
            if t.strip():
                return t
    return ""


def _words(s):
    return len(s.split())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1.0"

    def log_message(self, fmt, *args):
        pass

    # --- plumbing ----------------------------------------------------
    def setup(self):
        super().setup()
        fake = self.server.fake
        with fake.lock:
            fake.next_conn += 1
            self.conn_id = fake.next_conn

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fake._closed(self.conn_id)

    def _send_json(self, status, obj, headers=None):
        data = obj if isinstance(obj, (bytes, bytearray)) else \
            json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, obj):
        self._chunk("data: %s\n\n" % (obj if isinstance(obj, str)
                                      else json.dumps(obj)))

    def _wait_closed(self, limit=60.0):
        """Blocks until the client closes (or limit); records it."""
        sock = self.connection
        end = time.time() + limit
        while time.time() < end:
            r, _, _ = select.select([sock], [], [], 0.02)
            if r:
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        break
                except (OSError, ValueError):
                    break
        self.server.fake._closed(self.conn_id)
        self.close_connection = True

    # --- requests ----------------------------------------------------
    def do_POST(self):
        fake = self.server.fake
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        rec = {"path": self.path, "headers": dict(self.headers.items()),
               "body": body, "raw": raw, "t": time.time(),
               "conn_id": self.conn_id}
        with fake.lock:
            fake.requests.append(rec)
        model = (body or {}).get("model") if isinstance(body, dict) else None
        path = urllib.parse.urlsplit(self.path).path
        if fake.azure is not None:
            model = self._azure_deployment(fake.azure)
            if model is None:
                return
        reply = fake._next(model)

        if fake.require_key is not None and self.headers.get(
                "authorization") != "Bearer " + fake.require_key:
            self._send_json(401, {"error": {
                "message": "Incorrect API key provided: %s" %
                (self.headers.get("authorization") or "")[7:],
                "type": "invalid_request_error",
                "code": "invalid_api_key"}})
            return

        if self._refuses_max_tokens(body) or self._unpaired_tools(body):
            return
        if reply.behaviour == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.behaviour == "hang":
            self._wait_closed(limit=120)
            return

        if path.endswith("/embeddings"):
            return self._embeddings(body, reply)
        if not path.endswith("/chat/completions"):
            return self._send_json(404, {"error": {"message": "no route"}})

        if reply.status != 200:
            b = reply.body if reply.body is not None else {
                "error": {"message": "scripted %d" % reply.status,
                          "type": "server_error"}}
            if isinstance(b, str):
                b = b.encode()
            return self._send_json(reply.status, b, reply.headers)

        if body.get("stream"):
            return self._stream(body, reply)
        return self._whole(body, reply)

    def _azure_deployment(self, az):
        """The deployment an Azure-shaped request names, or None once
        Azure's refusal was sent."""
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = u.path.split("/")
        if self.headers.get("api-key") != az["key"]:
            self._send_json(401, {"error": {"code": "401", "message":
                "Access denied due to invalid subscription key or wrong "
                "API endpoint."}})
            return None
        if q.get("api-version") != [az["api_version"]]:
            self._send_json(404, {"error": {"code": "404",
                                            "message": "Resource not found"}})
            return None
        if len(parts) < 5 or parts[1:3] != ["openai", "deployments"] or \
                urllib.parse.unquote(parts[3]) not in az["deployments"]:
            self._send_json(404, {"error": {"code": "DeploymentNotFound",
                "message": "The API deployment for this resource does "
                "not exist."}})
            return None
        return urllib.parse.unquote(parts[3])

    def _refuses_max_tokens(self, body):
        """As OpenAI's o-series and newer models: the legacy max_tokens
        is refused (model names starting with o1, o3 or o4)."""
        if not isinstance(body, dict) or "max_tokens" not in body:
            return False
        model = str(body.get("model") or "")
        if not model.startswith(("o1", "o3", "o4")):
            return False
        self._send_json(400, {"error": {
            "message": "Unsupported parameter: 'max_tokens' is not "
                       "supported with this model. Use "
                       "'max_completion_tokens' instead.",
            "type": "invalid_request_error", "param": "max_tokens",
            "code": "unsupported_parameter"}})
        return True

    def _unpaired_tools(self, body):
        """As OpenAI checks a chat's tool turns: each tool_call_id of an
        assistant message answered by the tool messages right after it,
        and no tool message without such a call. True once the 400 was
        sent."""
        if not isinstance(body, dict) or \
                not isinstance(body.get("messages"), list):
            return False
        msg, at, pending = None, 0, set()
        for i, m in enumerate(body["messages"]):
            if not isinstance(m, dict):
                continue
            if m.get("role") == "tool":
                if m.get("tool_call_id") not in pending:
                    msg = ("Invalid parameter: messages with role 'tool' "
                           "must be a response to a preceeding message "
                           "with 'tool_calls'.")
                    at = i
                    break
                pending.discard(m.get("tool_call_id"))
                continue
            if pending:
                break
            at = i
            pending = {tc.get("id") for tc in m.get("tool_calls") or []
                       if isinstance(tc, dict)}
        if msg is None and pending:
            msg = ("An assistant message with 'tool_calls' must be "
                   "followed by tool messages responding to each "
                   "'tool_call_id'. The following tool_call_ids did not "
                   "have response messages: %s" %
                   ", ".join(sorted(pending)))
        if msg is None:
            return False
        self._send_json(400, {"error": {
            "message": msg, "type": "invalid_request_error",
            "param": "messages.[%d].role" % at, "code": None}})
        return True

    def _answer(self, req, reply):
        content = reply.content
        if content is None and reply.tool_calls is None:
            content = "fake: " + _last_user_text(req)
        finish = reply.finish_reason or (
            "tool_calls" if reply.tool_calls else "stop")
        usage = reply.usage or {
            "prompt_tokens": sum(_words(json.dumps(m.get("content")))
                                 for m in req.get("messages") or []),
            "completion_tokens": _words(content or "") + len(
                json.dumps(reply.tool_calls or [])) // 8,
        }
        usage = dict(usage)
        usage.setdefault("total_tokens", usage.get("prompt_tokens", 0) +
                         usage.get("completion_tokens", 0))
        return content, finish, usage

    def _whole(self, req, reply):
        if reply.behaviour == "malformed":
            return self._send_json(200, b'{"id": "x", "choices": [')
        content, finish, usage = self._answer(req, reply)
        msg = {"role": "assistant", "content": content, "refusal": None}
        if reply.tool_calls:
            msg["tool_calls"] = reply.tool_calls
        choices = [{"index": i, "message": msg, "logprobs": None,
                    "finish_reason": finish} for i in range(reply.n)]
        self._send_json(200, {
            "id": "chatcmpl-fake-%d" % self.conn_id,
            "object": "chat.completion", "created": 1700000000,
            "model": req.get("model"), "choices": choices,
            "usage": usage, "system_fingerprint": "fp_fake"})

    def _stream(self, req, reply):
        fake = self.server.fake
        content, finish, usage = self._answer(req, reply)
        base = {"id": "chatcmpl-fake-%d" % self.conn_id,
                "object": "chat.completion.chunk", "created": 1700000000,
                "model": req.get("model"), "system_fingerprint": "fp_fake"}

        def chunk(delta, fr=None, choice=0):
            d = dict(base)
            d["choices"] = [{"index": choice, "delta": delta,
                             "logprobs": None, "finish_reason": fr}]
            return d

        events = []
        for i in range(reply.n):
            # As OpenAI: "" before text, null before tool calls.
            events.append(chunk({"role": "assistant",
                                 "content": "" if content else None},
                                choice=i))
            if content:
                pieces = reply.pieces
                if pieces is None:
                    ws = content.split(" ")
                    pieces = [ws[0]] + [" " + w for w in ws[1:]]
                for p in pieces:
                    events.append(chunk({"content": p}, choice=i))
            for k, tc in enumerate(reply.tool_calls or []):
                args = tc["function"]["arguments"]
                events.append(chunk({"tool_calls": [{
                    "index": k, "id": tc["id"], "type": "function",
                    "function": {"name": tc["function"]["name"],
                                 "arguments": ""}}]}, choice=i))
                half = len(args) // 2
                for part in (args[:half], args[half:]):
                    events.append(chunk({"tool_calls": [{
                        "index": k, "function": {"arguments": part}}]},
                        choice=i))
            events.append(chunk({}, finish, choice=i))
        so = req.get("stream_options") or {}
        if so.get("include_usage"):
            u = dict(base)
            u["choices"] = []
            u["usage"] = usage
            events.append(u)

        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for i, ev in enumerate(events):
                if i == reply.after and self._fault(reply):
                    return
                if reply.behaviour == "stall" and i == reply.after:
                    self._wait_closed(limit=120)
                    return
                if reply.behaviour == "truncated" and i == reply.after:
                    self.close_connection = True
                    return
                if reply.behaviour == "error_event" and i == reply.after:
                    self._event({"error": {"message": "overloaded",
                                           "type": "server_error"}})
                    self._chunk(b"")
                    return
                if reply.behaviour == "malformed" and i == reply.after:
                    self._event("{\"choices\": [ oops")
                    self._event("[DONE]")
                    self._chunk(b"")
                    return
                self._event(ev)
                if i == getattr(reply, "gate_at", 0) and reply.gate:
                    fake.gate_waited = True
                    fake.gate.wait(10)
                if reply.event_delay:
                    time.sleep(reply.event_delay)
            self._event("[DONE]")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.server.fake._closed(self.conn_id)
            self.close_connection = True

    def _fault(self, reply):
        """The network faults of a stream ("reset", "garbage",
        "binary_event"); True when the stream ends here."""
        if reply.behaviour == "reset":
            # SO_LINGER 0: close() sends an RST instead of a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            os.close(self.connection.detach())
            self.close_connection = True
            return True
        if reply.behaviour == "garbage":
            self.wfile.write(b"\x00\xff\xfe\x16\x03\x01 not a chunk "
                             b"\xc3\x28\r\n\r\nzz\r\n")
            self.wfile.flush()
            self.close_connection = True
            return True
        if reply.behaviour == "binary_event":
            self._chunk(b"data: \x00\xff\xfe\xc3\x28{\"x\x00\":1}\n\n")
        return False

    def _embeddings(self, req, reply):
        if reply.status != 200:
            return self._send_json(reply.status, reply.body or {
                "error": {"message": "scripted"}}, reply.headers)
        inp = req.get("input")
        if isinstance(inp, str):
            inp = [inp]
        data = [{"object": "embedding", "index": i,
                 "embedding": [0.5, -0.25, float(len(str(x)))]}
                for i, x in enumerate(inp)]
        if req.get("encoding_format") == "base64":
            for d in data:
                d["embedding"] = base64.b64encode(struct.pack(
                    "<%df" % len(d["embedding"]), *d["embedding"])).decode()
        self._send_json(200, {
            "object": "list", "data": data, "model": req.get("model"),
            "usage": {"prompt_tokens": sum(_words(str(x)) for x in inp),
                      "total_tokens": sum(_words(str(x)) for x in inp)}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_cert(directory, names=("localhost",)):
    """A self-signed CA-capable certificate for names (+ 127.0.0.1)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "tollgate test upstream")])
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(n) for n in names]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           True)
            .sign(key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    cpath = os.path.join(directory, "cert.pem")
    kpath = os.path.join(directory, "key.pem")
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kpath, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(directory, 0o755)
    os.chmod(cpath, 0o644)
    return cpath, kpath


class FakeOpenAI:
    def __init__(self, tls=None, port=0, host="127.0.0.1"):
        """tls: (certfile, keyfile) to serve HTTPS."""
        self.lock = threading.Lock()
        self.requests = []
        self.closed_at = {}
        self.scripts = {}
        self.next_conn = 0
        self.require_key = None
        self.azure = None
        self.gate = threading.Event()
        self.gate_waited = False
        self.httpd = _Server((host, port), Handler)
        self.httpd.fake = self
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = None

    def base_url(self, host="127.0.0.1"):
        return "%s://%s:%d/v1" % (self.scheme, host, self.port)

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, model, replies):
        with self.lock:
            self.scripts.setdefault(model, []).extend(replies)

    def open_gate(self):
        self.gate.set()

    def _next(self, model):
        with self.lock:
            q = self.scripts.get(model)
            if q:
                return q.pop(0)
        return FakeReply()

    def _closed(self, conn_id):
        with self.lock:
            self.closed_at.setdefault(conn_id, time.time())

    def for_model(self, model):
        with self.lock:
            return [r for r in self.requests
                    if isinstance(r["body"], dict) and
                    r["body"].get("model") == model]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=9999)
    ap.add_argument("--tls", help="directory for a self-signed cert")
    args = ap.parse_args()
    tls = make_cert(args.tls) if args.tls else None
    fake = FakeOpenAI(tls=tls, port=args.port)
    print("fake openai on %s" % fake.base_url(), flush=True)
    try:
        fake.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
