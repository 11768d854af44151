# families engineer: anthropic and gemini translation, the /v1/messages
# surface (pure; unit-tested in tests/unit/router/). Kept first so that
# additions below merge without touching it.
PURE_SRCS += app/router/xlate.c app/router/family_anthropic.c \
	app/router/family_gemini.c app/router/messages.c

# The router: provider catalog (conf/router.json), request checks, the
# SSE parser and the openai and echo families are pure C; the handlers
# and the upstream relay use Kore.
PURE_SRCS += app/router/sse.c
PURE_SRCS += app/router/catalog.c app/router/request.c \
	app/router/upstream.c app/router/openai.c app/router/echo.c
KORE_SRCS += app/router/router.c app/router/relay.c app/router/call.c
KORE_SRCS += app/router/count.c

# Per-target cooldown (circuit breaker) decisions and the stream
# preamble hold-back test, pure.
PURE_SRCS += app/router/cooldown.c app/router/holdback.c
# The catalog in use, counted so calls finish on the one they started
# with across a reload (SIGHUP).
KORE_SRCS += app/router/conf.c
# An alias's weighted tiers: the round-robin pick and the attempt
# order, pure.
PURE_SRCS += app/router/weights.c
# Stored /v1/responses: the JSON it keeps (pure) and its statements and
# GET / DELETE handlers.
PURE_SRCS += app/router/respitems.c
KORE_SRCS += app/router/respstore.c
# The Responses surface (/v1/responses): pure translation to and from
# the chat shapes, as messages.c for /v1/messages.
PURE_SRCS += app/router/responses.c
