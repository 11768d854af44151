# Redaction and cleaning of untrusted text (upstream errors).
PURE_SRCS += app/core/redact.c
