# A UI on another origin: CORS, the rules (pure) and the answers.
PURE_SRCS += app/core/cors.c
KORE_SRCS += app/core/cors_http.c

# GET /openapi.json (docs/openapi.yaml, embedded by the Makefile).
KORE_SRCS += app/core/openapi.c
