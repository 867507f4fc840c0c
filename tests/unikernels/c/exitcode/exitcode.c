#include "test_util.h"
TEST_LIBC_IMPL

/* The guest's status reaches the tender's exit status unchanged. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    return 42;
}
