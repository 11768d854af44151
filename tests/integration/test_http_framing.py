"""HTTP framing and Kore's own early answers, over raw sockets: a request
whose body length is ambiguous (Transfer-Encoding beside Content-Length,
two different Content-Lengths) is refused with 400 and its connection
closed, so nothing smuggled after it is served; and the answers Kore gives
before any handler runs (400, 411, 413, 408) are in the contract's error
shape with an X-Request-Id."""

import json
import re
import socket
import time

import pytest


def raw(server, data, then=None, timeout=5.0):
    """Sends data (and `then` a moment later, as a second packet), reads
    until the server closes or goes quiet; returns a list of (status,
    headers, body) for every answer read."""
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(timeout)
    s.sendall(data)
    if then is not None:
        time.sleep(0.3)
        try:
            s.sendall(then)
        except OSError:
            pass                # closed already: nothing more is read
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    s.close()
    answers = []
    while buf:
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), v.strip())
        n = int(headers.get("content-length", "0"))
        answers.append((status, headers, rest[:n]))
        buf = rest[n:]
    return answers


def assert_contract_error(answer, status, code):
    got, headers, body = answer
    assert got == status, (got, headers, body)
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"[A-Za-z0-9_.:-]+", headers["x-request-id"])
    err = json.loads(body)["error"]
    assert err["code"] == code and err["type"] == "invalid_request_error"
    assert err["message"] and "param" in err
    return err


SMUGGLED = (b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")


@pytest.mark.parametrize("framing", [
    b"content-length: 4\r\ntransfer-encoding: chunked\r\n",
    b"transfer-encoding: chunked\r\ncontent-length: 4\r\n",
    b"content-length: 4\r\ncontent-length: 40\r\n",
])
def test_ambiguous_body_length_is_400_and_closes(server, framing):
    """Kore reads the first Content-Length (4 bytes); a proxy reading the
    other header would see the GET after them as part of this body."""
    answers = raw(server, b"POST /healthz HTTP/1.1\r\nhost: x\r\n" +
                  framing + b"\r\n0\r\n\r", then=b"\n" + SMUGGLED)
    assert len(answers) == 1, answers       # the smuggled GET is not served
    assert_contract_error(answers[0], 400, "bad_request")
    assert answers[0][1]["connection"] == "close"
    assert server.get("/healthz").status_code == 200


def test_transfer_encoding_on_a_get_is_400(server):
    answers = raw(server, b"GET /healthz HTTP/1.1\r\nhost: x\r\n"
                  b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n")
    assert_contract_error(answers[0], 400, "bad_request")


def test_repeated_equal_content_length_is_accepted(server):
    answers = raw(server, b"GET /healthz HTTP/1.1\r\nhost: x\r\n"
                  b"content-length: 0\r\ncontent-length: 0\r\n"
                  b"connection: close\r\n\r\n")
    assert answers[0][0] == 200, answers


@pytest.mark.parametrize("request_bytes, status, code", [
    (b"GARBAGE\r\nhost: x\r\n\r\n", 400, "bad_request"),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "bad_request"),   # no host
    (b"POST /healthz HTTP/1.1\r\nhost: x\r\n\r\n", 411, "length_required"),
    (b"POST /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: nope\r\n\r\n",
     411, "length_required"),
    (b"POST /healthz HTTP/1.1\r\nhost: x\r\n"
     b"content-length: 1000000000000\r\n\r\n", 413, "body_too_large"),
])
def test_kores_early_answers_are_in_the_contract_shape(server,
                                                       request_bytes,
                                                       status, code):
    answers = raw(server, request_bytes)
    assert_contract_error(answers[0], status, code)
    # Still serving, and ordinary answers are unchanged.
    r = server.get("/healthz")
    assert r.status_code == 200


def test_a_client_too_slow_with_its_headers_gets_408_in_shape(server):
    """Kore's header timeout is 10 s (conf/tollgate.conf)."""
    t0 = time.time()
    answers = raw(server, b"GET /healthz HTTP/1.1\r\nhost: x\r\n",
                  timeout=20)
    assert time.time() - t0 < 20
    assert_contract_error(answers[0], 408, "request_timeout")
