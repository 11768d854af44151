/*
 * Shared glue for the unit tests: each test program defines its cases
 * with Check and ends with TG_TEST_MAIN(suite_function).
 */

#ifndef TG_TEST_H
#define TG_TEST_H

#include <check.h>
#include <stdlib.h>

#define TG_TEST_MAIN(fn)						\
int									\
main(void)								\
{									\
	SRunner	*sr;							\
	int	 failed;						\
									\
	sr = srunner_create(fn());					\
	srunner_run_all(sr, CK_NORMAL);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);		\
}

#endif
