/*
 * Prometheus metrics in shared memory (see metrics.h).
 *
 * Layout: one anonymous MAP_SHARED region, created by the parent before
 * the fork, holds an int64 array. A series owns one slot (counter, gauge)
 * or nbuckets + 2 slots (histogram: cumulative-by-render buckets, count,
 * and the sum in millionths). Request counters live after the series:
 * one slot per (route, status 100..599), the last route being
 * "unmatched"; then the request duration histograms, one per (route,
 * status class 1xx..5xx). Descriptors stay in ordinary memory, fixed at
 * fork time.
 *
 * A second region (struct metrics_shared) holds what is only known
 * while serving: the tokens and cost of each model a call was charged
 * for (a table filled on first use under a spin lock; models beyond
 * MODELS_MAX count as "other", so the labels stay bounded), and each
 * worker's process figures (CPU, memory, descriptors), sampled by the
 * worker itself every PROC_SAMPLE_MS and when it renders /metrics.
 * process_* are the sums over the workers (the parent only supervises
 * and is not counted); process_start_time_seconds is the parent's.
 */

#include <sys/mman.h>
#include <sys/resource.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tollgate.h"
#include "metrics.h"

#define STATUS_MIN	100
#define STATUS_SLOTS	500
#define ROUTES_MAX	128
#define CLASSES		5		/* 1xx .. 5xx */

/* Request durations, in seconds: from API calls to long streams. */
static const double	http_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
	300
};
#define HTTP_NB		(sizeof(http_bounds) / sizeof(http_bounds[0]))
/* Per histogram: the buckets, +Inf, the count, the sum in microseconds. */
#define HTTP_SLOTS	(HTTP_NB + 3)

#define MODELS_MAX	256
#define MODEL_NAME_MAX	160
#define WORKERS_MAX	KORE_WORKER_MAX
#define PROC_SAMPLE_MS	5000

/* The per-model values, in the order of model_kinds[]. */
#define MV_PROMPT	0
#define MV_CACHED	1
#define MV_CACHE_WRITE	2
#define MV_COMPLETION	3
#define MV_COST		4
#define MV_COUNT	5

static const char	*model_kinds[] = {
	"prompt", "cached", "cache_write", "completion"
};

struct metrics_model {
	int		state;		/* 0 free, 1 named */
	char		name[MODEL_NAME_MAX];
	int64_t		v[MV_COUNT];
};

struct metrics_proc {
	int64_t		cpu_ticks;
	int64_t		rss_bytes;
	int64_t		vsize_bytes;
	int64_t		fds;
	int64_t		max_fds;
};

struct metrics_shared {
	int			lock;
	struct metrics_model	models[MODELS_MAX];
	struct metrics_proc	procs[WORKERS_MAX + 1];
};

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
static size_t		 duration_base;
static struct metrics_shared	*shared;
static double		 start_time;

int	tg_metric_db_pool_waits = -1;
int	tg_metric_db_errors = -1;
int	tg_metric_streams_open = -1;

static void	metrics_render_series(struct kore_buf *, struct series *);
static void	metrics_render_requests(struct kore_buf *);
static void	metrics_render_durations(struct kore_buf *);
static void	metrics_render_models(struct kore_buf *);
static void	metrics_render_process(struct kore_buf *);
static void	metrics_label(struct kore_buf *, const char *);
static struct metrics_model *metrics_model(const char *);
static void	metrics_sample_timer(void *, u_int64_t);

void
tg_metrics_init(void)
{
	struct timespec	ts;

	nslots = TG_METRICS_SERIES_MAX * 4 + ROUTES_MAX * STATUS_SLOTS +
	    ROUTES_MAX * CLASSES * HTTP_SLOTS;
	slots = mmap(NULL, nslots * sizeof(int64_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED)
		fatal("metrics: mmap: %s", errno_s);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		fatal("metrics: mmap: %s", errno_s);

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

	next_slot = 0;
	nseries = 0;

	tg_metric_db_pool_waits = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_db_pool_waits_total",
	    "Queries that waited for a free PostgreSQL connection.", NULL,
	    NULL, 0);
	tg_metric_db_errors = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_db_errors_total",
	    "PostgreSQL statements that failed.", NULL, NULL, 0);
	tg_metric_streams_open = tg_metrics_declare(TG_METRIC_GAUGE,
	    "tollgate_streams_open",
	    "Streamed answers in progress (their headers sent, not ended).",
	    NULL, NULL, 0);
}

