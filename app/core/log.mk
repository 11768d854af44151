# Log lines: JSON formatting (pure) and the wrap of Kore's kore_log,
# fatal and fatalx (-Wl,--wrap, LDWRAP_LOG in the Makefile).
PURE_SRCS += app/core/logfmt.c
KORE_SRCS += app/core/log.c
