/*
 * Prometheus metrics in shared memory (see metrics.h).
 *
 * Layout: one anonymous MAP_SHARED region, created by the parent before
 * the fork, holds an int64 array. A series owns one slot (counter, gauge)
 * or nbuckets + 2 slots (histogram: cumulative-by-render buckets, count,
 * and the sum in millionths). Request counters live after the series:
 * one slot per (route, status 100..599), the last route being
 * "unmatched". Descriptors stay in ordinary memory, fixed at fork time.
 */

#include <sys/mman.h>

#include <math.h>
#include <string.h>

#include "tollgate.h"
#include "metrics.h"

#define STATUS_MIN	100
#define STATUS_SLOTS	500
#define ROUTES_MAX	128

struct series {
	int		 type;
	const char	*name;
	const char	*help;
	const char	*labels;
	double		 bounds[TG_METRICS_BUCKETS_MAX];
	int		 nbounds;
	size_t		 slot;
};

static int64_t		*slots;
static size_t		 nslots;
static struct series	 series[TG_METRICS_SERIES_MAX];
static int		 nseries;
static size_t		 next_slot;
static const char	*route_names[ROUTES_MAX];
static int		 nroutes;
static size_t		 route_base;

int	tg_metric_db_pool_waits = -1;
int	tg_metric_db_errors = -1;

static void	metrics_render_series(struct kore_buf *, struct series *);
static void	metrics_render_requests(struct kore_buf *);

void
tg_metrics_init(void)
{
	nslots = TG_METRICS_SERIES_MAX * 4 + ROUTES_MAX * STATUS_SLOTS;
	slots = mmap(NULL, nslots * sizeof(int64_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED)
		fatal("metrics: mmap: %s", errno_s);

	next_slot = 0;
	nseries = 0;

	tg_metric_db_pool_waits = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_db_pool_waits_total",
	    "Queries that waited for a free PostgreSQL connection.", NULL,
	    NULL, 0);
	tg_metric_db_errors = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_db_errors_total",
	    "PostgreSQL statements that failed.", NULL, NULL, 0);
}

/*
 * Declare a series; returns its id. Only valid in the parent before the
 * workers fork. labels is the inside of {...}, e.g. "provider=\"openai\"".
 */
int
tg_metrics_declare(int type, const char *name, const char *help,
    const char *labels, const double *bounds, int nbounds)
{
	struct series	*s;
	size_t		 need;

	if (nseries >= TG_METRICS_SERIES_MAX)
		fatal("metrics: too many series");
	if (nbounds > TG_METRICS_BUCKETS_MAX)
		fatal("metrics: too many buckets for %s", name);

	need = (type == TG_METRIC_HISTOGRAM) ? (size_t)nbounds + 3 : 1;
	if (next_slot + need > TG_METRICS_SERIES_MAX * 4)
		fatal("metrics: out of slots");

	s = &series[nseries];
	s->type = type;
	s->name = name;
	s->help = help;
	s->labels = labels;
	s->nbounds = nbounds;
	if (nbounds > 0)
		memcpy(s->bounds, bounds, nbounds * sizeof(double));
	s->slot = next_slot;
	next_slot += need;

	return (nseries++);
}

void
tg_metrics_add(int id, int64_t n)
{
	if (id < 0 || id >= nseries || slots == NULL)
		return;
	__atomic_add_fetch(&slots[series[id].slot], n, __ATOMIC_RELAXED);
}

void
tg_metrics_set(int id, int64_t n)
{
	if (id < 0 || id >= nseries || slots == NULL)
		return;
	__atomic_store_n(&slots[series[id].slot], n, __ATOMIC_RELAXED);
}

