#include "test_util.h"
TEST_LIBC_IMPL

static char big[4143 + 2];

/* One console write of 4143 bytes, then SUCCESS. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    for (int i = 0; i < 4143; i++)
        big[i] = (char)('a' + i % 26);
    big[4143] = '\n';
    solo5_console_write(big, 4144);
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
