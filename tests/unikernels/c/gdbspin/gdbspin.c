#include "test_util.h"
TEST_LIBC_IMPL

/* Spins until a debugger sets `release` (host/tests/hvt_debug.rs: GDB
 * interrupts the guest, writes the flag, and lets it run to its end). */
volatile int release;
volatile unsigned long spins;

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    puts("spinning\n");
    while (!release)
        spins++;
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
