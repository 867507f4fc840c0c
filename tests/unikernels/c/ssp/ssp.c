#include "test_util.h"
TEST_LIBC_IMPL

/* Overflows a stack buffer; -fstack-protector-strong catches it. */
static void __attribute__((noinline)) smash(const char *src, size_t n)
{
    char buf[8];
    volatile char *d = buf;
    for (size_t i = 0; i < n; i++)
        d[i] = src[i % 4];
    puts(buf);
}

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    smash("AAAA", 64);
    puts("FAILURE: stack corruption not detected\n");
    return SOLO5_EXIT_FAILURE;
}