/* In each worker: sample its process figures now and every few seconds. */
void
tg_metrics_worker_init(void)
{
	tg_metrics_sample_process();
	(void)kore_timer_add(metrics_sample_timer, PROC_SAMPLE_MS, NULL, 0);
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
	duration_base = route_base + ROUTES_MAX * STATUS_SLOTS;
}

/*
 * route is an index given to tg_metrics_routes(), or -1 for unmatched;
 * us is how long the request took, from its headers to its end.
 */
void
tg_metrics_request(int route, int status, u_int64_t us)
{
	int64_t	*h;
	double	 secs;
	size_t	 i;

	if (slots == NULL || nroutes == 0)
		return;
	if (route < 0 || route >= nroutes)
		route = nroutes - 1;
	if (status < STATUS_MIN || status >= STATUS_MIN + STATUS_SLOTS)
		return;

	__atomic_add_fetch(&slots[route_base + route * STATUS_SLOTS +
	    (status - STATUS_MIN)], 1, __ATOMIC_RELAXED);

	h = &slots[duration_base + (route * CLASSES + status / 100 - 1) *
	    HTTP_SLOTS];
	secs = (double)us / 1e6;
	for (i = 0; i < HTTP_NB; i++) {
		if (secs <= http_bounds[i])
			break;
	}
	__atomic_add_fetch(&h[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h[HTTP_NB + 1], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h[HTTP_NB + 2], (int64_t)us, __ATOMIC_RELAXED);
}

/*
 * A call's charge, by the model it was charged for ("provider:model"):
 * the tokens charged by kind and the micro-credits.
 */
void
tg_metrics_usage(const char *model, int64_t prompt, int64_t cached,
    int64_t cache_write, int64_t completion, int64_t cost)
{
	struct metrics_model	*m;

	if (shared == NULL || model == NULL)
		return;
	if ((m = metrics_model(model)) == NULL)
		return;

	__atomic_add_fetch(&m->v[MV_PROMPT], prompt, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->v[MV_CACHED], cached, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->v[MV_CACHE_WRITE], cache_write,
	    __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->v[MV_COMPLETION], completion, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->v[MV_COST], cost, __ATOMIC_RELAXED);
}

/*
 * The model's entry: found among the named ones, or named now under the
 * lock (a name is written before its state says so, and never changes).
 * A name too long, or a full table, counts under the last entry, "other".
 */
static struct metrics_model *
metrics_model(const char *name)
{
	struct metrics_model	*m;
	int			 i;

	if (strlen(name) >= MODEL_NAME_MAX)
		name = "other";

	for (i = 0; i < MODELS_MAX; i++) {
		m = &shared->models[i];
		if (!__atomic_load_n(&m->state, __ATOMIC_ACQUIRE))
			break;
		if (!strcmp(m->name, name))
			return (m);
	}

	while (__atomic_exchange_n(&shared->lock, 1, __ATOMIC_ACQUIRE))
		;
	for (i = 0; i < MODELS_MAX - 1; i++) {
		m = &shared->models[i];
		if (!m->state) {
			(void)kore_strlcpy(m->name, name, sizeof(m->name));
			__atomic_store_n(&m->state, 1, __ATOMIC_RELEASE);
			break;
		}
		if (!strcmp(m->name, name))
			break;
	}
	if (i == MODELS_MAX - 1) {
		m = &shared->models[i];
		if (!m->state) {
			(void)kore_strlcpy(m->name, "other", sizeof(m->name));
			__atomic_store_n(&m->state, 1, __ATOMIC_RELEASE);
		}
	}
	__atomic_store_n(&shared->lock, 0, __ATOMIC_RELEASE);

	return (m);
}

/*
 * This worker's CPU time, memory and descriptors, from /proc/self
 * (figures a worker cannot read of another process once it dropped
 * its privileges). Its slot is its Kore worker id.
 */
void
tg_metrics_sample_process(void)
{
	struct metrics_proc	 p;
	struct rlimit		 rl;
	struct dirent		*de;
	DIR			*d;
	FILE			*fp;
	char			 buf[1024], *s;
	unsigned long long	 utime, stime, vsize;
	long long		 rss;

	if (shared == NULL || worker == NULL || worker->id > WORKERS_MAX)
		return;

	memset(&p, 0, sizeof(p));
	if ((fp = fopen("/proc/self/stat", "r")) != NULL) {
		s = fgets(buf, sizeof(buf), fp);
		fclose(fp);
		/* The command name may hold spaces: fields count after ')'. */
		if (s != NULL && (s = strrchr(buf, ')')) != NULL &&
		    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %llu %lld",
		    &utime, &stime, &vsize, &rss) == 4) {
			p.cpu_ticks = (int64_t)(utime + stime);
			p.vsize_bytes = (int64_t)vsize;
			p.rss_bytes = (int64_t)rss * sysconf(_SC_PAGESIZE);
		}
	}

	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.')
				p.fds++;
		}
		closedir(d);
		p.fds--;	/* the directory's own descriptor */
	}

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		p.max_fds = (int64_t)rl.rlim_cur;

	__atomic_store_n(&shared->procs[worker->id].cpu_ticks, p.cpu_ticks,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&shared->procs[worker->id].rss_bytes, p.rss_bytes,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&shared->procs[worker->id].vsize_bytes,
	    p.vsize_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&shared->procs[worker->id].fds, p.fds,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&shared->procs[worker->id].max_fds, p.max_fds,
	    __ATOMIC_RELAXED);
}

