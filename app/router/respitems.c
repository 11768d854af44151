/*
 * Stored /v1/responses: the JSON that goes into the store and what its
 * answers become (respitems.h). Everything read back from PostgreSQL is
 * checked for its shape: a garbled row is an error, never an empty
 * conversation.
 */

#include <stdio.h>
#include <string.h>

#include "router/respitems.h"

static int	respitems_all_objects(const json_t *);
static int	respitems_indexable(const json_t *);
static int	respitems_append(json_t *, const json_t *, int);

int
router_respitems_id_ok(const char *s)
{
	size_t	i;

	if (s == NULL || strncmp(s, "resp_", 5) != 0)
		return (0);
	s += 5;
	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return (0);
	}

	return (i == 48);
}

json_t *
router_respitems_prior(const char *previous, const char *items, char *err,
    size_t errlen)
{
	json_t		*prev, *map;
	json_error_t	 je;

	err[0] = '\0';
	prev = NULL;
	if (previous != NULL) {
		prev = json_loads(previous, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_array(prev) || !respitems_all_objects(prev)) {
			(void)snprintf(err, errlen, "a stored conversation is "
			    "not a list of items");
			json_decref(prev);
			return (NULL);
		}
	} else {
		prev = json_array();
	}

	if (items != NULL && items[0] != '\0') {
		map = json_loads(items, 0, &je);
		if (!json_is_object(map) || !respitems_all_objects(map)) {
			(void)snprintf(err, errlen, "stored items are not an "
			    "object of items");
			json_decref(map);
			json_decref(prev);
			return (NULL);
		}
	} else {
		map = json_object();
	}

	return (json_pack("{s:o, s:o}", "previous", prev, "items", map));
}

/* Every element of an array, or every value of an object, an object. */
static int
respitems_all_objects(const json_t *v)
{
	const char	*k;
	json_t		*e;
	size_t		 i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (!json_is_object(e))
				return (0);
		}
		return (1);
	}
	json_object_foreach((json_t *)v, k, e) {
		if (!json_is_object(e))
			return (0);
	}

	return (1);
}

json_t *
router_respitems_conversation(const json_t *prior, const json_t *input)
{
	json_t	*out, *prev;

	if (!json_is_array(input) || (out = json_array()) == NULL)
		return (NULL);
	prev = json_object_get(prior, "previous");
	if (json_is_array(prev) && json_array_extend(out, prev) != 0) {
		json_decref(out);
		return (NULL);
	}
	if (json_array_extend(out, (json_t *)input) != 0) {
		json_decref(out);
		return (NULL);
	}

	return (out);
}

json_t *
router_respitems_index(const json_t *input, const json_t *response)
{
	json_t	*out;

	if ((out = json_array()) == NULL)
		return (NULL);
	if (!respitems_append(out, json_object_get(response, "output"), 0) ||
	    !respitems_append(out, input, 1)) {
		json_decref(out);
		return (NULL);
	}

	return (out);
}

/* Appends the indexable items of list (output items: every one). */
static int
respitems_append(json_t *out, const json_t *list, int check_type)
{
	const char	*type;
	json_t		*e;
	size_t		 i;

	json_array_foreach(list, i, e) {
		if (!respitems_indexable(e))
			continue;
		type = json_string_value(json_object_get(e, "type"));
		if (check_type && type != NULL &&
		    !strcmp(type, "item_reference"))
			continue;
		if (json_array_append(out, e) != 0)
			return (0);
	}

	return (1);
}

static int
respitems_indexable(const json_t *item)
{
	const char	*id;
	size_t		 len;

	if (!json_is_object(item))
		return (0);
	if ((id = json_string_value(json_object_get(item, "id"))) == NULL)
		return (0);
	len = json_string_length(json_object_get(item, "id"));

	return (len > 0 && len <= ROUTER_RESPITEMS_ID_MAX &&
	    strlen(id) == len);
}

json_t *
router_respitems_deleted(const char *id)
{
	return (json_pack("{s:s, s:s, s:b}", "id", id, "object", "response",
	    "deleted", 1));
}
