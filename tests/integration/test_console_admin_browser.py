"""The console's admin pages (console/admin.js) in a real browser, through
the real pages as an operator would use them: an admin (listed in
TOLLGATE_ADMIN_EMAILS) signs in with the dev login form, pages through
every user, searches one, grants them credits and sees the new balance
(which the user's own GET /api/credits then agrees with, to the
micro-credit), suspends and reactivates them, edits a model's
price, edits a package, finds a flagged payment highlighted under its
status filter and refunds a paid one through the fake Stripe. No page
logs a console error or a CSP violation, and none scrolls sideways on a
390 px wide phone."""

import requests

from fakes.stripe_fake import StripeFake
from lib import auth, billing
from lib.browser import assert_clean, credits_text, needed, run
from lib.credits import check_ledger, grant
from lib.keys import seed_user

pytestmark = needed

ADMIN = "root@example.com"
USER = "carol@example.com"
MODEL = "echo:echo-1"

BODY = r"""
  page.on('dialog', (d) => { out.dialogs = (out.dialogs || 0) + 1;
                             d.accept(); });

  // Sign in with the dev login, from the admin page; come back to it.
  await page.goto(tollgate + '/admin');
  await page.waitForURL(tollgate + '/signin?return_to=%2Fadmin');
  await page.fill('#dev-login input[name=email]', 'root@example.com');
  await Promise.all([page.waitForURL(tollgate + '/admin'),
                     page.click('#dev-login button[type=submit]')]);
  signedOut = false;
  await page.waitForSelector('#user-search');
  out.admin_heading = await text('main h1');
  out.admin_nav = await page.isVisible('#nav-admin');

  // Every user, a page of 20 at a time.
  await page.waitForSelector('#user-list tbody tr');
  out.first_page = await page.$$eval('#user-list tbody tr', (r) => r.length);
  await page.click('#next-page');
  await page.waitForURL(/\/admin\/users\?cursor=/);
  // (waitForSelector, not waitForFunction: the CSP forbids its eval.)
  await page.waitForSelector('#next-page', { state: 'detached' });
  out.second_page = await page.$$eval('#user-list tbody tr',
                                      (r) => r.length);

  // Search a user and open them.
  await page.fill('#user-search input[name=q]', 'carol');
  await Promise.all([page.waitForURL(tollgate + '/admin/users?q=carol'),
                     page.click('#user-search button[type=submit]')]);
  await page.waitForSelector('#user-list a:text-is("carol@example.com")');
  out.found = await page.$$eval('#user-list tbody tr', (r) => r.length);
  await page.click('#user-list a:text-is("carol@example.com")');
  await page.waitForSelector('#grant');
  out.user_url = page.url();
  out.user_heading = await text('main h1');
  out.balance_before = await text('#balance');

  // Grant 2.5 credits; the page shows the balance the answer gives.
  await page.fill('#grant input[name=amount]', '2.5');
  await page.fill('#grant input[name=reason]', 'console test');
  await page.click('#grant button[type=submit]');
  await page.waitForSelector('#grant-result:has-text("New balance")');
  out.grant_result = await text('#grant-result');
  out.balance_after = await text('#balance');
  await page.waitForSelector('#user-ledger td:text-is("admin_grant")');
  // A bad amount is refused in the page; nothing is sent.
  await page.fill('#grant input[name=amount]', 'lots');
  await page.fill('#grant input[name=reason]', 'nope');
  await page.click('#grant button[type=submit]');
  await page.waitForSelector('#errors p');
  out.bad_amount = await text('#errors p');
  out.problems_before_bad = out.problems.length;

  // Suspend, then reactivate (each after a confirmation).
  await page.click('#user-status-toggle');
  await page.waitForSelector('#user-status:text-is("suspended")');
  await page.click('#user-status-toggle');
  await page.waitForSelector('#user-status:text-is("active")');
  out.toggle_label = await text('#user-status-toggle');

  // Edit a price (micro-credits per million tokens).
  await page.click('nav.subnav a[href="/admin/prices"]');
  await page.click('#price-list button[data-model="echo:echo-1"]');
  await page.fill('#price-form input[name=input_micros_per_mtok]', '7000000');
  await page.fill('#price-form input[name=output_micros_per_mtok]',
                  '9000000');
  await page.click('#price-form button[type=submit]');
  await page.waitForSelector('#price-result:has-text("Saved")');
  out.price_result = await text('#price-result');
  out.price_row = await page.$eval('#price-list tr:has(code:text-is(' +
    '"echo:echo-1"))', (tr) => Array.from(tr.cells, (c) =>
      c.textContent.trim()));

  // Edit a package's name.
  await page.click('nav.subnav a[href="/admin/packages"]');
  await page.click('#package-list button[data-package]');
  await page.fill('#package-form input[name=name]', 'Starter (edited)');
  await page.click('#package-form button[type=submit]');
  await page.waitForSelector('#package-list td:text-is("Starter (edited)")');
  out.package_result = await text('#package-result');

  // Payments: the flagged one, highlighted, under its filter.
  await page.click('nav.subnav a[href="/admin/payments"]');
  await page.waitForSelector('#payment-list tr.flagged');
  out.rows_all = await page.$$eval('#payment-list tbody tr',
                                   (r) => r.length);
  await Promise.all([
    page.waitForURL(tollgate + '/admin/payments?status=flagged'),
    page.selectOption('#payment-filter select', 'flagged')]);
  await page.waitForSelector('#payment-list tbody tr.flagged:only-child');
  out.flagged_row = await text('#payment-list tr.flagged');
  out.flagged_refund = await page.$('#payment-list tr.flagged button') !==
    null;
  const plain = await page.evaluate(() => getComputedStyle(
    document.querySelector('main')).backgroundColor);
  out.flag_highlighted = await page.$eval('#payment-list tr.flagged td',
    (td, plain) => getComputedStyle(td).backgroundColor !== plain &&
      getComputedStyle(td).backgroundColor !== 'rgba(0, 0, 0, 0)', plain);

  // Refund the paid one (after the confirmation).
  await Promise.all([
    page.waitForURL(tollgate + '/admin/payments?status=paid'),
    page.selectOption('#payment-filter select', 'paid')]);
  await page.click('#payment-list button.refund');
  await page.waitForSelector('#refund-result:has-text("Refund of")');
  out.refund_result = await text('#refund-result');

  // A phone: no admin page scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  out.narrow = await sideways(['/admin/users',
    new URL(out.user_url).pathname, '/admin/prices', '/admin/packages',
    '/admin/payments']);
"""


