# Credits: cost math, prompt bounds and input checks are pure C; the
# endpoints, the meter the router calls (router/meter.h) and the sweeper
# use Kore.
PURE_SRCS += app/credits/cost.c app/credits/prompt.c app/credits/validate.c \
	app/credits/lease_plan.c
KORE_SRCS += app/credits/credits.c app/credits/api.c app/credits/admin.c \
	app/credits/job.c app/credits/sweeper.c app/credits/meter.c \
	app/credits/lease.c
