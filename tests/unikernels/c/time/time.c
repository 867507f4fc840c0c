#include "test_util.h"
TEST_LIBC_IMPL

#define MS 1000000ULL

/* Monotonic advances, a past deadline returns at once, a 100 ms yield
 * sleeps 100 ms (+-40 ms), and the wall clock is after 2017. */
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
    if (solo5_clock_monotonic() - t1 > 50 * MS || ready != 0) {
        puts("FAILURE: yield to a past deadline\n");
        return SOLO5_EXIT_FAILURE;
    }
    for (int i = 0; i < 3; i++) {
        solo5_time_t start = solo5_clock_monotonic();
        solo5_yield(start + 100 * MS, &ready);
        solo5_time_t slept = solo5_clock_monotonic() - start;
        if (slept < 100 * MS - MS || slept > 140 * MS) {
            puts("FAILURE: slept ");
            put_u64(slept);
            puts(" ns\n");
            return SOLO5_EXIT_FAILURE;
        }
    }
    if (solo5_clock_wall() < 1483228800ULL * 1000000000ULL) {
        puts("FAILURE: wall clock before 2017\n");
        return SOLO5_EXIT_FAILURE;
    }
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
