#include "test_util.h"
TEST_LIBC_IMPL

static uint8_t wbuf[65536], rbuf[65536];

static void fill(uint8_t *buf, size_t n, uint64_t block)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)('0' + (block + i) % 64);
}

static int fail(const char *why)
{
    puts("FAILURE: ");
    puts(why);
    puts("\n");
    return SOLO5_EXIT_FAILURE;
}

/* Writes a pattern to every 10th block and reads it back; the last block
 * works; out-of-range, wrong sizes and misaligned offsets are refused. */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    solo5_handle_t h;
    struct solo5_block_info bi;
    if (solo5_block_acquire("storage", &h, &bi) != SOLO5_R_OK)
        return fail("acquire");
    size_t bs = bi.block_size;
    if (bs > sizeof wbuf || bi.capacity < 2 * bs)
        return fail("geometry");
    uint64_t blocks = bi.capacity / bs;
    for (uint64_t b = 0; b < blocks; b += 10) {
        fill(wbuf, bs, b);
        if (solo5_block_write(h, b * bs, wbuf, bs) != SOLO5_R_OK)
            return fail("write");
        if (solo5_block_read(h, b * bs, rbuf, bs) != SOLO5_R_OK)
            return fail("read");
        if (memcmp(wbuf, rbuf, bs) != 0)
            return fail("data mismatch");
    }
    uint64_t last = bi.capacity - bs;
    fill(wbuf, bs, last / bs);
    if (solo5_block_write(h, last, wbuf, bs) != SOLO5_R_OK || solo5_block_read(h, last, rbuf, bs) != SOLO5_R_OK)
        return fail("last block");
    if (solo5_block_write(h, bi.capacity, wbuf, bs) == SOLO5_R_OK || solo5_block_read(h, bi.capacity, rbuf, bs) == SOLO5_R_OK)
        return fail("beyond capacity accepted");
    if (solo5_block_write(h, 0, wbuf, bs - 1) == SOLO5_R_OK || solo5_block_read(h, 0, rbuf, bs + 1) == SOLO5_R_OK)
        return fail("wrong size accepted");
    if (solo5_block_write(h, 1, wbuf, bs) == SOLO5_R_OK || solo5_block_read(h, bs / 2, rbuf, bs) == SOLO5_R_OK)
        return fail("misaligned offset accepted");
    if (solo5_block_write(h, 0, wbuf, bs - 1) != SOLO5_R_EINVAL || solo5_block_read(h, 1, rbuf, bs) != SOLO5_R_EINVAL)
        return fail("expected SOLO5_R_EINVAL");
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
