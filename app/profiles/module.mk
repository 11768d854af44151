# Profiles: the signed-in user's account (/api/me*).
PURE_SRCS +=
KORE_SRCS += app/profiles/profiles.c
