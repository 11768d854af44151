# Billing: credit packages, checkout with a payment provider (Stripe),
# provider webhooks that credit the ledger exactly once, admin refunds.
PURE_SRCS += app/billing/package.c app/billing/provider.c app/billing/stripe.c \
	app/billing/stripe_sig.c
KORE_SRCS += app/billing/billing.c app/billing/checkout.c \
	app/billing/webhook.c app/billing/refund.c
