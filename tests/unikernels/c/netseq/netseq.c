#include "test_util.h"
TEST_LIBC_IMPL

/* Sequence-numbered frames on service0, EtherType 0x88B5.
 *   "tx N [SIZE]": send N frames of SIZE bytes (default 64), retrying while
 *                  the ring is full; print the elapsed time.
 *   "rx":          receive until the end marker (sequence 2^64-1); report
 *                  frames received, gaps (frames the host kernel dropped
 *                  before the tap) and frames out of order or duplicated,
 *                  which must be none. A read that fails (not AGAIN)
 *                  prints "FAILURE: read" and ends the guest. */

static uint8_t frame[16384];

static void put_seq(uint8_t *f, uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        f[14 + i] = (uint8_t)(seq >> (8 * i));
}

static uint64_t get_seq(const uint8_t *f)
{
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq |= (uint64_t)f[14 + i] << (8 * i);
    return seq;
}

int solo5_app_main(const struct solo5_start_info *si)
{
    solo5_handle_t h;
    struct solo5_net_info ni;
    if (solo5_net_acquire("service0", &h, &ni) != SOLO5_R_OK)
        return SOLO5_EXIT_FAILURE;
    const char *p = si->cmdline;
    while (*p == ' ')
        p++;
    int tx = p[0] == 't';
    uint64_t n = 0, size = 64;
    p = t_parse_u64(p + 2, &n);
    if (*p)
        t_parse_u64(p, &size);
    if (size < 22 || size > ni.mtu + SOLO5_NET_HLEN)
        return SOLO5_EXIT_FAILURE;
    puts("Ready\n");

    solo5_time_t start = solo5_clock_monotonic();
    uint64_t retries = 0;
    if (tx) {
        memset(frame, 0xff, 6);
        memcpy(frame + 6, ni.mac_address, 6);
        frame[12] = 0x88;
        frame[13] = 0xb5;
        for (uint64_t seq = 0; seq < n; seq++) {
            put_seq(frame, seq);
            while (solo5_net_write(h, frame, size) == SOLO5_R_AGAIN)
                retries++;
        }
    } else {
        struct seq_count count = { 0 };
        for (;;) {
            solo5_handle_set_t ready;
            solo5_yield(solo5_clock_monotonic() + 1000000000ULL, &ready);
            size_t len;
            int end = 0;
            solo5_result_t rc;
            while ((rc = solo5_net_read(h, frame, sizeof frame, &len)) == SOLO5_R_OK) {
                if (len < 22 || frame[12] != 0x88 || frame[13] != 0xb5)
                    continue;
                uint64_t seq = get_seq(frame);
                if (seq == ~0ULL) {
                    end = 1;
                    break;
                }
                seq_count_add(&count, seq);
            }
            if (end)
                break;
            if (rc != SOLO5_R_AGAIN) {
                puts("FAILURE: read\n");
                return SOLO5_EXIT_FAILURE;
            }
        }
        n = count.received;
        seq_count_print(&count);
        puts("\n");
        if (count.bad)
            return SOLO5_EXIT_FAILURE;
    }
    solo5_time_t ns = solo5_clock_monotonic() - start;
    puts("frames ");
    put_u64(n);
    puts(" ns ");
    put_u64(ns);
    puts(" pps ");
    put_u64(ns ? n * 1000000000ULL / ns : 0);
    puts(" full-ring retries ");
    put_u64(retries);
    puts("\nSUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
