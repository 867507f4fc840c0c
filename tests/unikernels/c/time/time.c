#include "test_util.h"
TEST_LIBC_IMPL

#define MS 1000000ULL

/* Monotonic advances, a yield to a past deadline returns with nothing
 * ready, a 100 ms yield sleeps at least 100 ms (less 1 ms of clock
 * granularity), and the wall clock is after 2017. How much longer a yield
 * sleeps is the machine's load, not correctness: it is printed, never
 * judged (a yield that never returns fails on the test's hang guard). */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    solo5_time_t t0 = solo5_clock_monotonic();
    solo5_time_t t1 = solo5_clock_monotonic();
    if (t1 < t0) {
        puts("FAILURE: monotonic went backwards\n");
        return SOLO5_EXIT_FAILURE;
    }
    solo5_handle_set_t ready = 1;
    solo5_yield(0, &ready);
    if (ready != 0) {
        puts("FAILURE: yield to a past deadline\n");
        return SOLO5_EXIT_FAILURE;
    }
    for (int i = 0; i < 3; i++) {
        solo5_time_t start = solo5_clock_monotonic();
        solo5_yield(start + 100 * MS, &ready);
        solo5_time_t slept = solo5_clock_monotonic() - start;
        puts(slept < 100 * MS - MS ? "FAILURE: slept " : "slept ");
        put_u64(slept);
        puts(" ns\n");
        if (slept < 100 * MS - MS)
            return SOLO5_EXIT_FAILURE;
    }
    if (solo5_clock_wall() < 1483228800ULL * 1000000000ULL) {
        puts("FAILURE: wall clock before 2017\n");
        return SOLO5_EXIT_FAILURE;
    }
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
