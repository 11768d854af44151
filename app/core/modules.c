/*
 * The subsystems linked into tollgate, in the order their routes are
 * matched and their hooks run. Declared weak so that a module still
 * being written leaves a NULL here instead of breaking the link; the
 * list is walked to TG_MODULES_MAX, skipping NULLs.
 */

#include "tollgate.h"

#define WEAK	__attribute__((weak))

extern const struct tg_module	tg_core_module;
extern const struct tg_module	tg_auth_module WEAK;
extern const struct tg_module	tg_profiles_module WEAK;
extern const struct tg_module	tg_keys_module WEAK;
extern const struct tg_module	tg_router_module WEAK;
extern const struct tg_module	tg_credits_module WEAK;
extern const struct tg_module	tg_billing_module WEAK;
extern const struct tg_module	tg_admin_module WEAK;

const struct tg_module	*tg_modules[TG_MODULES_MAX] = {
	&tg_core_module,
	&tg_auth_module,
	&tg_profiles_module,
	&tg_keys_module,
	&tg_router_module,
	&tg_credits_module,
	&tg_billing_module,
	&tg_admin_module,
};
