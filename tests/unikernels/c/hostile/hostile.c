#include "test_util.h"
#include "solo5_ring.h"
TEST_LIBC_IMPL

/* A guest that attacks its own rings (docs/ring-abi.md §7). The command
 * line names one attack; the guest makes it, then keeps using its devices.
 * If it is still alive after that it prints SURVIVED and exits 0. Block
 * attacks print the result of the bad request ("result N", the
 * solo5_result_t). Attacks:
 *   tx-size tx-elements tx-protocol tx-epoch   corrupt the tx channel header
 *   tx-wc-ahead                                tx counters far ahead
 *   tx-len-0 tx-len-max tx-len-mtu             raw tx elements with bad lengths
 *   rx-rc-ahead                                rx read counter far ahead
 *   host-words                                 overwrite host-owned words
 *   rx-header                                  corrupt the rx channel header
 *   blk-buf-past-ram blk-buf-tender blk-buf-bootinfo blk-buf-huge
 *   blk-len-huge blk-len-odd blk-past-end blk-kind blk-wrap
 *                                              bad block requests
 *   blk-wc-ahead                               request counters far ahead */

#define BOOT_INFO 0x10000UL
#define AREA_GUEST_RC 0
#define AREA_HOST_RC 64
#define AREA_HOST_SLEEPING 72
#define AREA_RX_DROPPED 80

struct dir_entry {
    uint64_t area;
    uint32_t kind, elements;
    uint64_t g2h_offset, g2h_bytes, h2g_offset, h2g_bytes;
};

struct channel {
    volatile uint64_t transport, epoch, protocol, size, elements, reserved, wsc, wc;
    uint8_t data[];
};

static struct dir_entry *entry(solo5_handle_t h)
{
    uint64_t dir = *(volatile uint64_t *)(BOOT_INFO + 56);
    if (dir == 0) {
        puts("FAILURE: no ring directory\n");
        solo5_exit(SOLO5_EXIT_FAILURE);
    }
    return (struct dir_entry *)(dir + 8) + h;
}

static volatile uint64_t *word(struct dir_entry *e, uint64_t offset)
{
    return (volatile uint64_t *)(e->area + offset);
}

static struct channel *g2h(struct dir_entry *e)
{
    return (struct channel *)(e->area + e->g2h_offset);
}

static struct channel *h2g(struct dir_entry *e)
{
    return (struct channel *)(e->area + e->h2g_offset);
}

static uint8_t frame[64];

static void use_net(solo5_handle_t net)
{
    for (int i = 0; i < 300; i++)
        solo5_net_write(net, frame, sizeof frame);
    uint8_t buf[9216];
    size_t len;
    solo5_yield(solo5_clock_monotonic() + 20000000ULL, NULL);
    while (solo5_net_read(net, buf, sizeof buf, &len) == SOLO5_R_OK)
        ;
}

/* Puts one raw element with length field `len` into the tx channel. */
static void raw_tx(struct dir_entry *e, uint64_t frame_max, uint16_t len)
{
    struct channel *c = g2h(e);
    uint64_t size = c->size, wc = c->wc;
    uint8_t *el = c->data + (wc % c->elements) * size;
    memcpy(el, frame, sizeof frame);
    memcpy(el + frame_max, &len, 2);
    c->wsc = wc + 1;
    __asm__ __volatile__("" ::: "memory");
    c->wc = wc + 1;
}

static uint8_t block_buf[4096];

static void bad_block(solo5_handle_t blk, uint32_t op, uint64_t offset, uint64_t buf,
                      uint64_t len)
{
    struct solo5_ring_block_req req = { .op = op, .tag = 5, .offset = offset,
                                        .buf = (void *)buf, .len = len };
    if (solo5_ring_block_submit(blk, &req, 1) != 1) {
        puts("FAILURE: submit\n");
        solo5_exit(SOLO5_EXIT_FAILURE);
    }
    struct solo5_ring_block_completion c;
    solo5_time_t until = solo5_clock_monotonic() + 5000000000ULL;
    while (solo5_ring_block_reap(blk, &c, 1) == 0)
        if (solo5_clock_monotonic() > until) {
            puts("no completion\n");
            return;
        }
    puts("result ");
    put_u64((uint64_t)c.result);
    puts("\n");
}

static void use_block(solo5_handle_t blk)
{
    memset(block_buf, 'A', sizeof block_buf);
    solo5_block_write(blk, 0, block_buf, 512);
    solo5_block_read(blk, 0, block_buf, 512);
}