static void
metrics_sample_timer(void *arg, u_int64_t now)
{
	(void)arg;
	(void)now;
	tg_metrics_sample_process();
}

void
tg_metrics_render(struct kore_buf *buf)
{
	int	i, j, seen;

	tg_metrics_sample_process();
	kore_buf_appendf(buf, "# HELP tollgate_build_info The running build "
	    "(always 1).\n# TYPE tollgate_build_info gauge\n"
	    "tollgate_build_info{version=");
	metrics_label(buf, tg_version);
	kore_buf_appendf(buf, ",kore=");
	metrics_label(buf, kore_version);
	kore_buf_appendf(buf, ",flavor=");
	metrics_label(buf, tg_build_flavor);
	kore_buf_appendf(buf, "} 1\n");

	metrics_render_requests(buf);
	metrics_render_durations(buf);
	metrics_render_models(buf);
	metrics_render_process(buf);

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

static void
metrics_render_durations(struct kore_buf *buf)
{
	int64_t		*h, cum;
	size_t		 i;
	int		 r, c;

	kore_buf_appendf(buf, "# HELP tollgate_http_request_duration_seconds "
	    "Time from a request's headers to the end of its answer, by "
	    "route and status class.\n"
	    "# TYPE tollgate_http_request_duration_seconds histogram\n");

	for (r = 0; r < nroutes; r++) {
		for (c = 0; c < CLASSES; c++) {
			h = &slots[duration_base + (r * CLASSES + c) *
			    HTTP_SLOTS];
			if (__atomic_load_n(&h[HTTP_NB + 1],
			    __ATOMIC_RELAXED) == 0)
				continue;
			cum = 0;
			for (i = 0; i <= HTTP_NB; i++) {
				cum += __atomic_load_n(&h[i], __ATOMIC_RELAXED);
				kore_buf_appendf(buf,
				    "tollgate_http_request_duration_seconds_"
				    "bucket{route=\"%s\",status_class=\"%dxx\","
				    "le=\"", route_names[r], c + 1);
				if (i < HTTP_NB)
					kore_buf_appendf(buf, "%g\"} %lld\n",
					    http_bounds[i], (long long)cum);
				else
					kore_buf_appendf(buf, "+Inf\"} %lld\n",
					    (long long)cum);
			}
			kore_buf_appendf(buf,
			    "tollgate_http_request_duration_seconds_sum"
			    "{route=\"%s\",status_class=\"%dxx\"} %.6f\n"
			    "tollgate_http_request_duration_seconds_count"
			    "{route=\"%s\",status_class=\"%dxx\"} %lld\n",
			    route_names[r], c + 1, (double)__atomic_load_n(
			    &h[HTTP_NB + 2], __ATOMIC_RELAXED) / 1e6,
			    route_names[r], c + 1, (long long)cum);
		}
	}
}

static void
metrics_render_models(struct kore_buf *buf)
{
	struct metrics_model	*m;
	int			 i, k;

	kore_buf_appendf(buf, "# HELP tollgate_tokens_total Tokens charged "
	    "for calls, by model and kind (prompt counts cached and "
	    "cache-write tokens too).\n# TYPE tollgate_tokens_total counter\n");
	for (i = 0; i < MODELS_MAX; i++) {
		m = &shared->models[i];
		if (!__atomic_load_n(&m->state, __ATOMIC_ACQUIRE))
			break;
		for (k = 0; k < MV_COST; k++) {
			kore_buf_appendf(buf, "tollgate_tokens_total{model=");
			metrics_label(buf, m->name);
			kore_buf_appendf(buf, ",kind=\"%s\"} %lld\n",
			    model_kinds[k], (long long)__atomic_load_n(
			    &m->v[k], __ATOMIC_RELAXED));
		}
	}

	kore_buf_appendf(buf, "# HELP tollgate_cost_micros_total "
	    "Micro-credits charged for calls, by model.\n"
	    "# TYPE tollgate_cost_micros_total counter\n");
	for (i = 0; i < MODELS_MAX; i++) {
		m = &shared->models[i];
		if (!__atomic_load_n(&m->state, __ATOMIC_ACQUIRE))
			break;
		kore_buf_appendf(buf, "tollgate_cost_micros_total{model=");
		metrics_label(buf, m->name);
		kore_buf_appendf(buf, "} %lld\n", (long long)__atomic_load_n(
		    &m->v[MV_COST], __ATOMIC_RELAXED));
	}
}

static void
metrics_render_process(struct kore_buf *buf)
{
	struct metrics_proc	*p;
	int64_t			 cpu, rss, vsize, fds, max;
	long			 hz;
	int			 i;

	cpu = rss = vsize = fds = max = 0;
	for (i = 0; i <= WORKERS_MAX; i++) {
		p = &shared->procs[i];
		cpu += __atomic_load_n(&p->cpu_ticks, __ATOMIC_RELAXED);
		rss += __atomic_load_n(&p->rss_bytes, __ATOMIC_RELAXED);
		vsize += __atomic_load_n(&p->vsize_bytes, __ATOMIC_RELAXED);
		fds += __atomic_load_n(&p->fds, __ATOMIC_RELAXED);
		max += __atomic_load_n(&p->max_fds, __ATOMIC_RELAXED);
	}
	if ((hz = sysconf(_SC_CLK_TCK)) <= 0)
		hz = 100;

	kore_buf_appendf(buf,
	    "# HELP process_cpu_seconds_total User and system CPU time of "
	    "the workers, summed.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.2f\n"
	    "# HELP process_resident_memory_bytes Resident memory of the "
	    "workers, summed.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %lld\n"
	    "# HELP process_virtual_memory_bytes Virtual memory of the "
	    "workers, summed.\n"
	    "# TYPE process_virtual_memory_bytes gauge\n"
	    "process_virtual_memory_bytes %lld\n"
	    "# HELP process_open_fds Open file descriptors of the workers, "
	    "summed.\n"
	    "# TYPE process_open_fds gauge\n"
	    "process_open_fds %lld\n"
	    "# HELP process_max_fds Descriptor limits of the workers, "
	    "summed.\n"
	    "# TYPE process_max_fds gauge\n"
	    "process_max_fds %lld\n"
	    "# HELP process_start_time_seconds Start of the process (the "
	    "parent), in seconds since the epoch.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.3f\n",
	    (double)cpu / (double)hz, (long long)rss, (long long)vsize,
	    (long long)fds, (long long)max, start_time);
}

/* A label value, quoted and escaped (text format 0.0.4). */
static void
metrics_label(struct kore_buf *buf, const char *v)
{
	kore_buf_append(buf, "\"", 1);
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			kore_buf_appendf(buf, "\\%c", *v);
		else if (*v == '\n')
			kore_buf_append(buf, "\\n", 2);
		else
			kore_buf_append(buf, v, 1);
	}
	kore_buf_append(buf, "\"", 1);
}
