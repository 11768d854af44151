# API keys: format and digest (pure), authentication of /v1 (Kore).
PURE_SRCS += app/auth/apikey.c
KORE_SRCS += app/auth/keys.c app/auth/keys_auth.c
