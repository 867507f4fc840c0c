#include "test_util.h"
TEST_LIBC_IMPL

/* 63 block devices: the first and the last can be acquired and used. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    solo5_handle_t h0, h62;
    struct solo5_block_info b0, b62;
    uint8_t buf[512];
    if (solo5_block_acquire("storage0", &h0, &b0) != SOLO5_R_OK || solo5_block_acquire("storage62", &h62, &b62) != SOLO5_R_OK)
        return SOLO5_EXIT_FAILURE;
    if (h62 != 63 || solo5_block_read(h62, 0, buf, b62.block_size) != SOLO5_R_OK)
        return SOLO5_EXIT_FAILURE;
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
