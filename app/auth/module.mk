# Identity: OAuth social login, sessions, access tokens (/auth/*).
PURE_SRCS += app/auth/b64.c app/auth/jwt.c app/auth/idtoken.c \
	app/auth/flow.c app/auth/cookie.c app/auth/revoked.c \
	app/auth/provider.c
KORE_SRCS += app/auth/auth.c app/auth/session.c app/auth/oauth.c
