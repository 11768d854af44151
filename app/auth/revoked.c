/*
 * Revoked sessions, remembered only as long as an access token minted
 * for them could still be valid (an entry carries its own end time and
 * is pruned after it). Session ids are hashed into a fixed number of
 * buckets; expired entries are swept when the set grows past a
 * threshold, so memory stays proportional to the revocations of the
 * last token lifetime.
 */

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/revoked.h"
#include "lex.h"

#define REVOKED_BUCKETS		1024

struct revoked_entry {
	char				sid[AUTH_UUID_LEN + 1];
	int64_t				until;
	LIST_ENTRY(revoked_entry)	list;
};

LIST_HEAD(revoked_list, revoked_entry);

struct auth_revoked {
	struct revoked_list	buckets[REVOKED_BUCKETS];
	size_t			count;
	size_t			sweep_at;
};

static unsigned int	revoked_hash(const char *);
static void		revoked_sweep(struct auth_revoked *, int64_t);

struct auth_revoked *
auth_revoked_new(void)
{
	struct auth_revoked	*set;
	size_t			 i;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return (NULL);
	for (i = 0; i < REVOKED_BUCKETS; i++)
		LIST_INIT(&set->buckets[i]);
	set->sweep_at = REVOKED_BUCKETS;

	return (set);
}

void
auth_revoked_free(struct auth_revoked *set)
{
	struct revoked_entry	*e;
	size_t			 i;

	if (set == NULL)
		return;
	for (i = 0; i < REVOKED_BUCKETS; i++) {
		while ((e = LIST_FIRST(&set->buckets[i])) != NULL) {
			LIST_REMOVE(e, list);
			free(e);
		}
	}
	free(set);
}

/*
 * Remember sid until the given time. Returns 1 when it was added or its
 * time extended, 0 when it was known already or is not a session id.
 */
int
auth_revoked_add(struct auth_revoked *set, const char *sid, int64_t until,
    int64_t now)
{
	struct revoked_entry	*e;
	unsigned int		 h;

	if (!tg_uuid_canonical(sid) || until <= now)
		return (0);

	h = revoked_hash(sid);
	LIST_FOREACH(e, &set->buckets[h], list) {
		if (strcmp(e->sid, sid) == 0) {
			if (e->until >= until)
				return (0);
			e->until = until;
			return (1);
		}
	}

	if (set->count >= set->sweep_at)
		revoked_sweep(set, now);

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (0);
	memcpy(e->sid, sid, AUTH_UUID_LEN + 1);
	e->until = until;
	LIST_INSERT_HEAD(&set->buckets[h], e, list);
	set->count++;

	return (1);
}

int
auth_revoked_has(struct auth_revoked *set, const char *sid, int64_t now)
{
	struct revoked_entry	*e;

	if (set == NULL || !tg_uuid_canonical(sid))
		return (0);

	LIST_FOREACH(e, &set->buckets[revoked_hash(sid)], list) {
		if (strcmp(e->sid, sid) == 0)
			return (e->until > now);
	}

	return (0);
}

size_t
auth_revoked_count(struct auth_revoked *set)
{
	return (set->count);
}

/* FNV-1a over the id's characters. */
static unsigned int
revoked_hash(const char *sid)
{
	unsigned int	h;

	for (h = 2166136261u; *sid != '\0'; sid++)
		h = (h ^ (unsigned char)*sid) * 16777619u;

	return (h % REVOKED_BUCKETS);
}

/* Drop expired entries; let the set grow when most are still live. */
static void
revoked_sweep(struct auth_revoked *set, int64_t now)
{
	struct revoked_entry	*e, *next;
	size_t			 i;

	for (i = 0; i < REVOKED_BUCKETS; i++) {
		for (e = LIST_FIRST(&set->buckets[i]); e != NULL; e = next) {
			next = LIST_NEXT(e, list);
			if (e->until > now)
				continue;
			LIST_REMOVE(e, list);
			free(e);
			set->count--;
		}
	}

	set->sweep_at = set->count * 2 > REVOKED_BUCKETS ?
	    set->count * 2 : REVOKED_BUCKETS;
}
