# The migrations embedded in the binary: names, order and checksums are
# pure; `tollgate migrate` runs before Kore starts, with blocking libpq.
PURE_SRCS += app/core/migrations.c
KORE_SRCS += app/core/migrate.c
