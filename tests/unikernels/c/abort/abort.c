#include "test_util.h"
TEST_LIBC_IMPL

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    puts("calling solo5_abort()\n");
    solo5_abort();
}
