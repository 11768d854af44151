# Profiles: the signed-in user's account (/api/me*).
PURE_SRCS += app/profiles/validate.c
KORE_SRCS += app/profiles/profiles.c
