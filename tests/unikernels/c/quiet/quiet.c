#include "test_util.h"
TEST_LIBC_IMPL

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
