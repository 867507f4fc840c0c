#include "test_util.h"
TEST_LIBC_IMPL

/* The stack is not executable. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    volatile unsigned char code[16];
    code[0] = 0xc3; /* ret */
    void (*fn)(void) = (void (*)(void))(uintptr_t)code;
    fn();
    puts("FAILURE: executed the stack\n");
    return SOLO5_EXIT_FAILURE;
}
