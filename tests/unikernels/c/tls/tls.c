#include "test_util.h"
TEST_LIBC_IMPL

static __thread volatile uint64_t tdata_value = 0xC0FFEE;  /* .tdata */
static __thread volatile uint64_t tbss_value;              /* .tbss */

static uint8_t block_a[8192] __attribute__((aligned(64)));
static uint8_t block_b[8192] __attribute__((aligned(64)));

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    if (solo5_tls_size() > sizeof block_a) {
        puts("FAILURE: TLS block too large\n");
        return SOLO5_EXIT_FAILURE;
    }
    if (solo5_tls_init(0) != SOLO5_R_EINVAL)
        return SOLO5_EXIT_FAILURE;
    if (solo5_tls_init((uintptr_t)block_a) != SOLO5_R_OK || solo5_tls_init((uintptr_t)block_b) != SOLO5_R_OK)
        return SOLO5_EXIT_FAILURE;

    solo5_set_tls_base(solo5_tls_tp_offset((uintptr_t)block_a));
    if (tdata_value != 0xC0FFEE || tbss_value != 0) {
        puts("FAILURE: initial TLS values\n");
        return SOLO5_EXIT_FAILURE;
    }
    tdata_value = 1;
    tbss_value = 2;

    solo5_set_tls_base(solo5_tls_tp_offset((uintptr_t)block_b));
    if (tdata_value != 0xC0FFEE || tbss_value != 0) {
        puts("FAILURE: second block not independent\n");
        return SOLO5_EXIT_FAILURE;
    }
    tdata_value = 3;
    tbss_value = 4;

    solo5_set_tls_base(solo5_tls_tp_offset((uintptr_t)block_a));
    if (tdata_value != 1 || tbss_value != 2) {
        puts("FAILURE: first block lost its values\n");
        return SOLO5_EXIT_FAILURE;
    }
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
