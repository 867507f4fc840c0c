#include "test_util.h"
#include "solo5_ring.h"
TEST_LIBC_IMPL

/* The ring API of solo5_ring.h, used directly.
 *   "block QD OPS SEED [FLUSH_ONE_IN]":
 *                              OPS random reads, writes (1 to 8 blocks) and
 *                              flushes (one request in FLUSH_ONE_IN, 16 if
 *                              not given) with up to QD requests in flight
 *                              on "storage"; every read is checked against
 *                              what was last written; prints a digest of
 *                              the final contents for the host to check.
 *   "mixed FRAMES OPS SEED":   the same at queue depth 32, while sending
 *                              FRAMES sequence-numbered frames in batches on
 *                              "service0".
 *   "order ROUNDS SEED":       ring API writes of up to 32 random blocks
 *                              left in flight, then solo5_block_read of
 *                              each (must see the ring's writes), then a
 *                              solo5_block_write followed by a ring API
 *                              read of that block (must see it); prints
 *                              the digest as "block" does.
 *   "stall FRAMES":            submits one read of the first 8 blocks, then
 *                              sends FRAMES sequence-numbered frames while
 *                              it is in flight, then waits for it; prints
 *                              the frames and whether the read completed
 *                              before the last frame was queued (the
 *                              host's test holds the read until the frames
 *                              have reached the tap).
 *   "rx [DELAY_NS]":           borrows received frames in place until the end
 *                              marker (sequence 2^64-1), spinning DELAY_NS
 *                              per frame; reports frames received, gaps,
 *                              frames out of order and the host's drop
 *                              counter.
 *   "wake":                    submits one flush (always the host side's:
 *                              on spt the guest serves reads and writes
 *                              itself), lets the host answer it
 *                              while not waiting (spins 200 ms), then waits
 *                              in solo5_yield with a deadline a minute
 *                              ahead: the completion waiting must end the
 *                              wait at once; prints "yield_early 1" if it
 *                              returned before the deadline.
 * Block contents: block b at version v (v > 0) holds b, v, then
 * word(b, v, i); version 0 is all zeroes. */

#define MAX_QD 64
#define MAX_RUN 8
#define MAX_BLOCKS 1024
#define MAX_BS 4096

static uint32_t version[MAX_BLOCKS];
static uint8_t busy[MAX_BLOCKS];
static uint8_t buffers[MAX_QD][MAX_RUN * MAX_BS];
static uint64_t nblocks, bs;
/* One request in this many is a flush. */
static uint64_t flush_one_in = 16;
static solo5_handle_t blk, net;

struct slot {
    int used;
    uint32_t op;
    uint64_t first, count;
};
static struct slot slots[MAX_QD];

static uint64_t rng_state;

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t n)
{
    rng_state = splitmix(rng_state);
    return rng_state % n;
}

static uint64_t word(uint64_t b, uint64_t v, uint64_t i)
{
    return splitmix((b << 40) ^ (v << 12) ^ i);
}

static void fill(uint64_t *w, uint64_t b, uint64_t v)
{
    w[0] = b;
    w[1] = v;
    for (uint64_t i = 2; i < bs / 8; i++)
        w[i] = word(b, v, i);
}

static int check(const uint64_t *w, uint64_t b, uint64_t v)
{
    for (uint64_t i = 0; i < bs / 8; i++) {
        uint64_t want = v == 0 ? 0 : i == 0 ? b : i == 1 ? v : word(b, v, i);
        if (w[i] != want)
            return 0;
    }
    return 1;
}

static void fail(const char *what, uint64_t n)
{
    puts("FAILURE: ");
    puts(what);
    puts(" ");
    put_u64(n);
    puts("\n");
    solo5_exit(SOLO5_EXIT_FAILURE);
}

