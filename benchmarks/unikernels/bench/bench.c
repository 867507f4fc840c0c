/*
 * The benchmark unikernel of benchmarks/run.sh. It uses only solo5.h unless
 * built with -DRINGTENDER_RING_API, which adds the ring API of solo5_ring.h
 * (the "ring" API argument); upstream's toolchain builds the classic form.
 *
 * Command line (times in milliseconds; every mode prints one result line
 * starting with "result" and then SUCCESS):
 *   hello                          prints the wall clock at solo5_app_main
 *   tx API MS SIZE                 sends SIZE-byte frames for MS
 *   rx API MS                      counts frames (EtherType 0x88B5) until the
 *                                  end marker (sequence 2^64-1) or MS passes
 *   echo API MS                    sends every 0x88B5 frame back until MS
 *                                  passes with no frame
 *   blk API QD MS PATTERN OP SIZE  PATTERN rand|seq, OP read|write: SIZE-byte
 *                                  requests for MS with QD in flight (QD > 1
 *                                  needs the ring API)
 * API is "classic" (solo5.h) or "ring" (solo5_ring.h).
 */
#include "solo5.h"
#ifdef RINGTENDER_RING_API
#include "solo5_ring.h"
#endif

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

static size_t length(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void puts(const char *s)
{
    solo5_console_write(s, length(s));
}

static void put_u64(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    puts(&buf[i]);
}

static const char *word(const char *p, char *out, size_t max)
{
    while (*p == ' ')
        p++;
    size_t n = 0;
    while (*p && *p != ' ' && n + 1 < max)
        out[n++] = *p++;
    out[n] = 0;
    return p;
}

static const char *number(const char *p, uint64_t *v)
{
    while (*p == ' ')
        p++;
    *v = 0;
    while (*p >= '0' && *p <= '9')
        *v = *v * 10 + (uint64_t)(*p++ - '0');
    return p;
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static void fail(const char *why)
{
    puts("FAILURE: ");
    puts(why);
    puts("\n");
    solo5_exit(SOLO5_EXIT_FAILURE);
}

#define MS 1000000ULL
#define BATCH 32
#define MAX_QD 64
#define MAX_REQ 65536

static solo5_handle_t net, blk;
static struct solo5_net_info ni;
static struct solo5_block_info bi;
static uint8_t frames[BATCH][9216 + 14];
static uint8_t rxbuf[9216 + 14];
static uint8_t blkbuf[MAX_QD][MAX_REQ];

static void result(const char *what, uint64_t count, uint64_t ns)
{
    puts("result ");
    puts(what);
    puts(" ");
    put_u64(count);
    puts(" ns ");
    put_u64(ns);
    puts("\n");
}

static void tx(int ring, uint64_t ms, uint64_t size)
{
    if (size < 22 || size > ni.mtu + SOLO5_NET_HLEN)
        fail("frame size");
    for (int i = 0; i < BATCH; i++) {
        memset(frames[i], 0xff, 6);
        memcpy(frames[i] + 6, ni.mac_address, 6);
        frames[i][12] = 0x88;
        frames[i][13] = 0xb5;
    }
    uint64_t sent = 0;
    solo5_time_t start = solo5_clock_monotonic(), end = start + ms * MS, now = start;
    while (now < end) {
        if (ring) {
#ifdef RINGTENDER_RING_API
            struct solo5_ring_frame f[BATCH];
            for (int i = 0; i < BATCH; i++) {
                f[i].data = frames[i];
                f[i].len = size;
            }
            sent += solo5_ring_net_send(net, f, BATCH);
#endif
        } else {
            for (int i = 0; i < BATCH; i++)
                if (solo5_net_write(net, frames[i], size) == SOLO5_R_OK)
                    sent++;
        }
        now = solo5_clock_monotonic();
    }
    result("sent", sent, now - start);
}

/* Returns 1 for a frame of ours, 2 for the end marker, 0 otherwise. */
static int classify(const uint8_t *f, size_t len)
{
    if (len < 22 || f[12] != 0x88 || f[13] != 0xb5)
        return 0;
    for (int i = 14; i < 22; i++)
        if (f[i] != 0xff)
            return 1;
    return 2;
}

static int next_frame(int ring, const uint8_t **f, size_t *len)
{
#ifdef RINGTENDER_RING_API
    if (ring)
        return solo5_ring_net_borrow(net, f, len) == SOLO5_R_OK;
#endif
    (void)ring;
    *f = rxbuf;
    return solo5_net_read(net, rxbuf, sizeof rxbuf, len) == SOLO5_R_OK;
}

static void done_frame(int ring)
{
#ifdef RINGTENDER_RING_API
    if (ring)
        solo5_ring_net_release(net);
#endif
    (void)ring;
}

static void rx(int ring, uint64_t ms)
{
    uint64_t received = 0, first = 0, last = 0;
    solo5_time_t limit = solo5_clock_monotonic() + ms * MS;
    for (;;) {
        const uint8_t *f;
        size_t len;
        if (!next_frame(ring, &f, &len)) {
            if (solo5_clock_monotonic() > limit)
                break;
            solo5_yield(limit, NULL);
            continue;
        }
        int kind = classify(f, len);
        done_frame(ring);
        if (kind == 2)
            break;
        if (kind == 1) {
            last = solo5_clock_monotonic();
            if (received++ == 0)
                first = last;
        }
    }
    result("received", received, last - first);
}

static void echo(int ring, uint64_t ms)
{
    uint64_t echoed = 0;
    solo5_time_t start = solo5_clock_monotonic(), quiet_until = start + ms * MS;
    while (solo5_clock_monotonic() < quiet_until) {
        const uint8_t *f;
        size_t len;
        if (!next_frame(ring, &f, &len)) {
            solo5_yield(quiet_until, NULL);
            continue;
        }
        int kind = classify(f, len);
        if (kind == 0) {
            done_frame(ring);
            continue;
        }
        uint8_t *out = frames[0];
        memcpy(out, f + 6, 6);
        memcpy(out + 6, ni.mac_address, 6);
        memcpy(out + 12, f + 12, len - 12);
        done_frame(ring);
        if (kind == 2)
            break;
#ifdef RINGTENDER_RING_API
        if (ring) {
            struct solo5_ring_frame one = { out, len };
            while (solo5_ring_net_send(net, &one, 1) == 0)
                ;
        } else
#endif
            while (solo5_net_write(net, out, len) == SOLO5_R_AGAIN)
                ;
        echoed++;
        quiet_until = solo5_clock_monotonic() + ms * MS;
    }
    result("echoed", echoed, solo5_clock_monotonic() - start);
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_offset(int random, uint64_t size, uint64_t *seq)
{
    uint64_t slots = bi.capacity / size;
    if (random) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (rng % slots) * size;
    }
    uint64_t off = (*seq % slots) * size;
    (*seq)++;
    return off;
}

static void block(int ring, uint64_t qd, uint64_t ms, int random, int write, uint64_t size)
{
    if (size > MAX_REQ || size % bi.block_size || qd == 0 || qd > MAX_QD)
        fail("block request shape");
    for (uint64_t i = 0; i < qd; i++)
        memset(blkbuf[i], (int)i + 1, size);
    uint64_t ops = 0, seq = 0;
    solo5_time_t start = solo5_clock_monotonic(), end = start + ms * MS, now = start;
    if (!ring) {
        if (qd != 1)
            fail("queue depth above 1 needs the ring API");
        while (now < end) {
            uint64_t off = next_offset(random, size, &seq);
            for (uint64_t b = 0; b < size; b += bi.block_size) {
                solo5_result_t r = write
                    ? solo5_block_write(blk, off + b, blkbuf[0] + b, bi.block_size)
                    : solo5_block_read(blk, off + b, blkbuf[0] + b, bi.block_size);
                if (r != SOLO5_R_OK)
                    fail("block I/O");
            }
            ops++;
            now = solo5_clock_monotonic();
        }
    } else {
#ifdef RINGTENDER_RING_API
        uint64_t inflight = 0;
        uint32_t free_slots[MAX_QD];
        uint64_t nfree = qd;
        for (uint64_t i = 0; i < qd; i++)
            free_slots[i] = (uint32_t)i;
        while (now < end || inflight) {
            while (now < end && nfree) {
                uint32_t slot = free_slots[nfree - 1];
                struct solo5_ring_block_req req = {
                    .op = write ? SOLO5_RING_BLOCK_WRITE : SOLO5_RING_BLOCK_READ,
                    .tag = slot,
                    .offset = next_offset(random, size, &seq),
                    .buf = blkbuf[slot],
                    .len = size,
                };
                if (solo5_ring_block_submit(blk, &req, 1) != 1)
                    break;
                nfree--;
                inflight++;
            }
            struct solo5_ring_block_completion c[MAX_QD];
            size_t n = solo5_ring_block_reap(blk, c, MAX_QD);
            for (size_t i = 0; i < n; i++) {
                if (c[i].result != SOLO5_R_OK)
                    fail("block I/O");
                free_slots[nfree++] = c[i].tag;
            }
            inflight -= n;
            ops += n;
            now = solo5_clock_monotonic();
        }
#else
        fail("built without the ring API");
#endif
    }
    result("ops", ops, now - start);
}

int solo5_app_main(const struct solo5_start_info *si)
{
    uint64_t wall = solo5_clock_wall();
    char mode[16], api[16], pattern[16], op[16];
    const char *p = word(si->cmdline, mode, sizeof mode);
    if (same(mode, "hello")) {
        result("wall", wall, 0);
        puts("SUCCESS\n");
        return SOLO5_EXIT_SUCCESS;
    }
    if (solo5_net_acquire("service0", &net, &ni) != SOLO5_R_OK ||
        solo5_block_acquire("storage", &blk, &bi) != SOLO5_R_OK)
        fail("devices");
    p = word(p, api, sizeof api);
    int ring = same(api, "ring");
#ifdef RINGTENDER_RING_API
    if (ring && (!solo5_ring_available(net) || !solo5_ring_available(blk)))
        fail("no rings");
#else
    if (ring)
        fail("built without the ring API");
#endif
    uint64_t ms = 0, size = 0, qd = 1;
    puts("Ready\n");
    if (same(mode, "tx")) {
        p = number(p, &ms);
        number(p, &size);
        tx(ring, ms, size);
    } else if (same(mode, "rx")) {
        number(p, &ms);
        rx(ring, ms);
    } else if (same(mode, "echo")) {
        number(p, &ms);
        echo(ring, ms);
    } else if (same(mode, "blk")) {
        p = number(p, &qd);
        p = number(p, &ms);
        p = word(p, pattern, sizeof pattern);
        p = word(p, op, sizeof op);
        number(p, &size);
        block(ring, qd, ms, same(pattern, "rand"), same(op, "write"), size);
    } else {
        fail("unknown mode");
    }
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
