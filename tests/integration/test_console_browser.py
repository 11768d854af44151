"""The console (console/, served by tollgate at /) in a real browser:
headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core
from tests/node) goes through the real pages as a person would: signs in
with the fake GitHub's sign-in page from the page it started on and lands
back there, creates a key (the secret shown once), sees a call made with
that key in the usage charts and the recent calls with its cost, buys a
package through the fake Stripe's hosted page (after cancelling once on
it and landing on the cancel page) and watches the success
page go from pending to the new balance once the signed webhook arrives,
edits and revokes the key, and signs out. Every page of tollgate is
watched for console errors and Content-Security-Policy violations; the
main pages must not scroll sideways on a 390 px wide phone.

The browser script asks this test for what happens outside the browser
(the API call with the key, Stripe's webhook) with ask() (tests/lib/
browser.py)."""

import json
import os

import requests

from fakes.github import FakeGitHub
from fakes.stripe_fake import StripeFake
from lib.browser import assert_clean, credits_text, needed, run
from lib.credits import set_price

MODEL = "echo:echo-1"

pytestmark = needed

BODY = r"""
    // Sign in from a page that needs a session; come back to it.
    await page.goto(tollgate + '/keys');
    await page.waitForURL(tollgate + '/signin?return_to=%2Fkeys');
    out.signin_heading = await text('h1');
    await page.click('#signin-github');
    await page.fill('#login', 'octocat');
    await Promise.all([page.waitForURL(tollgate + '/keys'),
                       page.click('#authorize')]);
    await page.waitForSelector('#key-create');
    signedOut = false;
    out.after_signin = page.url();
    out.keys_heading = await text('h1');

    // A key: its secret once, with a copy button.
    await page.fill('#key-create input[name=name]', 'laptop');
    await page.click('#key-create button[type=submit]');
    await page.waitForSelector('#new-key');
    const key = await page.inputValue('#new-key');
    out.key_prefix = key.slice(0, 3);
    out.copy_button = await page.isVisible('#copy-key');
    await page.waitForSelector('#key-list td:text-is("laptop")');
    out.call = await ask({ what: 'chat', key });
    await page.reload();
    await page.waitForSelector('#key-list td:text-is("laptop")');
    out.secret_after_reload = await page.$('#new-key') !== null;
    out.secret_in_page = (await page.content()).includes(key);

    // The call in the charts and in the recent calls, with its cost.
    // What the page read from /api/usage/requests, as it read it.
    const requests = page.waitForResponse((r) =>
      r.url().startsWith(tollgate + '/api/usage/requests'));
    await page.click('nav a[href="/usage"]');
    out.api_calls = (await (await requests).json()).data;
    const today = new Date().toISOString().slice(0, 10);
    await page.waitForSelector('#calls table');
    out.model_bar = await page.$(
      '#chart-cost-model svg rect[data-label="' + out.call.model + '"]')
      !== null;
    out.day_bar = await page.$(
      '#chart-cost-day svg rect[data-label="' + today +
      '"][data-series="' + out.call.model + '"]') !== null;
    out.key_bar = await page.$(
      '#chart-cost-key svg rect[data-label="laptop"]') !== null;
    out.call_cost = await text('#calls [data-request="' +
                               out.call.request_id + '"]');

    // Buy the first package: Stripe's page, back to the success page.
    await page.click('nav a[href="/buy"]');
    await page.waitForSelector('button.buy');
    // Changing one's mind on Stripe's page: the cancel page.
    await Promise.all([page.waitForURL(/\/c\/pay\//), page.click('button.buy')]);
    await Promise.all([page.waitForURL(/\/billing\/cancel\?payment_id=/),
                       page.click('#cancel')]);
    await page.waitForSelector('#payment-status');
    out.cancel_heading = await text('main h1');
    await page.click('nav a[href="/buy"]');
    await page.waitForSelector('button.buy');
    out.available_before = await ask({ what: 'available' });
    await Promise.all([page.waitForURL(/\/c\/pay\//), page.click('button.buy')]);
    await Promise.all([page.waitForURL(/\/billing\/success\?payment_id=/),
                       page.click('#pay')]);
    await page.waitForSelector('#payment-status[data-state=pending]');
    out.pending_text = await text('#payment-status');
    out.paid = await ask({ what: 'webhook',
      payment_id: new URL(page.url()).searchParams.get('payment_id') });
    await page.waitForSelector('#new-balance', { timeout: 30000 });
    out.new_balance = await text('#new-balance');
    await page.click('nav a[href="/credits"]');
    await page.waitForSelector('#ledger table');
    out.available_shown = await text('#available');

    // Edit the key: a new name and a spend limit; then revoke it.
    await page.click('nav a[href="/keys"]');
    await page.click('#key-list button.edit');
    await page.fill('#key-edit input[name=name]', 'laptop-2');
    await page.fill('#key-edit input[name=spend_limit]', '1.5');
    await page.click('#key-edit button[type=submit]');
    await page.waitForSelector('#key-list td:text-is("laptop-2")');
    out.limit_shown = await text('#key-list td.num');
    out.after_edit = await ask({ what: 'key' , key });
    await page.click('#key-list button.revoke');
    await page.click('#key-list button.revoke');
    await page.waitForSelector('#key-list td:text-is("revoked")');
    out.after_revoke = await ask({ what: 'chat_status', key });

    // The profile.
    await page.click('nav a[href="/profile"]');
    await page.fill('#profile input[name=display_name]', 'Octo Cat');
    await page.click('#profile button[type=submit]');
    await page.waitForSelector('#profile p:text-is("Saved.")');
    out.profile = await ask({ what: 'me_name' });

    // A phone: no page scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    out.narrow = {};
    for (const p of ['/', '/keys', '/usage', '/credits', '/buy',
                     '/profile']) {
      await page.goto(tollgate + p);
      await page.waitForSelector('main h1');
      await page.waitForLoadState('networkidle');
      out.narrow[p] = await page.evaluate(() =>
        document.documentElement.scrollWidth -
        document.documentElement.clientWidth);
    }

    // Sign out: the session is over for the browser too.
    signedOut = true;
    await page.click('#sign-out');
    await page.waitForURL(tollgate + '/signin');
    await page.goto(tollgate + '/credits');
    await page.waitForURL(tollgate + '/signin?return_to=%2Fcredits');
    out.signed_out = true;
"""


