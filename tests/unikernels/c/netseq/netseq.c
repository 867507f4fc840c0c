#include "test_util.h"
TEST_LIBC_IMPL

/* Sequence-numbered frames on service0, EtherType 0x88B5.
 *   "tx N [SIZE]": send N frames of SIZE bytes (default 64), retrying while
 *                  the ring is full; print the elapsed time.
 *   "rx":          receive until the end marker (sequence 2^64-1); report
 *                  frames received, gaps (frames the host kernel dropped
 *                  before the tap) and frames out of order or duplicated,
 *                  which must be none. A read that fails (not AGAIN)
 *                  prints "FAILURE: read" and ends the guest.
 * With an end-to-end window, for channels without flow control (muen):
 * ack frames (EtherType 0x88B6) carry in the sequence field how many
 * frames their sender has received, and a sender keeps at most WINDOW
 * frames beyond the last ack in flight. Frames are patterned
 * (pattern_len, pattern_byte) and checked whole.
 *   "txack N WINDOW": send N patterned frames, waiting for acks whenever
 *                  WINDOW are unacknowledged; done when N are acked.
 *   "rxack EVERY": receive patterned frames until the end marker, checking
 *                  each; ack every EVERY frames and at the end marker;
 *                  report as "rx" does, plus "corrupt N". */

static uint8_t frame[16384];

#define ETHERTYPE_ACK 0xb6

/* Length and contents of patterned frame seq (as the host test makes them). */
static size_t pattern_len(uint64_t seq)
{
    return 64 + (size_t)((seq * 13) % 1451);
}

static uint8_t pattern_byte(uint64_t seq, size_t i)
{
    return (uint8_t)(seq * 31 + i);
}

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

static void header(uint8_t *f, const struct solo5_net_info *ni, uint8_t type)
{
    memset(f, 0xff, 6);
    memcpy(f + 6, ni->mac_address, 6);
    f[12] = 0x88;
    f[13] = type;
}

/* Sends an ack for `count` frames received. */
static void send_ack(solo5_handle_t h, const struct solo5_net_info *ni, uint64_t count)
{
    uint8_t ack[64] = { 0 };
    header(ack, ni, ETHERTYPE_ACK);
    put_seq(ack, count);
    while (solo5_net_write(h, ack, sizeof ack) == SOLO5_R_AGAIN)
        ;
}

/* Takes every frame waiting; returns the highest ack seen (at least acked). */
static uint64_t take_acks(solo5_handle_t h, uint64_t acked)
{
    static uint8_t in[16384];
    size_t len;
    while (solo5_net_read(h, in, sizeof in, &len) == SOLO5_R_OK) {
        if (len >= 22 && in[12] == 0x88 && in[13] == ETHERTYPE_ACK && get_seq(in) > acked)
            acked = get_seq(in);
    }
    return acked;
}

static int txack(solo5_handle_t h, const struct solo5_net_info *ni, uint64_t n,
                 uint64_t window)
{
    uint64_t acked = 0, waits = 0;
    header(frame, ni, 0xb5);
    for (uint64_t seq = 0; seq < n; seq++) {
        while (seq - acked >= window) {
            solo5_handle_set_t ready;
            solo5_yield(solo5_clock_monotonic() + 1000000000ULL, &ready);
            acked = take_acks(h, acked);
            waits++;
        }
        size_t len = pattern_len(seq);
        put_seq(frame, seq);
        for (size_t i = 22; i < len; i++)
            frame[i] = pattern_byte(seq, i);
        if (solo5_net_write(h, frame, len) != SOLO5_R_OK) {
            puts("FAILURE: write\n");
            return SOLO5_EXIT_FAILURE;
        }
    }
    while (acked < n) {
        solo5_handle_set_t ready;
        solo5_yield(solo5_clock_monotonic() + 1000000000ULL, &ready);
        acked = take_acks(h, acked);
    }
    puts("frames ");
    put_u64(n);
    puts(" acked ");
    put_u64(acked);
    puts(" window waits ");
    put_u64(waits);
    puts("\nSUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}

static int rxack(solo5_handle_t h, const struct solo5_net_info *ni, uint64_t every)
{
    struct seq_count count = { 0 };
    uint64_t corrupt = 0;
    for (;;) {
        solo5_handle_set_t ready;
        solo5_yield(solo5_clock_monotonic() + 1000000000ULL, &ready);
        size_t len;
        solo5_result_t rc;
        while ((rc = solo5_net_read(h, frame, sizeof frame, &len)) == SOLO5_R_OK) {
            if (len < 22 || frame[12] != 0x88 || frame[13] != 0xb5)
                continue;
            uint64_t seq = get_seq(frame);
            if (seq == ~0ULL) {
                send_ack(h, ni, count.received);
                seq_count_print(&count);
                puts(" corrupt ");
                put_u64(corrupt);
                puts("\n");
                if (count.bad || count.gaps || corrupt)
                    return SOLO5_EXIT_FAILURE;
                puts("SUCCESS\n");
                return SOLO5_EXIT_SUCCESS;
            }
            int intact = len == pattern_len(seq);
            for (size_t i = 22; intact && i < len; i++)
                intact = frame[i] == pattern_byte(seq, i);
            corrupt += !intact;
            seq_count_add(&count, seq);
            if (count.received % every == 0)
                send_ack(h, ni, count.received);
        }
        if (rc != SOLO5_R_AGAIN) {
            puts("FAILURE: read\n");
            return SOLO5_EXIT_FAILURE;
        }
    }
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
    if (p[0] == 't' && p[2] == 'a') {
        uint64_t n = 0, window = 0;
        t_parse_u64(t_parse_u64(p + 6, &n), &window);
        if (window == 0)
            return SOLO5_EXIT_FAILURE;
        puts("Ready\n");
        return txack(h, &ni, n, window);
    }
    if (p[0] == 'r' && p[2] == 'a') {
        uint64_t every = 0;
        t_parse_u64(p + 6, &every);
        if (every == 0)
            return SOLO5_EXIT_FAILURE;
        puts("Ready\n");
        return rxack(h, &ni, every);
    }
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
