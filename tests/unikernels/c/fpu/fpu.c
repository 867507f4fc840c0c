#include "test_util.h"
TEST_LIBC_IMPL

/* SSE arithmetic on aligned stack data. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    float a[4] __attribute__((aligned(16))) = { 1.5f, 2.0f, 3.0f, 4.0f };
    float b[4] __attribute__((aligned(16))) = { 2.0f, 0.5f, 3.0f, 0.25f };
    float c[4] __attribute__((aligned(16)));
    __asm__ __volatile__(
        "movaps %1, %%xmm0\n"
        "movaps %2, %%xmm1\n"
        "mulps %%xmm1, %%xmm0\n"
        "movaps %%xmm0, %0\n"
        : "=m"(c) : "m"(a), "m"(b) : "xmm0", "xmm1");
    volatile double x = 1.0;
    for (int i = 0; i < 10; i++)
        x = x * 1.5 + 0.25;
    if (c[0] == 3.0f && c[1] == 1.0f && c[2] == 9.0f && c[3] == 1.0f && x > 80.0 && x < 90.0) {
        puts("SUCCESS\n");
        return SOLO5_EXIT_SUCCESS;
    }
    puts("FAILURE\n");
    return SOLO5_EXIT_FAILURE;
}
