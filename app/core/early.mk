# Kore's own early answers in the contract's shape, framing checks.
KORE_SRCS += app/core/early.c
