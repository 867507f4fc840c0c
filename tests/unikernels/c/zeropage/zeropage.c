#include "test_util.h"
TEST_LIBC_IMPL

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    volatile int *p = (volatile int *)8;
    *p = 1;
    puts("FAILURE: the write to page 0 did not trap\n");
    return SOLO5_EXIT_FAILURE;
}
