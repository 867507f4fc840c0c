#include "test_util.h"
TEST_LIBC_IMPL

/*
 * "LIMIT": writes sequence numbers to the device until killed or LIMIT
 * writes are done: write i fills block (i % blocks) with i, and "acked i"
 * is printed once the write returned OK. Whoever kills the guest (or its
 * I/O worker) can then check that every acknowledged write is on the file.
 * "read LIMIT": reads block (i % capacity in blocks) for i up to LIMIT.
 * A failed write or read prints "FAILURE: write" or "FAILURE: read" and
 * ends the guest with status 1. Prints "Ready" once the device is acquired.
 */
static uint8_t buf[4096] __attribute__((aligned(4096)));

int solo5_app_main(const struct solo5_start_info *si)
{
    const char *p = si->cmdline;
    while (*p == ' ')
        p++;
    int reads = p[0] == 'r';
    uint64_t limit;
    t_parse_u64(reads ? p + 4 : p, &limit);
    struct solo5_block_info info;
    solo5_handle_t h;
    if (solo5_block_acquire("storage", &h, &info) != SOLO5_R_OK) {
        puts("FAILURE: acquire\n");
        return 1;
    }
    uint64_t blocks = info.capacity / info.block_size;
    if (reads) {
        puts("Ready\n");
        for (uint64_t i = 0; i < limit; i++) {
            solo5_off_t at = (solo5_off_t)((i % blocks) * info.block_size);
            if (solo5_block_read(h, at, buf, info.block_size) != SOLO5_R_OK) {
                puts("FAILURE: read\n");
                return 1;
            }
        }
        puts("SUCCESS\n");
        return 0;
    }
    if (blocks > 256)
        blocks = 256;
    puts("Ready\n");
    for (uint64_t i = 1; i <= limit; i++) {
        for (size_t off = 0; off < info.block_size; off += 8)
            memcpy(&buf[off], &i, 8);
        solo5_off_t at = (solo5_off_t)((i % blocks) * info.block_size);
        if (solo5_block_write(h, at, buf, info.block_size) != SOLO5_R_OK) {
            puts("FAILURE: write\n");
            return 1;
        }
        puts("acked ");
        put_u64(i);
        puts("\n");
    }
    puts("SUCCESS\n");
    return 0;
}