/* Submits one random request into free slot s; 0 if none could be chosen now. */
static int submit_one(int s, uint64_t *flushes)
{
    struct slot *sl = &slots[s];
    struct solo5_ring_block_req req = { .tag = (uint32_t)s };
    if (rnd(flush_one_in) == 0) {
        req.op = SOLO5_RING_BLOCK_FLUSH;
        sl->count = 0;
        (*flushes)++;
    } else {
        uint64_t first = rnd(nblocks), count = 1 + rnd(MAX_RUN);
        if (first + count > nblocks)
            count = nblocks - first;
        for (uint64_t b = first; b < first + count; b++)
            if (busy[b])
                return 0;
        req.op = rnd(2) ? SOLO5_RING_BLOCK_WRITE : SOLO5_RING_BLOCK_READ;
        req.offset = first * bs;
        req.buf = buffers[s];
        req.len = count * bs;
        sl->first = first;
        sl->count = count;
        if (req.op == SOLO5_RING_BLOCK_WRITE) {
            for (uint64_t i = 0; i < count; i++)
                fill((uint64_t *)(buffers[s] + i * bs), first + i,
                     version[first + i] + 1);
        }
        for (uint64_t b = first; b < first + count; b++)
            busy[b] = 1;
    }
    sl->op = req.op;
    if (solo5_ring_block_submit(blk, &req, 1) != 1) {
        for (uint64_t b = sl->first; b < sl->first + sl->count; b++)
            busy[b] = 0;
        return 0;
    }
    sl->used = 1;
    return 1;
}

static void complete(const struct solo5_ring_block_completion *c)
{
    if (c->tag >= MAX_QD || !slots[c->tag].used)
        fail("unknown tag", c->tag);
    if (c->result != SOLO5_R_OK)
        fail("request failed, tag", c->tag);
    struct slot *sl = &slots[c->tag];
    for (uint64_t i = 0; i < sl->count; i++) {
        uint64_t b = sl->first + i;
        const uint64_t *w = (const uint64_t *)(buffers[c->tag] + i * bs);
        if (sl->op == SOLO5_RING_BLOCK_WRITE)
            version[b]++;
        else if (!check(w, b, version[b]))
            fail("read back wrong data in block", b);
        busy[b] = 0;
    }
    sl->used = 0;
}

/* Keeps up to qd requests in flight until ops have completed. */
static int block_step(uint64_t qd, uint64_t *submitted, uint64_t ops, uint64_t *done,
                      uint64_t *flushes)
{
    for (uint64_t s = 0; s < qd && *submitted < ops; s++)
        if (!slots[s].used && submit_one((int)s, flushes))
            (*submitted)++;
    struct solo5_ring_block_completion c[MAX_QD];
    size_t n = solo5_ring_block_reap(blk, c, MAX_QD);
    for (size_t i = 0; i < n; i++)
        complete(&c[i]);
    *done += n;
    return *done < ops;
}

static void block_finish(void)
{
    /* A request past the end is refused with EINVAL, not run. */
    struct solo5_ring_block_req bad = { .op = SOLO5_RING_BLOCK_READ, .tag = 7,
                                        .offset = nblocks * bs * 1024, .buf = buffers[0],
                                        .len = bs };
    struct solo5_ring_block_completion c;
    if (solo5_ring_block_submit(blk, &bad, 1) != 1)
        fail("submit", 0);
    while (solo5_ring_block_reap(blk, &c, 1) == 0)
        ;
    if (c.tag != 7 || c.result != SOLO5_R_EINVAL)
        fail("out-of-range request answered with", c.result);
    uint64_t digest = 0;
    for (uint64_t b = 0; b < nblocks; b++)
        digest = splitmix(digest ^ (b << 32 | version[b]));
    puts("digest ");
    put_u64(digest);
    puts("\n");
}

