# The console: the web UI of console/, embedded by the Makefile
# (scripts/embed-console.py) and served at / (docs/frontend.md).
PURE_SRCS += app/core/console_rules.c
KORE_SRCS += app/core/console.c
