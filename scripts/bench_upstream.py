#!/usr/bin/python3
"""The bench's slow and streaming fake OpenAI upstream (scripts/bench.py
starts it; nginx serves the fast one).

  POST /slow/...    the fixed chat.completion of the fast upstream, sent
                    SLOW_MS (50) milliseconds after the request arrived;
  POST /stream/...  a chat.completion.chunk SSE answer: CHUNKS (20) content
                    events, the first at once and then one every CHUNK_MS
                    (10) milliseconds, then a finish_reason event, a usage
                    event and "data: [DONE]", in a chunked HTTP/1.1 body.

Anything else is a 404. Connections are kept alive, one request at a time
each (no pipelining); request bodies are read by Content-Length and
otherwise ignored. One asyncio loop of plain protocols and timers, so a
single process holds a thousand concurrent streams.

Usage: bench_upstream.py PORT
"""

import asyncio
import json
import sys

SLOW_MS = 50
CHUNKS = 20
CHUNK_MS = 10

ANSWER = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant",
                             "content": "Hello from the bench upstream."}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7,
              "total_tokens": 19},
}).encode()

SLOW_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(ANSWER)) + ANSWER

STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
               b"\r\n")

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def _event(choice_delta, finish=None, usage=None):
    obj = {"id": "chatcmpl-bench", "object": "chat.completion.chunk",
           "created": 1, "model": "m", "choices": []}
    if choice_delta is not None:
        obj["choices"] = [{"index": 0, "delta": choice_delta,
                           "finish_reason": finish}]
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _chunk(data):
    """One chunk of a chunked HTTP body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


# The events of one stream, as HTTP chunks: the first carries the role and
# the first word, so the first content event is the first event.
EVENTS = ([_chunk(_event({"role": "assistant", "content": "w0"}))] +
          [_chunk(_event({"content": " w%d" % i}))
           for i in range(1, CHUNKS)])
TAIL = (_chunk(_event({}, finish="stop")) +
        _chunk(_event(None, usage={"prompt_tokens": 12,
                                   "completion_tokens": CHUNKS,
                                   "total_tokens": 12 + CHUNKS})) +
        _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")


class Upstream(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self.buf = bytearray()
        self.busy = False
        self.closed = False

    def connection_lost(self, exc):
        self.closed = True

    def data_received(self, data):
        self.buf += data
        self.next_request()

    def next_request(self):
        """Handle the buffered request, if it is complete and the previous
        answer is finished."""
        if self.busy or self.closed:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        length = 0
        expect = False
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "expect" and "100" in value:
                expect = True
        if len(self.buf) < end + 4 + length:
            if expect and len(self.buf) == end + 4:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        del self.buf[:end + 4 + length]
        parts = head[0].split(" ")
        path = parts[1] if len(parts) > 1 else ""
        self.busy = True
        if path.startswith("/slow/"):
            self.loop.call_later(SLOW_MS / 1000, self.finish, SLOW_RESPONSE)
        elif path.startswith("/stream/"):
            self.transport.write(STREAM_HEAD + EVENTS[0])
            self.loop.call_later(CHUNK_MS / 1000, self.stream, 1)
        else:
            self.finish(NOT_FOUND)

    def stream(self, i):
        if self.closed:
            return
        if i < len(EVENTS):
            self.transport.write(EVENTS[i])
            self.loop.call_later(CHUNK_MS / 1000, self.stream, i + 1)
        else:
            self.finish(TAIL)

    def finish(self, data):
        if self.closed:
            return
        self.transport.write(data)
        self.busy = False
        self.next_request()


async def serve(port):
    server = await asyncio.get_running_loop().create_server(
        Upstream, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
