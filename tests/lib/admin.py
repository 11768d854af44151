"""The admin surface from tests (docs/admin.md).

    from lib import admin
    s = tollgate(env=admin.ENV)                   # admin@example.com is admin
    tok = admin.sign_in(s)                        # an admin access token
    t = admin.create_token(s, tok, "ci")          # {"id","name","token",...}
    raw = admin.cli_token(s, "bootstrap")         # tollgate admin-token create
"""

import subprocess

from lib import auth

ADMIN_EMAIL = "admin@example.com"
ENV = {"TOLLGATE_ADMIN_EMAILS": ADMIN_EMAIL}


def sign_in(server, email=ADMIN_EMAIL):
    return auth.dev_login(server, email)


def create_token(server, bearer_token, name="ci"):
    r = server.post("/api/admin/tokens", json={"name": name},
                    headers=auth.bearer(bearer_token))
    assert r.status_code == 201, r.text
    return r.json()


def cli(server, *args):
    """Run the binary in a command-line mode with the server's environment."""
    return subprocess.run([server.binary] + list(args), env=server.env,
                          capture_output=True, text=True, timeout=60)


def cli_token(server, name="bootstrap"):
    p = cli(server, "admin-token", "create", name)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()
