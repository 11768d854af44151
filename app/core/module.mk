# Shared core: configuration, dispatch, errors, HTTP and JSON helpers,
# asynchronous PostgreSQL, metrics and the operations routes.
PURE_SRCS += app/core/config.c app/core/qs.c app/core/lex.c \
	app/core/model.c app/core/ratelimit.c app/core/clean.c \
	app/core/drain_plan.c
KORE_SRCS += app/core/main.c app/core/modules.c app/core/dispatch.c \
	app/core/error.c app/core/http.c app/core/db.c app/core/pgpool.c \
	app/core/metrics.c app/core/health.c app/core/fetch.c \
	app/core/ratelimit_http.c app/core/pool.c \
	app/core/conns.c app/core/drain.c
# Secrets from X_FILE (pure) and the SIGHUP reload of the workers.
PURE_SRCS += app/core/secretfile.c
KORE_SRCS += app/core/reload.c
