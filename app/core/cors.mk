# CORS for a UI on another origin: the rules (pure) and the answers.
PURE_SRCS += app/core/cors.c
KORE_SRCS += app/core/cors_http.c
