"""The contract's error answer, as every module gives it (tg_error):

    HTTP status, Content-Type application/json, an X-Request-Id, and
    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

assert_error(r, status, code=None, param=None) checks a requests.Response
against it (code and param when given) and returns the error object.
Anthropic-shaped errors (/v1/messages) are lib.router.assert_error's."""


def assert_error(r, status, code=None, param=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    assert r.headers.get("x-request-id")
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    if code is not None:
        assert err["code"] == code, err
    if param is not None:
        assert err["param"] == param, err
    return err
