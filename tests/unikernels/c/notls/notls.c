#include "test_util.h"
TEST_LIBC_IMPL

static __thread volatile int tls_value = 1;

/* Without solo5_set_tls_base the TLS base is 0: the access faults. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    tls_value = 2;
    puts("FAILURE: TLS access with base 0 did not trap\n");
    return SOLO5_EXIT_FAILURE;
}