def test_admin_pages_in_chromium(tollgate, db):
    stripe = StripeFake()
    try:
        t = tollgate(env=dict(stripe.env(), TOLLGATE_ADMIN_EMAILS=ADMIN))
        carol = auth.sign_in(t, USER)
        for i in range(21):
            seed_user(db, "user%02d@example.org" % i)
        users = db.query("SELECT count(*) FROM users WHERE id <> "
                         "admin_operator()")[0][0] + 1     # the admin too
        grant(db, carol.user_id, 1234567)
        pkg = billing.packages(db)[0]

        # One payment paid and credited, one flagged: Stripe's amount
        # disagrees with ours, so nothing was credited.
        paid = billing.seed_payment(db, carol.user_id, pkg)
        sid = stripe.new_session(paid["payment_id"], pkg["price_minor"],
                                 pkg["currency"])
        billing.attach_session(db, paid["payment_id"], sid)
        r = stripe.send(t, stripe.session_completed(stripe.pay(sid)))
        assert r.status_code == 200 and r.json()["outcome"] == "processed"
        bad = billing.seed_payment(db, carol.user_id, pkg)
        sid = stripe.new_session(bad["payment_id"], pkg["price_minor"],
                                 pkg["currency"])
        billing.attach_session(db, bad["payment_id"], sid)
        ev = stripe.session_completed(stripe.pay(sid))
        ev["data"]["object"]["amount_total"] = pkg["price_minor"] + 1
        r = stripe.send(t, ev)
        assert r.status_code == 200 and r.json()["outcome"] == "flagged"
        before = billing.balance(db, carol.user_id)[0]

        out = run(BODY, t.url)
        refunds = stripe.refund_requests()
    finally:
        stripe.stop()

    assert_clean(out)
    assert out["admin_heading"] == "Users" and out["admin_nav"] is True
    assert out["first_page"] == 20
    assert out["first_page"] + out["second_page"] == users
    assert out["found"] == 1
    assert out["user_heading"] == USER
    assert out["user_url"] == t.url + "/admin/users/" + carol.user_id
    assert out["balance_before"] == credits_text(before)

    # The grant: the page's new balance is the user's own, to the micro.
    after = before + 2500000
    assert out["balance_after"] == credits_text(after)
    assert "New balance: %s." % credits_text(after) in out["grant_result"]
    mine = requests.get(t.url + "/api/credits", timeout=10,
                        headers=auth.bearer(carol.access_token)).json()
    assert mine["balance_micros"] == after
    assert db.query("SELECT count(*) FROM ledger_transactions t JOIN "
                    "ledger_entries e ON e.txn_id = t.id JOIN "
                    "ledger_accounts a ON a.id = e.account_id WHERE "
                    "t.kind = 'admin_grant' AND a.user_id = %s AND "
                    "e.amount = 2500000", carol.user_id) == [(1,)]
    assert out["bad_amount"].startswith("Amount:")
    assert out["toggle_label"] == "Suspend"
    assert [r[0] for r in db.query(
        "SELECT action FROM admin_audit WHERE target = %s AND action LIKE "
        "'user.%%' ORDER BY id", carol.user_id)] == ["user.suspend",
                                                     "user.reinstate"]

    # The price: what the form sent is the current price.
    assert out["price_result"] == "Saved the price of %s." % MODEL
    assert out["price_row"][1] == "7,000,000"
    assert out["price_row"][4] == "9,000,000"
    assert db.query("SELECT input_micros_per_mtok, output_micros_per_mtok "
                    "FROM model_prices WHERE model = %s ORDER BY id DESC "
                    "LIMIT 1", MODEL) == [(7000000, 9000000)]
    assert out["package_result"] == "Saved Starter (edited)."
    assert db.query("SELECT count(*) FROM billing_packages WHERE name = "
                    "'Starter (edited)'") == [(1,)]

    # Payments: the flagged one stands out and has no refund button.
    assert out["rows_all"] == 2
    assert "flagged" in out["flagged_row"] and USER in out["flagged_row"]
    assert out["flagged_refund"] is False
    assert out["flag_highlighted"] is True
    assert out["dialogs"] == 3         # suspend, reactivate, the refund
    assert len(refunds) == 1
    assert "succeeded" in out["refund_result"]

    assert out["narrow"] == {p: 0 for p in out["narrow"]}
    assert len(out["narrow"]) == 5
    check_ledger(db)
