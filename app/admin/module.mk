# Admin surface: token syntax and the suspended-user set are pure; the
# routes, the admin-token check, the session guard and the command line
# use Kore (and libpq, blocking, before Kore starts).
PURE_SRCS += app/admin/input.c app/admin/idset.c
KORE_SRCS += app/admin/admin.c app/admin/guard.c app/admin/cli.c
