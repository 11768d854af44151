# Router: provider families, translation, streaming (/v1/*).

# families engineer: anthropic and gemini translation, the /v1/messages
# surface (pure; unit-tested in tests/unit/router/).
PURE_SRCS += app/router/xlate.c app/router/family_anthropic.c \
	app/router/family_gemini.c app/router/messages.c