void
tg_metrics_observe(int id, double v)
{
	struct series	*s;
	int		 i;

	if (id < 0 || id >= nseries || slots == NULL)
		return;

	s = &series[id];
	for (i = 0; i < s->nbounds; i++) {
		if (v <= s->bounds[i])
			break;
	}
	/* Slot i counts observations in (bounds[i-1], bounds[i]]. */
	__atomic_add_fetch(&slots[s->slot + i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&slots[s->slot + s->nbounds + 1], 1,
	    __ATOMIC_RELAXED);
	__atomic_add_fetch(&slots[s->slot + s->nbounds + 2],
	    (int64_t)llround(v * 1e6), __ATOMIC_RELAXED);
}

void
tg_metrics_routes(const char **names, int n)
{
	if (n + 1 > ROUTES_MAX)
		fatal("metrics: too many routes");

	memcpy(route_names, names, n * sizeof(*names));
	route_names[n] = "unmatched";
	nroutes = n + 1;
	route_base = TG_METRICS_SERIES_MAX * 4;
}

/* route is an index given to tg_metrics_routes(), or -1 for unmatched. */
void
tg_metrics_request(int route, int status)
{
	if (slots == NULL || nroutes == 0)
		return;
	if (route < 0 || route >= nroutes)
		route = nroutes - 1;
	if (status < STATUS_MIN || status >= STATUS_MIN + STATUS_SLOTS)
		return;

	__atomic_add_fetch(&slots[route_base + route * STATUS_SLOTS +
	    (status - STATUS_MIN)], 1, __ATOMIC_RELAXED);
}

void
tg_metrics_render(struct kore_buf *buf)
{
	int	i, j, seen;

	metrics_render_requests(buf);

	for (i = 0; i < nseries; i++) {
		seen = 0;
		for (j = 0; j < i; j++) {
			if (!strcmp(series[j].name, series[i].name))
				seen = 1;
		}
		if (seen)
			continue;

		kore_buf_appendf(buf, "# HELP %s %s\n# TYPE %s %s\n",
		    series[i].name, series[i].help, series[i].name,
		    series[i].type == TG_METRIC_COUNTER ? "counter" :
		    series[i].type == TG_METRIC_GAUGE ? "gauge" : "histogram");
		for (j = i; j < nseries; j++) {
			if (!strcmp(series[j].name, series[i].name))
				metrics_render_series(buf, &series[j]);
		}
	}
}

static void
metrics_render_series(struct kore_buf *buf, struct series *s)
{
	int64_t		 cum, v;
	const char	*l, *sep;
	int		 i;

	l = s->labels != NULL ? s->labels : "";
	sep = *l != '\0' ? "," : "";

	if (s->type != TG_METRIC_HISTOGRAM) {
		v = __atomic_load_n(&slots[s->slot], __ATOMIC_RELAXED);
		if (*l != '\0')
			kore_buf_appendf(buf, "%s{%s} %lld\n", s->name, l,
			    (long long)v);
		else
			kore_buf_appendf(buf, "%s %lld\n", s->name,
			    (long long)v);
		return;
	}

	cum = 0;
	for (i = 0; i < s->nbounds; i++) {
		cum += __atomic_load_n(&slots[s->slot + i], __ATOMIC_RELAXED);
		kore_buf_appendf(buf, "%s_bucket{%s%sle=\"%g\"} %lld\n",
		    s->name, l, sep, s->bounds[i], (long long)cum);
	}
	cum += __atomic_load_n(&slots[s->slot + s->nbounds], __ATOMIC_RELAXED);
	kore_buf_appendf(buf, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", s->name, l,
	    sep, (long long)cum);

	v = __atomic_load_n(&slots[s->slot + s->nbounds + 2], __ATOMIC_RELAXED);
	kore_buf_appendf(buf, "%s_sum%s%s%s %.6f\n", s->name,
	    *l ? "{" : "", l, *l ? "}" : "", (double)v / 1e6);
	v = __atomic_load_n(&slots[s->slot + s->nbounds + 1], __ATOMIC_RELAXED);
	kore_buf_appendf(buf, "%s_count%s%s%s %lld\n", s->name,
	    *l ? "{" : "", l, *l ? "}" : "", (long long)v);
}

static void
metrics_render_requests(struct kore_buf *buf)
{
	int64_t		v;
	int		r, st;

	kore_buf_appendf(buf, "# HELP tollgate_http_requests_total "
	    "HTTP requests answered, by route and status.\n"
	    "# TYPE tollgate_http_requests_total counter\n");

	for (r = 0; r < nroutes; r++) {
		for (st = 0; st < STATUS_SLOTS; st++) {
			v = __atomic_load_n(&slots[route_base +
			    r * STATUS_SLOTS + st], __ATOMIC_RELAXED);
			if (v == 0)
				continue;
			kore_buf_appendf(buf, "tollgate_http_requests_total"
			    "{route=\"%s\",status=\"%d\"} %lld\n",
			    route_names[r], st + STATUS_MIN, (long long)v);
		}
	}
}