int solo5_app_main(const struct solo5_start_info *si)
{
    solo5_handle_t net, blk;
    struct solo5_net_info ni;
    struct solo5_block_info bi;
    if (solo5_net_acquire("service0", &net, &ni) != SOLO5_R_OK ||
        solo5_block_acquire("storage", &blk, &bi) != SOLO5_R_OK)
        return SOLO5_EXIT_FAILURE;
    memset(frame, 0xff, 6);
    memcpy(frame + 6, ni.mac_address, 6);
    frame[12] = 0x88;
    frame[13] = 0xb5;
    struct dir_entry *n = entry(net), *b = entry(blk);
    uint64_t frame_max = ni.mtu + 14;
    uint64_t mem_size = *(volatile uint64_t *)BOOT_INFO;
    const char *a = si->cmdline;
    while (*a == ' ')
        a++;
    puts("Ready\n");

    if (t_streq(a, "tx-size"))
        g2h(n)->size = ~0ULL;
    else if (t_streq(a, "tx-elements"))
        g2h(n)->elements = ~0ULL;
    else if (t_streq(a, "tx-protocol"))
        g2h(n)->protocol = 1;
    else if (t_streq(a, "tx-epoch"))
        g2h(n)->epoch = 0;
    else if (t_streq(a, "tx-wc-ahead")) {
        g2h(n)->wsc += 1ULL << 40;
        g2h(n)->wc += 1ULL << 40;
    } else if (t_streq(a, "tx-len-0"))
        raw_tx(n, frame_max, 0);
    else if (t_streq(a, "tx-len-max"))
        raw_tx(n, frame_max, 0xffff);
    else if (t_streq(a, "tx-len-mtu"))
        raw_tx(n, frame_max, (uint16_t)(frame_max + 1));
    else if (t_streq(a, "rx-rc-ahead"))
        *word(n, AREA_GUEST_RC) = 1ULL << 50;
    else if (t_streq(a, "host-words")) {
        *word(n, AREA_HOST_RC) = ~0ULL;
        *word(n, AREA_HOST_SLEEPING) = 1;
        *word(n, AREA_RX_DROPPED) = 12345;
        *word(b, AREA_HOST_RC) = 1ULL << 63;
        *word(b, AREA_HOST_SLEEPING) = 1;
    } else if (t_streq(a, "rx-header")) {
        h2g(n)->size = 3;
        h2g(n)->elements = 1ULL << 60;
        h2g(n)->wc = ~0ULL;
    } else if (t_streq(a, "blk-buf-past-ram"))
        bad_block(blk, SOLO5_RING_BLOCK_READ, 0, mem_size + (64ULL << 20), 512);
    else if (t_streq(a, "blk-buf-tender"))
        bad_block(blk, SOLO5_RING_BLOCK_READ, 0, 0x1000, 512);
    else if (t_streq(a, "blk-buf-bootinfo"))
        bad_block(blk, SOLO5_RING_BLOCK_READ, 0, BOOT_INFO, 512);
    else if (t_streq(a, "blk-buf-huge"))
        bad_block(blk, SOLO5_RING_BLOCK_WRITE, 0, ~0ULL - 100, 512);
    else if (t_streq(a, "blk-len-huge"))
        bad_block(blk, SOLO5_RING_BLOCK_READ, 0, (uint64_t)block_buf, 1ULL << 40);
    else if (t_streq(a, "blk-len-odd"))
        bad_block(blk, SOLO5_RING_BLOCK_WRITE, 0, (uint64_t)block_buf, 100);
    else if (t_streq(a, "blk-past-end"))
        bad_block(blk, SOLO5_RING_BLOCK_WRITE, bi.capacity, (uint64_t)block_buf, 512);
    else if (t_streq(a, "blk-wrap"))
        bad_block(blk, SOLO5_RING_BLOCK_WRITE, ~0ULL - 511, (uint64_t)block_buf, 512);
    else if (t_streq(a, "blk-kind"))
        bad_block(blk, 99, 0, (uint64_t)block_buf, 512);
    else if (t_streq(a, "blk-wc-ahead")) {
        g2h(b)->wsc += 1ULL << 40;
        g2h(b)->wc += 1ULL << 40;
    } else {
        puts("FAILURE: unknown attack\n");
        return SOLO5_EXIT_FAILURE;
    }
    use_net(net);
    /* With the block host read counter scribbled, the guest's own window
     * looks full for good: a blocking call would wait forever. */
    if (t_streq(a, "blk-wc-ahead"))
        bad_block(blk, SOLO5_RING_BLOCK_READ, 0, (uint64_t)block_buf, 512);
    else if (!t_streq(a, "host-words"))
        use_block(blk);
    puts("SURVIVED\n");
    return SOLO5_EXIT_SUCCESS;
}
