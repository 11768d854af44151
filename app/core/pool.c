/*
 * How much of each Kore pool exists before it is used.
 *
 * Kore 4.1.0 sizes a pool's first region by its limit and writes a
 * header into every element of it (pool.c: pool_region_create), so
 * every page is resident from the start: 4096 http_requests and 2058
 * connections and netbufs per worker (http_request_limit,
 * worker_max_connections), and 3.3 MiB of kore_malloc blocks that the
 * parent fills before it forks and each worker then carries too
 * (mem.c: kore_mem_init). An idle tollgate held about 8 MiB per
 * process that nothing used.
 *
 * A pool grows by another region whenever its free list runs dry
 * (kore_pool_get), so a small first region changes no limit: the limits
 * are checked against the live counts, never the pool size. The link
 * wraps kore_pool_init (-Wl,--wrap=kore_pool_init, see the Makefile):
 * the first region and every later one hold at most POOL_REGION_BYTES
 * worth of elements (never fewer than Kore's minimum of 16), so a pool
 * costs what is used, rounded up to one region. Regions are never given
 * back (Kore frees them only at cleanup), so a peak stays resident.
 *
 * Alignment: an element is a 32-byte struct kore_pool_entry followed by
 * len bytes, laid end to end from a page-aligned mmap, so an element's
 * memory is aligned only as far as len is a multiple of 16. Kore's curl
 * pools pass their arguments swapped (len 100, curl.c), which left
 * their entries 4-byte aligned. The wrapper rounds len up to
 * POOL_ALIGN, so every pooled object (and every kore_malloc block,
 * whose headers are 16 bytes too) is 16-byte aligned, as malloc's are,
 * and UBSan's alignment check holds for all code.
 */

#include "tollgate.h"

/*
 * Small enough for an idle worker. 1,000 streams grow a worker's pools
 * by about 30 MiB in some 2,000 regions; the kernel merges adjacent
 * regions into a few mappings, so max_map_count is not at risk.
 */
#define POOL_REGION_BYTES	(16 * 1024)
#define POOL_ELEMENTS_MIN	16
#define POOL_ALIGN		16

void	__wrap_kore_pool_init(struct kore_pool *, const char *, size_t,
	    size_t);
void	__real_kore_pool_init(struct kore_pool *, const char *, size_t,
	    size_t);

_Static_assert(sizeof(struct kore_pool_entry) % POOL_ALIGN == 0,
    "pool entry header breaks element alignment");

void
__wrap_kore_pool_init(struct kore_pool *pool, const char *name, size_t len,
    size_t elm)
{
	size_t	per_region;

	len = (len + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	per_region = POOL_REGION_BYTES / (len + sizeof(struct kore_pool_entry));
	if (per_region < POOL_ELEMENTS_MIN)
		per_region = POOL_ELEMENTS_MIN;

	__real_kore_pool_init(pool, name, len,
	    elm < per_region ? elm : per_region);

	/* Kore grows by a quarter of the first region; we grow by one. */
	pool->growth = per_region;
}
