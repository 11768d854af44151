/*
 * Prometheus metrics shared by all workers of one tollgate process.
 *
 * Every series is declared in the parent before the workers fork (from a
 * module's parent_init), so each one has a fixed slot in one shared
 * anonymous mapping; workers only add to slots with atomic operations and
 * /metrics renders them all whichever worker it lands on.
 */

#ifndef TG_METRICS_H
#define TG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define TG_METRICS_SERIES_MAX	2048
#define TG_METRICS_BUCKETS_MAX	16

#define TG_METRIC_COUNTER	1
#define TG_METRIC_GAUGE		2
#define TG_METRIC_HISTOGRAM	3

struct kore_buf;

void	tg_metrics_init(void);
int	tg_metrics_declare(int, const char *, const char *, const char *,
	    const double *, int);
void	tg_metrics_add(int, int64_t);
void	tg_metrics_set(int, int64_t);
void	tg_metrics_observe(int, double);
void	tg_metrics_render(struct kore_buf *);

/* Requests by route and status. */
void	tg_metrics_routes(const char **, int);
void	tg_metrics_request(int, int);

/* Well-known core series. */
extern int	tg_metric_db_pool_waits;
extern int	tg_metric_db_errors;

#endif
