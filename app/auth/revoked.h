/*
 * The per-worker set of revoked session ids whose access tokens may
 * still be unexpired. Pure C (malloc).
 */

#ifndef AUTH_REVOKED_H
#define AUTH_REVOKED_H

#include <stddef.h>
#include <stdint.h>

struct auth_revoked;

struct auth_revoked	*auth_revoked_new(void);
void			 auth_revoked_free(struct auth_revoked *);
int			 auth_revoked_add(struct auth_revoked *, const char *,
			    int64_t, int64_t);
int			 auth_revoked_has(struct auth_revoked *, const char *,
			    int64_t);
size_t			 auth_revoked_count(struct auth_revoked *);

#endif
