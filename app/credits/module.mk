# Credits: cost math, prompt bounds and input checks are pure C; the
# endpoints, the meter the router calls and the sweeper use Kore.
PURE_SRCS += app/credits/cost.c app/credits/prompt.c app/credits/validate.c
KORE_SRCS += app/credits/credits.c app/credits/api.c app/credits/admin.c \
	app/credits/job.c app/credits/sweeper.c
# The meter implements app/router/meter.h; until the router is merged a
# stub stands in.
ifneq ($(wildcard app/router/meter.h),)
KORE_SRCS += app/credits/meter.c
else
KORE_SRCS += app/credits/meter_none.c
endif