/* The blocking calls against ring requests in flight on the same blocks. */
static void order(uint64_t rounds)
{
    static uint8_t one[MAX_BS];
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t n = 1 + rnd(MAX_QD / 2);
        if (n > nblocks)
            n = nblocks;
        uint64_t first = rnd(nblocks - n + 1);
        struct solo5_ring_block_req req[MAX_QD];
        for (uint64_t i = 0; i < n; i++) {
            uint64_t b = first + i;
            fill((uint64_t *)buffers[i], b, version[b] + 1);
            req[i] = (struct solo5_ring_block_req){ .op = SOLO5_RING_BLOCK_WRITE,
                                                    .tag = (uint32_t)i, .offset = b * bs,
                                                    .buf = buffers[i], .len = bs };
        }
        if (solo5_ring_block_submit(blk, req, n) != n)
            fail("submit", n);
        /* Not reaped: the blocking reads must find these writes done. */
        for (uint64_t i = 0; i < n; i++)
            version[first + i]++;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t b = first + i;
            if (solo5_block_read(blk, b * bs, one, bs) != SOLO5_R_OK)
                fail("blocking read of block", b);
            if (!check((const uint64_t *)one, b, version[b]))
                fail("a blocking read missed a ring write to block", b);
        }
        fill((uint64_t *)one, first, version[first] + 1);
        if (solo5_block_write(blk, first * bs, one, bs) != SOLO5_R_OK)
            fail("blocking write of block", first);
        version[first]++;
        struct solo5_ring_block_req rd = { .op = SOLO5_RING_BLOCK_READ, .tag = 1,
                                           .offset = first * bs, .buf = buffers[0],
                                           .len = bs };
        if (solo5_ring_block_submit(blk, &rd, 1) != 1)
            fail("submit", 1);
        struct solo5_ring_block_completion c;
        while (solo5_ring_block_reap(blk, &c, 1) == 0)
            ;
        if (c.tag != 1 || c.result != SOLO5_R_OK)
            fail("ring read after a blocking write answered with", c.result);
        if (!check((const uint64_t *)buffers[0], first, version[first]))
            fail("a ring read missed a blocking write to block", first);
    }
}

static uint8_t frame[64];

static int net_step(uint64_t *seq, uint64_t frames)
{
    enum { BATCH = 32 };
    static uint8_t batch[BATCH][64];
    struct solo5_ring_frame f[BATCH];
    size_t n = 0;
    for (; n < BATCH && *seq + n < frames; n++) {
        memcpy(batch[n], frame, sizeof frame);
        for (int i = 0; i < 8; i++)
            batch[n][14 + i] = (uint8_t)((*seq + n) >> (8 * i));
        f[n].data = batch[n];
        f[n].len = sizeof frame;
    }
    *seq += solo5_ring_net_send(net, f, n);
    return *seq < frames;
}

static void receive(uint64_t delay)
{
    struct seq_count count = { 0 };
    for (;;) {
        const uint8_t *f;
        size_t len;
        if (solo5_ring_net_borrow(net, &f, &len) != SOLO5_R_OK) {
            solo5_yield(solo5_clock_monotonic() + 1000000000ULL, NULL);
            continue;
        }
        int ours = len >= 22 && f[12] == 0x88 && f[13] == 0xb5;
        uint64_t seq = 0;
        for (int i = 0; ours && i < 8; i++)
            seq |= (uint64_t)f[14 + i] << (8 * i);
        solo5_ring_net_release(net);
        if (!ours)
            continue;
        if (seq == ~0ULL)
            break;
        seq_count_add(&count, seq);
        solo5_time_t until = solo5_clock_monotonic() + delay;
        while (delay && solo5_clock_monotonic() < until)
            ;
    }
    seq_count_print(&count);
    puts(" dropped ");
    put_u64(solo5_ring_net_dropped(net));
    puts("\n");
    if (count.bad)
        fail("frames out of order", count.bad);
}

/* One read in flight while frames go out; see "stall" above. */
static void stall(uint64_t frames)
{
    struct solo5_ring_block_req req = { .op = SOLO5_RING_BLOCK_READ, .tag = 0,
                                        .offset = 0, .buf = buffers[0],
                                        .len = MAX_RUN * bs };
    struct solo5_ring_block_completion c;
    if (solo5_ring_block_submit(blk, &req, 1) != 1)
        fail("submit", 0);
    uint64_t seq = 0, read_done_first = 0;
    int read_done = 0;
    while (net_step(&seq, frames)) {
        if (!read_done && solo5_ring_block_reap(blk, &c, 1) == 1)
            read_done = 1;
    }
    read_done_first = read_done;
    while (!read_done) {
        if (solo5_ring_block_reap(blk, &c, 1) == 1)
            read_done = 1;
        else
            solo5_yield(solo5_clock_monotonic() + 1000000000ULL, NULL);
    }
    if (c.tag != 0 || c.result != SOLO5_R_OK)
        fail("the held read answered with", c.result);
    puts("frames ");
    put_u64(seq);
    puts(" read_done_first ");
    put_u64(read_done_first);
    puts("\n");
}

