/*
 * Sorted array of fixed-length ids; see idset.h.
 */

#include <stdlib.h>
#include <string.h>

#include "admin/idset.h"

static size_t	idset_find(const struct admin_idset *, const char *, int *);

/* 1 when id is in the set afterwards; 0 when it is not an id or no memory. */
int
admin_idset_add(struct admin_idset *s, const char *id)
{
	void	*p;
	size_t	 at, cap;
	int	 found;

	if (id == NULL || strlen(id) != ADMIN_ID_LEN)
		return (0);
	at = idset_find(s, id, &found);
	if (found)
		return (1);
	if (s->n == s->cap) {
		cap = s->cap == 0 ? 16 : s->cap * 2;
		if ((p = realloc(s->ids, cap * sizeof(*s->ids))) == NULL)
			return (0);
		s->ids = p;
		s->cap = cap;
	}
	memmove(&s->ids[at + 1], &s->ids[at], (s->n - at) * sizeof(*s->ids));
	memcpy(s->ids[at], id, ADMIN_ID_LEN + 1);
	s->n++;
	return (1);
}

void
admin_idset_remove(struct admin_idset *s, const char *id)
{
	size_t	at;
	int	found;

	if (id == NULL || strlen(id) != ADMIN_ID_LEN)
		return;
	at = idset_find(s, id, &found);
	if (!found)
		return;
	memmove(&s->ids[at], &s->ids[at + 1],
	    (s->n - at - 1) * sizeof(*s->ids));
	s->n--;
}

int
admin_idset_has(const struct admin_idset *s, const char *id)
{
	int	found;

	if (id == NULL || strlen(id) != ADMIN_ID_LEN)
		return (0);
	(void)idset_find(s, id, &found);
	return (found);
}

void
admin_idset_clear(struct admin_idset *s)
{
	free(s->ids);
	s->ids = NULL;
	s->n = 0;
	s->cap = 0;
}

/* Where id is, or would go; *found says which. */
static size_t
idset_find(const struct admin_idset *s, const char *id, int *found)
{
	size_t	lo, hi, mid;
	int	c;

	lo = 0;
	hi = s->n;
	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(s->ids[mid], id, ADMIN_ID_LEN);
		if (c == 0) {
			*found = 1;
			return (mid);
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}
