/*
 * The graceful drain on SIGTERM (drain.c; docs/operations.md, "Deploys
 * and SIGTERM").
 *
 * tg_drain_init() runs in each worker once Kore has set up its signal
 * handlers. tg_draining() is 1 from the first stop signal on (/readyz
 * answers 503). A module with calls that must be ended at the deadline,
 * or work that must finish before the worker exits, registers its part
 * with tg_drain_watch(): busy() says whether such work is still going
 * (NULL: none), end() ends every call still open (NULL: none); end()
 * is called once, at the deadline.
 */

#ifndef TG_DRAIN_H
#define TG_DRAIN_H

void	tg_drain_init(void);
int	tg_draining(void);
void	tg_drain_watch(int (*)(void), void (*)(void));

#endif
