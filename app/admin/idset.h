/*
 * A set of ids (uuids as PostgreSQL prints them), kept sorted: the
 * suspended users one worker knows of. Small (suspensions are rare), so
 * lookups are a binary search and changes a memmove. Pure C (malloc).
 */

#ifndef ADMIN_IDSET_H
#define ADMIN_IDSET_H

#include <stddef.h>

#define ADMIN_ID_LEN	36

struct admin_idset {
	char	(*ids)[ADMIN_ID_LEN + 1];
	size_t	  n;
	size_t	  cap;
};

int	admin_idset_add(struct admin_idset *, const char *);
void	admin_idset_remove(struct admin_idset *, const char *);
int	admin_idset_has(const struct admin_idset *, const char *);
void	admin_idset_clear(struct admin_idset *);

#endif
