# API keys: format, digest and input checks (pure); authentication of the
# router routes, the key-management API and the change feed (Kore).
PURE_SRCS += app/auth/apikey.c app/auth/keys_input.c
KORE_SRCS += app/auth/keys.c app/auth/keys_auth.c app/auth/keys_api.c \
	app/auth/keys_notify.c app/auth/lookup.c
