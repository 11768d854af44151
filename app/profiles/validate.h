/*
 * Checks of the profile fields a user may set (PATCH /api/me/profile).
 * Pure C; every function takes a NUL-terminated UTF-8 string (jansson
 * has already refused invalid UTF-8 and NUL) and returns 1 when it is
 * acceptable.
 */

#ifndef PROFILES_VALIDATE_H
#define PROFILES_VALIDATE_H

#define PROFILES_NAME_MAX	80	/* characters */
#define PROFILES_URL_MAX	2048
#define PROFILES_LOCALE_MAX	64
#define PROFILES_TZ_MAX		64
#define PROFILES_MODEL_MAX	200

int	profiles_display_name_ok(const char *);
int	profiles_avatar_url_ok(const char *);
int	profiles_locale_ok(const char *);
int	profiles_timezone_ok(const char *);
int	profiles_default_model_ok(const char *);

#endif
