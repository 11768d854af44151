"""A fake Stripe for the billing tests: the part of Stripe's API tollgate
calls (POST /v1/checkout/sessions and POST /v1/refunds, form-encoded, Bearer
key, Idempotency-Key: the same key answers the same object again)
over real HTTP on 127.0.0.1, and Stripe's side of webhooks (events in
Stripe's JSON shapes, signed like Stripe signs them, posted to tollgate).

tollgate reaches it only through its documented configuration:
TOLLGATE_STRIPE_API_URL=fake.url, TOLLGATE_STRIPE_SECRET_KEY=fake.secret_key,
TOLLGATE_STRIPE_WEBHOOK_SECRET=fake.webhook_secret (see fake.env()).

    fake = StripeFake()
    t = tollgate(env=fake.env())
    ... POST /api/billing/checkout -> fake.sessions[<cs id>]
    paid = fake.pay(session_id)                  # the customer pays
    fake.send(t, fake.session_completed(paid))   # signed webhook
    fake.send(t, fake.charge_refunded(paid, 400))
    ... POST /api/admin/payments/{id}/refund -> fake.refunds[<re id>]
    fake.send(t, fake.refund_event(refund_id))   # charge.refunded for it
    fake.stop()

The hosted Checkout page, for browser tests: with fake.hosted = True a
session's url is the fake's own GET /c/pay/<cs id>, a page with a "Pay"
button (marks the session paid, as fake.pay does, and redirects to its
success_url) and a "Cancel" link (to its cancel_url); the webhook is
still the test's to send.

Failure modes for the API: fake.fail = (status, message) answers every
request with a Stripe error; fake.delay = seconds delays every answer;
fake.refund_status sets the status new refunds get ("succeeded").
"""

import hashlib
import hmac
import json
import secrets
import string
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

ALNUM = string.ascii_letters + string.digits


def stripe_id(prefix, n=24):
    return prefix + "".join(secrets.choice(ALNUM) for _ in range(n))


def sign(payload, secret, t=None):
    """Stripe's v1 signature of payload (bytes) at time t."""
    t = int(time.time()) if t is None else int(t)
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + payload,
                   hashlib.sha256).hexdigest()
    return t, mac


