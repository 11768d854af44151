# Billing: credit packages, checkout with a payment provider (Stripe),
# and provider webhooks that credit the ledger exactly once.
PURE_SRCS += app/billing/provider.c app/billing/stripe.c \
	app/billing/stripe_sig.c
