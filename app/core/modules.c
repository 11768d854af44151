/*
 * The subsystems linked into tollgate, in the order their routes are
 * matched and their hooks run.
 */

#include "tollgate.h"

extern const struct tg_module	tg_core_module;

const struct tg_module	*tg_modules[] = {
	&tg_core_module,
	NULL
};