def signature_header(payload, secret, t=None):
    t, mac = sign(payload, secret, t)
    return "t=%d,v1=%s" % (t, mac)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, doc, headers=None):
        body = json.dumps(doc, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", stripe_id("req_", 14))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status, message, etype="invalid_request_error",
               param=None):
        err = {"type": etype, "message": message}
        if param:
            err["param"] = param
        self._send(status, {"error": err})

    def _hosted_session(self):
        """The session of a /c/pay/<cs id>[/pay] path, or None."""
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        if len(parts) < 4 or parts[1:3] != ["c", "pay"]:
            return None, None
        with self.server.fake.lock:
            return self.server.fake.sessions.get(parts[3]), parts[4:]

    def do_GET(self):
        session, rest = self._hosted_session()
        if session is None or rest:
            return self._error(404, "No such page.")
        body = ("<!doctype html><title>Pay %s</title><h1>Checkout</h1>"
                "<p id=amount>%d %s</p><form method=post action=/c/pay/%s/pay>"
                "<button id=pay>Pay</button></form>"
                "<a id=cancel href=\"%s\">Cancel</a>" % (
                    session["_line_name"], session["amount_total"],
                    session["currency"], session["id"],
                    session["cancel_url"])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _hosted_pay(self, session):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        paid = self.server.fake.pay(session["id"])
        self.send_response(303)
        self.send_header("Location", paid["success_url"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        fake = self.server.fake
        session, rest = self._hosted_session()
        if session is not None and rest == ["pay"]:
            return self._hosted_pay(session)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        form = urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True,
                                      strict_parsing=bool(raw))
        record = {"path": self.path, "headers": dict(self.headers),
                  "form": dict(form), "raw": raw}
        with fake.lock:
            fake.requests.append(record)
        if fake.delay:
            time.sleep(fake.delay)

        if self.path not in ("/v1/checkout/sessions", "/v1/refunds"):
            return self._error(404, "Unrecognized request URL (POST: %s)." %
                               self.path)
        if self.headers.get("Authorization") != "Bearer " + fake.secret_key:
            return self._error(401, "Invalid API Key provided: %s" %
                               (self.headers.get("Authorization") or "")[-4:])
        if fake.fail is not None:
            status, message = fake.fail
            return self._error(status, message,
                               "api_error" if status >= 500 else
                               "invalid_request_error")

        # Stripe: the first request with a key is answered from then on
        # for that key (same parameters only); one still running is a 409.
        key = self.headers.get("Idempotency-Key")
        with fake.lock:
            if key is not None and key in fake.idempotency:
                params, status, doc = fake.idempotency[key]
                if params != (self.path, record["form"]):
                    return self._error(400, "Keys for idempotent requests "
                                       "can only be used with the same "
                                       "parameters they were first used with.",
                                       "idempotency_error")
                if status is None:
                    return self._error(409, "There is currently another "
                                       "in-progress request using this "
                                       "Idempotent Key.",
                                       "idempotency_error")
                return self._send(status, doc,
                                  {"Idempotent-Replayed": "true"})
            if key is not None:
                fake.idempotency[key] = ((self.path, record["form"]),
                                         None, None)
        if self.path == "/v1/refunds":
            status, doc = fake._create_refund(record["form"])
        else:
            status, doc = fake._create_session(record["form"])
        if key is not None:
            with fake.lock:
                fake.idempotency[key] = ((self.path, record["form"]),
                                         status, doc)
        self._send(status, doc)


class StripeFake:
    def __init__(self, secret_key=None, webhook_secret=None):
        self.secret_key = secret_key or stripe_id("sk_test_", 32)
        self.webhook_secret = webhook_secret or stripe_id("whsec_", 32)
        self.lock = threading.Lock()
        self.requests = []
        self.sessions = {}
        self.refunds = {}
        self.refund_status = "succeeded"
        self.idempotency = {}
        self.fail = None
        self.delay = 0
        self.hosted = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.fake = self
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def env(self, secrets_list=None):
        return {
            "TOLLGATE_STRIPE_SECRET_KEY": self.secret_key,
            "TOLLGATE_STRIPE_WEBHOOK_SECRET": ",".join(
                secrets_list or [self.webhook_secret]),
            "TOLLGATE_STRIPE_API_URL": self.url,
        }

    def checkout_requests(self):
        with self.lock:
            return [r for r in self.requests
                    if r["path"] == "/v1/checkout/sessions"]

    def refund_requests(self):
        with self.lock:
            return [r for r in self.requests if r["path"] == "/v1/refunds"]

    # --- the API ------------------------------------------------------

    def _create_refund(self, form):
        """POST /v1/refunds: payment_intent, amount (default: the rest)."""
        def err(message, code, param=None):
            e = {"type": "invalid_request_error", "message": message,
                 "code": code}
            if param:
                e["param"] = param
            return 400, {"error": e}

        pi = form.get("payment_intent")
        with self.lock:
            s = next((x for x in self.sessions.values()
                      if pi and x.get("payment_intent") == pi), None)
            if s is None or s.get("payment_status") != "paid":
                return 400, {"error": {
                    "type": "invalid_request_error", "code":
                    "resource_missing", "param": "payment_intent",
                    "message": "No such payment_intent: '%s'" % pi}}
            if s.get("_disputed"):
                return err("Charge %s has been charged back; cannot issue "
                           "a refund." % s["_charge"], "charge_disputed")
            left = s["amount_total"] - s["_amount_refunded"]
            try:
                amount = int(form["amount"]) if "amount" in form else left
            except ValueError:
                return err("Invalid integer: %s" % form["amount"],
                           "parameter_invalid_integer", "amount")
            if left <= 0:
                return err("Charge %s has already been refunded." %
                           s["_charge"], "charge_already_refunded")
            if amount <= 0 or amount > left:
                return err("Refund amount (%d) is greater than unrefunded "
                           "amount on charge (%d)" % (amount, left),
                           "amount_too_large", "amount")
            status = self.refund_status
            if status in ("succeeded", "pending"):
                s["_amount_refunded"] += amount
            refund = {
                "id": stripe_id("re_"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": stripe_id("txn_"),
                "charge": s["_charge"],
                "created": int(time.time()),
                "currency": s["currency"],
                "metadata": {k[len("metadata["):-1]: v
                             for k, v in form.items()
                             if k.startswith("metadata[")},
                "payment_intent": pi,
                "reason": form.get("reason"),
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": status,
                "transfer_reversal": None,
                "_session": s["id"],
                "_refunded_after": s["_amount_refunded"],
            }
            self.refunds[refund["id"]] = refund
        return 200, self._public(refund)


    def _create_session(self, form):
        for p in ("mode", "success_url", "cancel_url",
                  "line_items[0][price_data][currency]",
                  "line_items[0][price_data][unit_amount]",
                  "line_items[0][price_data][product_data][name]",
                  "line_items[0][quantity]"):
            if not form.get(p):
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": "Missing required param: "
                                       "%s." % p, "param": p}}
        if form["mode"] != "payment":
            return 400, {"error": {"type": "invalid_request_error",
                                   "message": "Invalid mode", "param": "mode"}}
        try:
            unit = int(form["line_items[0][price_data][unit_amount]"])
            qty = int(form["line_items[0][quantity]"])
        except ValueError:
            return 400, {"error": {"type": "invalid_request_error",
                                   "message": "Invalid integer"}}
        metadata = {k[len("metadata["):-1]: v for k, v in form.items()
                    if k.startswith("metadata[")}
        pi_metadata = {k[len("payment_intent_data[metadata]["):-1]: v
                       for k, v in form.items()
                       if k.startswith("payment_intent_data[metadata][")}
        sid = stripe_id("cs_test_", 58)
        now = int(time.time())
        session = {
            "id": sid,
            "object": "checkout.session",
            "amount_subtotal": unit * qty,
            "amount_total": unit * qty,
            "cancel_url": form["cancel_url"],
            "client_reference_id": form.get("client_reference_id"),
            "created": now,
            "currency": form["line_items[0][price_data][currency]"],
            "customer": None,
            "expires_at": now + 86400,
            "livemode": False,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"],
            "url": "%s/c/pay/%s#fidkdWxOYHwnPyd1" % (
                self.url if self.hosted else "https://checkout.stripe.com",
                sid),
            "_line_name": form["line_items[0][price_data][product_data]"
                               "[name]"],
            "_pi_metadata": pi_metadata,
        }
        with self.lock:
            self.sessions[sid] = session
        return 200, {k: v for k, v in session.items()
                     if not k.startswith("_")}

    # --- what happens at Stripe ---------------------------------------

    def new_session(self, client_reference_id, amount, currency="usd"):
        """A session as if created by the API (for webhook-only tests)."""
        status, doc = self._create_session({
            "mode": "payment", "success_url": "http://ui/s",
            "cancel_url": "http://ui/c",
            "client_reference_id": client_reference_id,
            "line_items[0][price_data][currency]": currency,
            "line_items[0][price_data][unit_amount]": str(amount),
            "line_items[0][price_data][product_data][name]": "credits",
            "line_items[0][quantity]": "1"})
        assert status == 200, doc
        return doc["id"]

    def pay(self, session_id, delayed=False):
        """The customer completes the checkout; returns the session."""
        with self.lock:
            s = self.sessions[session_id]
            s["status"] = "complete"
            s["payment_intent"] = s.get("payment_intent") or \
                stripe_id("pi_")
            s["_charge"] = s.get("_charge") or stripe_id("ch_")
            s["payment_status"] = "unpaid" if delayed else "paid"
            s["_amount_refunded"] = s.get("_amount_refunded", 0)
            return dict(s)

    def settle_delayed(self, session_id):
        with self.lock:
            s = self.sessions[session_id]
            s["payment_status"] = "paid"
            return dict(s)

    # --- events -------------------------------------------------------

    def event(self, etype, obj, livemode=False, event_id=None,
              created=None):
        return {
            "id": event_id or stripe_id("evt_"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()) if created is None else created,
            "data": {"object": obj},
            "livemode": livemode,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": etype,
        }

    @staticmethod
    def _public(session):
        return {k: v for k, v in session.items() if not k.startswith("_")}

    def session_completed(self, session, **kw):
        return self.event("checkout.session.completed",
                          self._public(session), **kw)

    def async_succeeded(self, session, **kw):
        return self.event("checkout.session.async_payment_succeeded",
                          self._public(session), **kw)

    def async_failed(self, session, **kw):
        s = dict(self._public(session), payment_status="unpaid")
        return self.event("checkout.session.async_payment_failed", s, **kw)

    def session_expired(self, session, **kw):
        s = dict(self._public(session), status="expired")
        return self.event("checkout.session.expired", s, **kw)

    def charge(self, session, amount_refunded=0):
        amount = session["amount_total"]
        return {
            "id": session["_charge"],
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": amount_refunded,
            "captured": True,
            "currency": session["currency"],
            "livemode": False,
            "metadata": dict(session.get("_pi_metadata") or {}),
            "paid": True,
            "payment_intent": session["payment_intent"],
            "refunded": amount_refunded >= amount,
            "status": "succeeded",
        }

    def charge_refunded(self, session, amount_refunded, **kw):
        """charge.refunded: amount_refunded is cumulative, as Stripe's."""
        return self.event("charge.refunded",
                          self.charge(session, amount_refunded), **kw)

    def refund_event(self, refund_id, **kw):
        """charge.refunded as Stripe sends it after a refund made through
        the API: the charge with the cumulative amount refunded then."""
        with self.lock:
            r = self.refunds[refund_id]
            s = dict(self.sessions[r["_session"]])
        return self.charge_refunded(s, r["_refunded_after"], **kw)

    def dispute(self, session, status="needs_response", amount=None):
        return {
            "id": "dp_" + session["_charge"][3:],
            "object": "dispute",
            "amount": session["amount_total"] if amount is None else amount,
            "charge": session["_charge"],
            "currency": session["currency"],
            "livemode": False,
            "payment_intent": session["payment_intent"],
            "reason": "fraudulent",
            "status": status,
        }

    def dispute_created(self, session, **kw):
        return self.event("charge.dispute.created", self.dispute(session),
                          **kw)

    def dispute_closed(self, session, status, **kw):
        return self.event("charge.dispute.closed",
                          self.dispute(session, status), **kw)

    # --- delivery -----------------------------------------------------

    @staticmethod
    def payload(event):
        """Stripe sends pretty-printed JSON."""
        if isinstance(event, (bytes, bytearray)):
            return bytes(event)
        return json.dumps(event, indent=2).encode()

    def header(self, payload, secret=None, t=None):
        return signature_header(payload, secret or self.webhook_secret, t)

    def send(self, server, event, secret=None, t=None, header=None,
             headers=None, payload=None):
        """POST the event to tollgate as Stripe does. header overrides the
        Stripe-Signature header (None: sign with secret at time t;
        False: no header at all)."""
        body = payload if payload is not None else self.payload(event)
        h = {"Content-Type": "application/json; charset=utf-8",
             "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
             "Cache-Control": "no-cache", "Accept": "*/*; q=0.5, "
             "application/xml"}
        if header is None:
            h["Stripe-Signature"] = self.header(body, secret, t)
        elif header is not False:
            h["Stripe-Signature"] = header
        h.update(headers or {})
        return requests.post(server.url + "/webhooks/stripe", data=body,
                             headers=h, timeout=30)
