#include "test_util.h"
TEST_LIBC_IMPL

/* A write to unmapped memory (8 GiB) traps; the tender reports it. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    volatile int *p = (volatile int *)(2ULL << 33);
    *p = 1;
    puts("FAILURE: the write did not trap\n");
    return SOLO5_EXIT_FAILURE;
}
