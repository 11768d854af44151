/*
 * Without the router (app/router/meter.h absent) there is nothing to
 * meter; module.mk builds meter.c instead once the router is there.
 */

#include "credits/credits.h"

void
credits_meter_init(void)
{
}
