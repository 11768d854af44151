/*
 * The catalog in use and its reload (router.h, struct router_conf).
 *
 * router_conf is counted: one reference is "current", and every call
 * (relay.c) and /v1/models request holds one from the moment it looks a
 * model up until Kore frees the request. A reload (core/reload.c) loads
 * and checks the new catalog aside, then makes it current and drops the
 * old one's "current" reference: the old catalog is freed when its last
 * call ends, so a stream started before a reload finishes on it.
 *
 * Breakers (relay.c) live in the catalog: a new one starts with the
 * state of the same model ids in the old one; a call that straddles a
 * reload feeds the breaker of the same model id in the current catalog.
 * Metrics exist per provider of the first catalog (declared in the
 * parent); a provider a reload adds counts nothing until a restart.
 * A weighted tier's pick (catalog.h) asks the current catalog's
 * breakers; a new catalog's round-robin starts afresh.
 */

#include <stdlib.h>
#include <string.h>

#include "router/router.h"
#include "metrics.h"
#include "reload.h"

struct router_catalog	*router_catalog;
struct router_conf	*router_conf;

static int	conf_prepare(const struct tg_config *, tg_getenv_fn,
		    struct tg_config_errors *);
static void	conf_commit(char *, size_t);
static void	conf_abort(void);
static void	conf_metric_slots(struct router_catalog *);
static void	conf_carry_breakers(struct router_conf *,
		    struct router_conf *);
static struct router_conf *conf_new(struct router_catalog *);
static int	conf_cooling(const struct router_catalog *,
		    const struct router_model *);

static const struct tg_reload_hook	conf_hook = {
	"router", conf_prepare, conf_commit, conf_abort
};

/* Provider names of the first catalog: the ones with metrics. */
static char			 metric_names[ROUTER_PROVIDERS_MAX]
				    [ROUTER_NAME_MAX];
static int			 metric_count;
static struct router_catalog	*pending;
static struct router_cooldown	 straddler;

/* Parent: the first catalog (loaded into cat by the caller next). */
void
router_conf_init(struct router_catalog *cat)
{
	router_conf = conf_new(cat);
	router_catalog = cat;
}

/*
 * Worker: whatever catalog the parent loaded is the one metrics were
 * declared for (a worker forks from the parent, also after a reload).
 */
void
router_conf_worker_init(void)
{
	int	i;

	metric_count = router_catalog->nproviders;
	for (i = 0; i < metric_count; i++)
		(void)kore_strlcpy(metric_names[i],
		    router_catalog->providers[i].name, sizeof(metric_names[i]));

	tg_reload_register(&conf_hook);
	router_catalog_cooling = conf_cooling;
}

struct router_conf *
router_conf_hold(void)
{
	router_conf->refs++;
	return (router_conf);
}

void
router_conf_drop(struct router_conf *rc)
{
	if (--rc->refs > 0)
		return;

	router_catalog_free(rc->cat);
	free(rc->cat);
	kore_free(rc);
}

/* The breaker of model m of rc, as it is now (see the header comment). */
struct router_cooldown *
router_conf_cooler(struct router_conf *rc, const struct router_model *m)
{
	const struct router_catalog	*cur = router_conf->cat;
	ptrdiff_t			 i;

	i = m - rc->cat->models;
	if (i < 0 || i >= rc->cat->nmodels)
		fatal("router: a target outside its catalog");
	if (rc == router_conf)
		return (&rc->cool[i]);

	for (i = 0; i < cur->nmodels; i++) {
		if (!strcmp(cur->models[i].id, m->id))
			return (&router_conf->cool[i]);
	}

	/* A model the reload removed: its verdicts count for nothing. */
	memset(&straddler, 0, sizeof(straddler));
	return (&straddler);
}

/*
 * For a weighted pick: whether m cools now. Only the current catalog is
 * picked from (a call resolves on the one it has just held); any other
 * says no, and the relay's own admission still skips the target.
 */
static int
conf_cooling(const struct router_catalog *cat, const struct router_model *m)
{
	if (cat != router_conf->cat)
		return (0);

	return (router_cooldown_skips(&router_conf->cool[m - cat->models],
	    tg_now_us() / 1000));
}

static struct router_conf *
conf_new(struct router_catalog *cat)
{
	struct router_conf	*rc;

	rc = kore_calloc(1, sizeof(*rc));
	rc->cat = cat;
	rc->refs = 1;

	return (rc);
}

static int
conf_prepare(const struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	struct router_catalog	*cat;

	if ((cat = calloc(1, sizeof(*cat))) == NULL) {
		tg_config_error(errs, "TOLLGATE_ROUTER_CONFIG: out of memory");
		return (0);
	}
	if (!router_catalog_load(cat, conf->router_config, conf->production,
	    get, errs)) {
		router_catalog_free(cat);
		free(cat);
		return (0);
	}

	conf_metric_slots(cat);
	pending = cat;
	return (1);
}

static void
conf_commit(char *summary, size_t len)
{
	struct router_conf	*old, *rc;

	rc = conf_new(pending);
	pending = NULL;
	old = router_conf;
	conf_carry_breakers(old, rc);

	router_conf = rc;
	router_catalog = rc->cat;
	(void)snprintf(summary, len, "router: %d providers, %d models, "
	    "%d aliases", rc->cat->nproviders, rc->cat->nmodels,
	    rc->cat->naliases);

	/* Calls still on the old catalog keep it until they end. */
	router_conf_drop(old);
}

static void
conf_abort(void)
{
	if (pending == NULL)
		return;
	router_catalog_free(pending);
	free(pending);
	pending = NULL;
}

/* Each provider's metrics are those of its name in the first catalog. */
static void
conf_metric_slots(struct router_catalog *cat)
{
	struct router_provider	*p;
	int			 i, j;

	for (i = 0; i < cat->nproviders; i++) {
		p = &cat->providers[i];
		p->index = ROUTER_METRIC_NONE;
		for (j = 0; j < metric_count; j++) {
			if (!strcmp(metric_names[j], p->name)) {
				p->index = j;
				break;
			}
		}
	}
}

/*
 * The new catalog's breakers start where the old ones of the same model
 * are; a cooling target that is gone no longer counts in the gauge.
 */
static void
conf_carry_breakers(struct router_conf *old, struct router_conf *rc)
{
	const struct router_model	*m;
	int				 i, j, found;

	for (i = 0; i < old->cat->nmodels; i++) {
		m = &old->cat->models[i];
		found = 0;
		for (j = 0; j < rc->cat->nmodels; j++) {
			if (strcmp(rc->cat->models[j].id, m->id))
				continue;
			rc->cool[j] = old->cool[i];
			found = 1;
			if (rc->cat->models[j].provider->index !=
			    m->provider->index && old->cool[i].cooling) {
				tg_metrics_add(router_metric_cooling
				    [m->provider->index], -1);
				tg_metrics_add(router_metric_cooling
				    [rc->cat->models[j].provider->index], 1);
			}
			break;
		}
		if (!found && old->cool[i].cooling)
			tg_metrics_add(router_metric_cooling[m->provider->index],
			    -1);
	}
}
