/*
 * Model names as callers write them and as API keys restrict them.
 * Pure C.
 */

#ifndef TG_MODEL_H
#define TG_MODEL_H

#include <stddef.h>

int	tg_model_pattern_valid(const char *);
int	tg_model_allowed(const char (*)[128], int, const char *);

#endif
