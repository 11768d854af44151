"""Shared plumbing of the anthropic and gemini fakes: a threaded HTTP/1.1
server on 127.0.0.1 (keep-alive; chunked transfer for streams, as the
real APIs send them), a queue of scripted answers, and a record of every
request received.

A fake is used like this (the same for both):

    fake = AnthropicFake(api_key="sk-ant-test")     # starts listening
    fake.url                                        # base URL for the env
    fake.push("tools", delay=0.05)                  # next answer's script
    ... call tollgate ...
    fake.requests[-1].json                          # what tollgate sent
    fake.close()

Scripted answers are consumed in order; with the queue empty the
default script ("text") answers. Options every script understands:

    status=429, retry_after="2"   an error answer in the provider's shape
    error_type="overloaded_error" (anthropic) / error_status (gemini)
    delay=0.05                    seconds between stream events
    gate=threading.Event()        after the first stream event, wait for
                                  it (timeout 10 s) before going on
    gate_at=2                     ... after that event instead of the first
    truncate=True                 close the connection mid-stream
    stall=5                       stop sending for N seconds mid-stream
    text="..."                    the answer text

A client that goes away mid-stream is noticed on the next write:
fake.aborted (a threading.Event) is set, and fake.abort_times records
when.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def count_words(doc):
    """The fakes' tokenizer for their count endpoints: the words of
    every string under doc (keys excluded), so tests can predict it."""
    if isinstance(doc, str):
        return len(doc.split())
    if isinstance(doc, list):
        return sum(count_words(x) for x in doc)
    if isinstance(doc, dict):
        return sum(count_words(v) for v in doc.values())
    return 0


class Recorded:
    """One request as the fake received it."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None
        self.time = time.time()

    def __repr__(self):
        return "<%s %s %s>" % (self.method, self.path, self.body[:200])


class Script:
    def __init__(self, kind, **opts):
        self.kind = kind
        self.opts = opts

    def get(self, k, default=None):
        return self.opts.get(k, default)


class ClientGone(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeBase:
    """Subclasses implement handle(handler, recorded) -> None."""

    name = "fake"

    def __init__(self, api_key=None, host="127.0.0.1", port=0):
        self.api_key = api_key
        self.requests = []
        self.aborted = threading.Event()
        self.abort_times = []
        self._queue = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _serve(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace") \
                    if n else ""
                rec = Recorded(self.command, self.path, self.headers, body)
                with fake._lock:
                    fake.requests.append(rec)
                try:
                    fake.handle(self, rec)
                except (ClientGone, BrokenPipeError, ConnectionResetError):
                    fake._gone()
                    self.close_connection = True

            do_POST = _serve
            do_GET = _serve

        self._server = _Server((host, port), Handler)
        self.port = self._server.server_address[1]
        self.url = "http://%s:%d" % (host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)
        self._thread.start()

    # scripting
    def push(self, kind, **opts):
        with self._lock:
            self._queue.append(Script(kind, **opts))

    def next_script(self):
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
        return Script("text")

    def last(self):
        with self._lock:
            return self.requests[-1] if self.requests else None

    def _gone(self):
        self.abort_times.append(time.time())
        self.aborted.set()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # answers
    @staticmethod
    def send_json(h, status, doc, headers=None):
        data = json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    @staticmethod
    def start_stream(h, headers=None):
        h.send_response(200)
        h.send_header("content-type", "text/event-stream; charset=utf-8")
        h.send_header("cache-control", "no-cache")
        h.send_header("transfer-encoding", "chunked")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.flush()

    @staticmethod
    def send_chunk(h, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, socket.error):
            raise ClientGone()

    @staticmethod
    def end_stream(h):
        try:
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, socket.error):
            raise ClientGone()

    @staticmethod
    def cut(h):
        """Close the connection without ending the chunked body."""
        h.close_connection = True
        try:
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stream_events(self, h, frames, script):
        """Send SSE frames (already framed text) with the script's pacing;
        a client that left is detected by the writes (ClientGone)."""
        delay = float(script.get("delay", 0) or 0)
        gate = script.get("gate")
        stall = float(script.get("stall", 0) or 0)
        truncate = script.get("truncate", False)
        for i, frame in enumerate(frames):
            if truncate and i == len(frames) // 2:
                # half an event, then the connection drops
                self.send_chunk(h, frame[: len(frame) // 2])
                self.cut(h)
                return
            self.send_chunk(h, frame)
            if i == script.get("gate_at", 0) and gate is not None:
                gate.wait(10)
            if stall and i == len(frames) // 2:
                end = time.time() + stall
                while time.time() < end:
                    time.sleep(0.1)
                    # a keepalive comment would hide the stall: send none
            elif delay:
                time.sleep(delay)
        self.end_stream(h)

    @staticmethod
    def pieces(text, n=3):
        """Split text into about n pieces (at least one)."""
        if not text:
            return [text]
        size = max(1, (len(text) + n - 1) // n)
        return [text[i:i + size] for i in range(0, len(text), size)]