def test_console_in_chromium(tollgate, db):
    gh = FakeGitHub().start()
    stripe = StripeFake()
    stripe.hosted = True
    try:
        gh.login_page = True
        set_price(db, MODEL, 2000000, 3000000, fee=1234)
        t = tollgate(env=dict(gh.env(), **stripe.env(),
                              TOLLGATE_SIGNUP_CREDITS_MICROS="5000000"))
        seen = {}

        def user_id():
            return db.query("SELECT user_id FROM identities "
                            "WHERE provider = 'github'")[0][0]

        def handle(q):
            if q["what"] == "chat":
                r = requests.post(t.url + "/v1/chat/completions", headers={
                    "Authorization": "Bearer " + q["key"]}, json={
                    "model": MODEL, "messages": [
                        {"role": "user", "content": "Hello, console!"}]},
                    timeout=30)
                assert r.status_code == 200, r.text
                seen["usage"] = r.json()["usage"]
                return {"model": MODEL,
                        "request_id": r.headers["X-Request-Id"],
                        "cost_micros": r.json()["usage"]["cost_micros"]}
            if q["what"] == "chat_status":
                return requests.post(t.url + "/v1/chat/completions", headers={
                    "Authorization": "Bearer " + q["key"]}, json={
                    "model": MODEL, "messages": [
                        {"role": "user", "content": "again"}]},
                    timeout=30).status_code
            if q["what"] == "available":
                return db.query("SELECT available_micros FROM "
                                "ledger_user_balances WHERE user_id = %s",
                                user_id())[0][0]
            if q["what"] == "webhook":
                sid = db.query("SELECT checkout_ref FROM billing_payments "
                               "WHERE id = %s", q["payment_id"])[0][0]
                session = stripe.sessions[sid]
                assert session["status"] == "complete"    # paid on its page
                r = stripe.send(t, stripe.session_completed(session))
                assert r.status_code == 200, r.text
                seen["package_micros"] = db.query(
                    "SELECT credits_micros FROM billing_payments "
                    "WHERE id = %s", q["payment_id"])[0][0]
                return True
            if q["what"] == "key":
                return db.query("SELECT name, spend_limit_micros FROM "
                                "api_keys WHERE user_id = %s", user_id())[0]
            if q["what"] == "me_name":
                return db.query("SELECT display_name FROM profiles "
                                "WHERE user_id = %s", user_id())[0][0]
            raise AssertionError(q)

        out = run(BODY, t.url, answer=handle)
        if os.environ.get("TG_CONSOLE_DEBUG"):
            with open(os.environ["TG_CONSOLE_DEBUG"], "w") as f:
                json.dump(out, f, indent=1)
    finally:
        gh.stop()
        stripe.stop()

    assert_clean(out)
    assert out["signin_heading"] == "Sign in"
    assert out["after_signin"] == t.url + "/keys"
    assert out["keys_heading"] == "API keys"
    assert out["key_prefix"] == "tg_" and out["copy_button"] is True
    assert out["secret_after_reload"] is False
    assert out["secret_in_page"] is False

    # The cost the page shows is the call's, to the micro-credit.
    cost = out["call"]["cost_micros"]
    assert cost == seen["usage"]["cost_micros"] > 1234
    assert out["model_bar"] and out["day_bar"] and out["key_bar"]
    assert [(c["request_id"], c["cost_micros"]) for c in out["api_calls"]
            ] == [(out["call"]["request_id"], cost)]
    assert out["call_cost"] == credits_text(cost)
    rows = db.query("SELECT cost_micros FROM usage_records")
    assert rows == [(cost,)]

    assert out["cancel_heading"] == "Payment cancelled"
    assert "pending" in out["pending_text"]
    after = out["available_before"] + seen["package_micros"]
    assert out["new_balance"] == credits_text(after)
    assert out["available_shown"] == credits_text(after)

    assert out["after_edit"] == ["laptop-2", 1500000]
    assert out["limit_shown"].endswith("/ 1.50")
    assert out["after_revoke"] == 401
    assert out["profile"] == "Octo Cat"
    assert out["narrow"] == {p: 0 for p in out["narrow"]} and \
        len(out["narrow"]) == 6
    assert out["signed_out"] is True