/* A completion published while the guest does not wait; see "wake". */
static void wake(void)
{
    struct solo5_ring_block_req req = { .op = SOLO5_RING_BLOCK_FLUSH, .tag = 5 };
    struct solo5_ring_block_completion c;
    /* A reap that finds nothing announces the request to the host; one
     * answered that fast is tried again. */
    do {
        if (solo5_ring_block_submit(blk, &req, 1) != 1)
            fail("submit", 0);
    } while (solo5_ring_block_reap(blk, &c, 1) == 1);
    solo5_time_t until = solo5_clock_monotonic() + 200000000ULL;
    while (solo5_clock_monotonic() < until)
        ;
    solo5_time_t deadline = solo5_clock_monotonic() + 60000000000ULL;
    solo5_yield(deadline, NULL);
    int early = solo5_clock_monotonic() < deadline;
    while (solo5_ring_block_reap(blk, &c, 1) != 1)
        solo5_yield(solo5_clock_monotonic() + 1000000000ULL, NULL);
    if (c.tag != 5 || c.result != SOLO5_R_OK)
        fail("the flush answered with", c.result);
    puts("yield_early ");
    put_u64(early);
    puts("\n");
}

int solo5_app_main(const struct solo5_start_info *si)
{
    struct solo5_net_info ni;
    struct solo5_block_info bi;
    if (solo5_net_acquire("service0", &net, &ni) != SOLO5_R_OK ||
        solo5_block_acquire("storage", &blk, &bi) != SOLO5_R_OK)
        return SOLO5_EXIT_FAILURE;
    if (!solo5_ring_available(net) || !solo5_ring_available(blk))
        fail("no rings", 0);
    bs = bi.block_size;
    nblocks = bi.capacity / bs;
    if (nblocks > MAX_BLOCKS)
        nblocks = MAX_BLOCKS;
    if (bs > MAX_BS || bs % 8)
        fail("block size", bs);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, ni.mac_address, 6);
    frame[12] = 0x88;
    frame[13] = 0xb5;

    const char *p = si->cmdline;
    while (*p == ' ')
        p++;
    uint64_t qd = 32, ops = 0, frames = 0, delay = 0;
    int mode = p[0];
    if (mode == 'b') {
        p = t_parse_u64(p + 5, &qd);
        p = t_parse_u64(p, &ops);
        p = t_parse_u64(p, &rng_state);
        uint64_t one_in;
        t_parse_u64(p, &one_in);
        if (one_in)
            flush_one_in = one_in;
    } else if (mode == 'm') {
        p = t_parse_u64(p + 5, &frames);
        p = t_parse_u64(p, &ops);
        t_parse_u64(p, &rng_state);
    } else if (mode == 'o') {
        p = t_parse_u64(p + 5, &ops);
        t_parse_u64(p, &rng_state);
    } else if (mode == 'r') {
        t_parse_u64(p + 2, &delay);
    } else if (mode == 's') {
        t_parse_u64(p + 5, &frames);
    } else if (mode == 'w') {
    } else {
        fail("unknown mode", 0);
    }
    if (qd == 0 || qd > MAX_QD || qd > solo5_ring_block_window(blk))
        fail("queue depth", qd);
    puts("Ready\n");

    if (mode == 'r') {
        receive(delay);
    } else if (mode == 'o') {
        order(ops);
        block_finish();
    } else if (mode == 's') {
        stall(frames);
    } else if (mode == 'w') {
        wake();
    } else {
        uint64_t submitted = 0, done = 0, flushes = 0, seq = 0;
        int net_busy = frames > 0, blk_busy = ops > 0;
        while (net_busy || blk_busy) {
            if (net_busy)
                net_busy = net_step(&seq, frames);
            if (blk_busy)
                blk_busy = block_step(qd, &submitted, ops, &done, &flushes);
        }
        block_finish();
        puts("ops ");
        put_u64(done);
        puts(" flushes ");
        put_u64(flushes);
        puts(" frames ");
        put_u64(seq);
        puts("\n");
    }
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
