#include "test_util.h"
TEST_LIBC_IMPL

/* Data is not executable. */
static unsigned char code[16] = { 0xc3 }; /* ret */

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    void (*fn)(void) = (void (*)(void))(uintptr_t)code;
    fn();
    puts("FAILURE: executed .data\n");
    return SOLO5_EXIT_FAILURE;
}
