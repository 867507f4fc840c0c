#include "test_util.h"
TEST_LIBC_IMPL

/* Text is not writable. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    volatile unsigned char *text = (volatile unsigned char *)(uintptr_t)&solo5_app_main;
    *text = 0xc3;
    puts("FAILURE: wrote into .text\n");
    return SOLO5_EXIT_FAILURE;
}
