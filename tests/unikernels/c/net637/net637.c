#include "test_util.h"
TEST_LIBC_IMPL

/* A guest that speaks upstream Solo5's hvt net ring (PR #637) itself, as
 * upstream's bindings do: linked with "-z solo5-rings=no", so the tender
 * offers it that ring instead of ringtender's. Sequence-numbered frames on
 * service0, EtherType 0x88B5:
 *   "tx N": N 64-byte frames through WRITE entries;
 *   "rx":   READ entries until the end marker (sequence 2^64-1); frames
 *           must arrive in order, none twice. */

#define BOOT_INFO 0x10000UL
#define FEATURE_RING_IO 1u
#define RING_SIZE 1024u
#define OP_WRITE 1u
#define OP_READ 2u
#define KICK_PORT 0x600

struct entry {
    uint32_t operation, handle;
    uint64_t data;
    uint32_t len, id;
    uint64_t reserved;
};

struct commit {
    uint32_t id;
    int32_t ret;
    uint32_t len, reserved;
};

struct ring {
    volatile uint32_t ent_tail, com_head;
    uint8_t pad0[56];
    volatile uint32_t ent_head, com_tail, needs_kick;
    uint8_t pad1[52];
    struct entry entries[RING_SIZE];
    struct commit commits[RING_SIZE];
};

_Static_assert(sizeof(struct ring) == 49280, "hvt_ring layout");

static struct ring *ring;
static uint32_t next_id;
static uint8_t tx_bufs[RING_SIZE][64];
static uint8_t rx_buf[2048];

static void submit(void)
{
    __asm__ __volatile__("" ::: "memory");
    ring->ent_tail++;
    __asm__ __volatile__("mfence" ::: "memory");
    if (ring->needs_kick)
        __asm__ __volatile__("outl %0, %1" ::"a"(0u), "d"((uint16_t)KICK_PORT));
}

static void put(struct entry e)
{
    while (ring->ent_tail - ring->ent_head >= RING_SIZE - 1)
        __asm__ __volatile__("pause");
    e.id = next_id++;
    ring->entries[ring->ent_tail & (RING_SIZE - 1)] = e;
    submit();
}

int solo5_app_main(const struct solo5_start_info *si)
{
    solo5_handle_t h;
    struct solo5_net_info ni;
    if (solo5_net_acquire("service0", &h, &ni) != SOLO5_R_OK)
        return SOLO5_EXIT_FAILURE;
    uint32_t features = *(volatile uint32_t *)(BOOT_INFO + 40);
    uint64_t addr = *(volatile uint64_t *)(BOOT_INFO + 48);
    if (!(features & FEATURE_RING_IO) || addr == 0) {
        puts("FAILURE: no #637 net ring offered\n");
        return SOLO5_EXIT_FAILURE;
    }
    ring = (struct ring *)addr;
    puts("Ready\n");

    const char *p = si->cmdline;
    while (*p == ' ')
        p++;
    if (p[0] == 't') {
        uint64_t n;
        t_parse_u64(p + 2, &n);
        for (uint64_t seq = 0; seq < n; seq++) {
            uint8_t *f = tx_bufs[ring->ent_tail & (RING_SIZE - 1)];
            memset(f, 0xff, 6);
            memcpy(f + 6, ni.mac_address, 6);
            f[12] = 0x88;
            f[13] = 0xb5;
            for (int i = 0; i < 8; i++)
                f[14 + i] = (uint8_t)(seq >> (8 * i));
            put((struct entry){ .operation = OP_WRITE, .handle = (uint32_t)h,
                                .data = (uint64_t)f, .len = 64 });
        }
        while (ring->ent_head != ring->ent_tail)
            __asm__ __volatile__("pause");
        puts("sent ");
        put_u64(n);
        puts("\n");
    } else {
        uint64_t expect = 0, received = 0, bad = 0;
        for (;;) {
            put((struct entry){ .operation = OP_READ, .handle = (uint32_t)h,
                                .data = (uint64_t)rx_buf, .len = sizeof rx_buf });
            while (ring->com_head == ring->com_tail)
                __asm__ __volatile__("pause");
            struct commit c = ring->commits[ring->com_head & (RING_SIZE - 1)];
            ring->com_head++;
            if (c.ret == SOLO5_R_AGAIN) {
                solo5_yield(solo5_clock_monotonic() + 1000000000ULL, NULL);
                continue;
            }
            if (c.ret != SOLO5_R_OK) {
                puts("FAILURE: read result ");
                put_u64((uint64_t)c.ret);
                puts("\n");
                return SOLO5_EXIT_FAILURE;
            }
            if (c.len < 22 || rx_buf[12] != 0x88 || rx_buf[13] != 0xb5)
                continue;
            uint64_t seq = 0;
            for (int i = 0; i < 8; i++)
                seq |= (uint64_t)rx_buf[14 + i] << (8 * i);
            if (seq == ~0ULL)
                break;
            received++;
            if (seq != expect)
                bad++;
            expect = seq + 1;
        }
        puts("received ");
        put_u64(received);
        puts(" out-of-sequence ");
        put_u64(bad);
        puts("\n");
        if (bad)
            return SOLO5_EXIT_FAILURE;
    }
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
