#include "test_util.h"
TEST_LIBC_IMPL

/* A hostile guest of the classic path (hvt only): linked with
 * "-z solo5-rings=no", so the tender serves it by hypercalls and offers it
 * upstream's #637 net ring, it issues raw hypercalls (an `outl` of the
 * argument struct's address to port 0x500 + n) with bad argument
 * pointers, data pointers, lengths, handles and offsets, and scribbles
 * over the #637 ring. The command line names one scenario (see
 * `scenarios` at the end); host/tests/hostile_classic.rs runs each and
 * checks the tap, the block file, the lines printed here and the tender's
 * status and stderr.
 *
 * Upstream's tender is the reference: a bad argument struct or buffer
 * ends the tender with "Invalid guest access: gpa=..., sz=..." (status 1,
 * so such a scenario makes one call and the guest never gets further), a
 * bad handle or block range is answered with SOLO5_R_EINVAL. On the #637
 * ring the tender answers inside the protocol and keeps serving. Every
 * scenario the guest survives ends with a valid call of each kind (proof
 * of life), then prints SURVIVED; a check the guest makes itself that
 * fails prints "CHECK FAILED" and exits 3. */

#define BOOT_INFO 0x10000ULL
#define BOOT_HOST_FEATURES (BOOT_INFO + 40)
#define BOOT_NET_RING (BOOT_INFO + 48)
#define FEATURE_RING_IO 1u
#define RING_RESERVATION 0x200000ULL
#define HC_PORT 0x500
#define KICK_PORT 0x600
#define MS 1000000ULL
/* How long the guest waits for what the host must do: only a guard against
 * a host that stopped serving, generous for a busy machine. */
#define RESPONSE_WAIT (120000 * MS)
#define SECTOR 512

enum { HC_WALLTIME = 1, HC_PUTS, HC_POLL, HC_BLOCK_WRITE, HC_BLOCK_READ, HC_NET_WRITE, HC_NET_READ, HC_HALT };

struct hc_walltime {
    uint64_t nsecs;
};
struct hc_puts {
    uint64_t data, len;
};
struct hc_poll {
    uint64_t timeout_nsecs, ready_set;
    int32_t ret;
    uint32_t pad;
};
struct hc_block {
    uint64_t handle, offset, data, len;
    int32_t ret;
    uint32_t pad;
};
struct hc_net {
    uint64_t handle, data, len;
    int32_t ret;
    uint32_t pad;
};
struct hc_halt {
    uint64_t cookie;
    int32_t exit_status;
    uint32_t pad;
};

/* Upstream's #637 ring (hvt_ring.h). */
#define RING_SIZE 1024u
#define OP_WRITE 1u
#define OP_READ 2u

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

static solo5_handle_t net, blk;
static struct solo5_net_info ni;
static struct solo5_block_info bi;
static struct ring *ring;
static uint64_t mem_size; /* the boot info's mem_size */
static uint64_t ram_end;  /* first byte past guest RAM (the #637 ring included) */
static int failed;

static uint8_t frame[60];
static uint8_t sector[SECTOR];
static uint8_t rx_buf[2048];

/* Raw hypercall `nr` with the argument struct at `arg` (any 32-bit value). */
static void hc(unsigned nr, uint64_t arg)
{
    __asm__ volatile("outl %0, %w1" : : "a"((uint32_t)arg), "d"((uint16_t)(HC_PORT + nr)) : "memory");
}

static void say(const char *s)
{
    puts("hostile: ");
    puts(s);
    puts("\n");
}

static void check(int ok, const char *what)
{
    puts(ok ? "hostile: " : "hostile: CHECK FAILED: ");
    puts(what);
    puts(ok ? ": yes\n" : "\n");
    if (!ok)
        failed = 1;
}

static void report(const char *what, int64_t status)
{
    puts("hostile: ");
    puts(what);
    puts(": status ");
    put_u64((uint64_t)status);
    puts("\n");
}

static int32_t block_call(unsigned nr, uint64_t handle, uint64_t offset, uint64_t data, uint64_t len)
{
    struct hc_block a = { .handle = handle, .offset = offset, .data = data, .len = len, .ret = -1 };
    hc(nr, (uint64_t)(uintptr_t)&a);
    return a.ret;
}

static int32_t net_call(unsigned nr, uint64_t handle, uint64_t data, uint64_t len)
{
    struct hc_net a = { .handle = handle, .data = data, .len = len, .ret = -1 };
    hc(nr, (uint64_t)(uintptr_t)&a);
    return a.ret;
}

static void raw_puts(uint64_t data, uint64_t len)
{
    struct hc_puts a = { .data = data, .len = len };
    hc(HC_PUTS, (uint64_t)(uintptr_t)&a);
}

/* The hypercall of `what` is expected to end the tender: if it returns,
 * the guest says so and fails. */
static void fatal_expected(const char *what)
{
    puts("hostile: ");
    puts(what);
    puts(": ");
    puts("CHECK FAILED: the tender resumed the guest\n");
    failed = 1;
}

static void make_frame(void)
{
    memset(frame, 0, sizeof frame);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, ni.mac_address, 6);
    frame[12] = 0x88;
    frame[13] = 0xb5;
    memcpy(frame + 14, "classic", 7);
}

/* Proof of life by hypercalls: one valid call of each kind. */
static void hc_alive(void)
{
    static const char text[] = "hostile: PUTS alive\n";
    raw_puts((uint64_t)(uintptr_t)text, sizeof text - 1);
    struct hc_walltime w = { 0 };
    hc(HC_WALLTIME, (uint64_t)(uintptr_t)&w);
    check(w.nsecs > 1600000000ULL * 1000000000ULL, "WALLTIME after 2020");
    struct hc_poll p = { .timeout_nsecs = 0, .ret = -1 };
    hc(HC_POLL, (uint64_t)(uintptr_t)&p);
    report("POLL with timeout 0", p.ret);
    make_frame();
    report("NET_WRITE of a 60-byte frame", net_call(HC_NET_WRITE, net, (uint64_t)(uintptr_t)frame, sizeof frame));
    memset(sector, 'H', sizeof sector);
    report("BLOCK_WRITE of sector 7", block_call(HC_BLOCK_WRITE, blk, 7 * SECTOR, (uint64_t)(uintptr_t)sector, SECTOR));
    memset(sector, 0, sizeof sector);
    report("BLOCK_READ of sector 7", block_call(HC_BLOCK_READ, blk, 7 * SECTOR, (uint64_t)(uintptr_t)sector, SECTOR));
    int same = 1;
    for (int i = 0; i < SECTOR; i++)
        same &= sector[i] == 'H';
    check(same, "sector 7 read back");
    struct hc_net r = { .handle = net, .data = (uint64_t)(uintptr_t)rx_buf, .len = sizeof rx_buf, .ret = -1 };
    hc(HC_NET_READ, (uint64_t)(uintptr_t)&r);
    report("NET_READ with no frame waiting", r.ret);
}

/* ---- hypercalls that end the tender (one per run) ---- */

static void s_arg_outside(void)
{
    hc(HC_PUTS, 0xfffffff0ULL);
    fatal_expected("PUTS struct at 0xfffffff0");
}

static void s_poll_outside(void)
{
    hc(HC_POLL, 0xffffffe8ULL);
    fatal_expected("POLL struct at 0xffffffe8");
}

static void s_net_len_big(void)
{
    say("NET_WRITE longer than the MTU");
    static uint8_t big[70000];
    make_frame();
    memcpy(big, frame, sizeof frame);
    report("NET_WRITE of 1515 bytes", net_call(HC_NET_WRITE, net, (uint64_t)(uintptr_t)big, 1515));
    report("NET_WRITE of 9000 bytes", net_call(HC_NET_WRITE, net, (uint64_t)(uintptr_t)big, 9000));
    report("NET_WRITE of 65536 bytes", net_call(HC_NET_WRITE, net, (uint64_t)(uintptr_t)big, 65536));
    report("NET_WRITE of 70000 bytes", net_call(HC_NET_WRITE, net, (uint64_t)(uintptr_t)big, 70000));
    hc_alive();
}

static void s_arg_straddle(void)
{
    hc(HC_PUTS, ram_end - 8);
    fatal_expected("PUTS struct straddling the end of RAM");
}

static void s_arg_tender(void)
{
    hc(HC_WALLTIME, 0x1000);
    fatal_expected("WALLTIME struct on the GDT page");
}

static void s_arg_pagetables(void)
{
    hc(HC_BLOCK_READ, 0x20000);
    fatal_expected("BLOCK_READ struct on the page tables");
}

static void s_arg_boot(void)
{
    hc(HC_POLL, BOOT_INFO);
    fatal_expected("POLL struct on the read-only boot info");
}

static void s_data_outside(void)
{
    net_call(HC_NET_WRITE, net, 1ULL << 40, 60);
    fatal_expected("NET_WRITE from 2^40");
}

static void s_data_wrap(void)
{
    raw_puts(~0ULL - 7, 16);
    fatal_expected("PUTS from 2^64 - 8");
}

static void s_data_straddle(void)
{
    block_call(HC_BLOCK_WRITE, blk, 0, ram_end - 256, SECTOR);
    fatal_expected("BLOCK_WRITE from the last 256 bytes of RAM");
}

static void s_data_tender(void)
{
    block_call(HC_BLOCK_READ, blk, 0, 0x20000, SECTOR);
    fatal_expected("BLOCK_READ into the page tables");
}

static void s_data_code(void)
{
    net_call(HC_NET_READ, net, (uint64_t)(uintptr_t)&solo5_app_main, 2048);
    fatal_expected("NET_READ into the code");
}

static void s_puts_1g(void)
{
    raw_puts(0x100000, 1ULL << 30);
    fatal_expected("PUTS of 1 GiB");
}

static void s_halt_cookie(void)
{
    struct hc_halt h = { .cookie = ram_end - 100, .exit_status = 0 };
    hc(HC_HALT, (uint64_t)(uintptr_t)&h);
    fatal_expected("HALT with a cookie past the end of RAM");
}

static void s_nr0(void)
{
    hc(0, (uint64_t)(uintptr_t)frame);
    fatal_expected("hypercall 0");
}

/* Port 0x509 is closed to our ring-3 guest (the TSS I/O bitmap opens the
 * hypercall ports and doorbells only): a #GP, which the tender reports as
 * a trap (an upstream ring-0 guest reaches the tender's port check). */
static void s_port_past(void)
{
    hc(9, (uint64_t)(uintptr_t)frame);
    fatal_expected("port 0x509");
}

static void s_port_byte(void)
{
    __asm__ volatile("outb %0, %w1" : : "a"((uint8_t)0), "d"((uint16_t)(HC_PORT + HC_PUTS)) : "memory");
    fatal_expected("a 1-byte out to the PUTS port");
}

static void s_net_len0(void)
{
    make_frame();
    net_call(HC_NET_WRITE, net, (uint64_t)(uintptr_t)frame, 0);
    fatal_expected("NET_WRITE of 0 bytes");
}

/* ---- hypercalls answered with a result, then proof of life ---- */

static void s_einval(void)
{
    say("bad handles and block ranges");
    uint64_t buf = (uint64_t)(uintptr_t)sector;
    memset(sector, 'X', sizeof sector);
    report("BLOCK_WRITE handle 0", block_call(HC_BLOCK_WRITE, 0, 0, buf, SECTOR));
    report("BLOCK_WRITE handle 99", block_call(HC_BLOCK_WRITE, 99, 0, buf, SECTOR));
    report("BLOCK_WRITE handle 2^63", block_call(HC_BLOCK_WRITE, 1ULL << 63, 0, buf, SECTOR));
    report("BLOCK_WRITE net handle", block_call(HC_BLOCK_WRITE, net, 0, buf, SECTOR));
    report("BLOCK_READ handle 0", block_call(HC_BLOCK_READ, 0, 0, buf, SECTOR));
    report("BLOCK_READ net handle", block_call(HC_BLOCK_READ, net, 0, buf, SECTOR));
    make_frame();
    uint64_t f = (uint64_t)(uintptr_t)frame;
    report("NET_WRITE handle 0", net_call(HC_NET_WRITE, 0, f, sizeof frame));
    report("NET_WRITE block handle", net_call(HC_NET_WRITE, blk, f, sizeof frame));
    report("NET_WRITE handle 2^32", net_call(HC_NET_WRITE, 1ULL << 32, f, sizeof frame));
    report("NET_READ handle 0", net_call(HC_NET_READ, 0, (uint64_t)(uintptr_t)rx_buf, sizeof rx_buf));
    report("NET_READ block handle", net_call(HC_NET_READ, blk, (uint64_t)(uintptr_t)rx_buf, sizeof rx_buf));
    report("BLOCK_WRITE at the capacity", block_call(HC_BLOCK_WRITE, blk, bi.capacity, buf, SECTOR));
    report("BLOCK_WRITE of 1024 at the last sector", block_call(HC_BLOCK_WRITE, blk, bi.capacity - SECTOR, buf, 2 * SECTOR));
    report("BLOCK_WRITE at 2^64 - 512", block_call(HC_BLOCK_WRITE, blk, ~0ULL - 511, buf, SECTOR));
    report("BLOCK_WRITE of 2^63 bytes", block_call(HC_BLOCK_WRITE, blk, 0, buf, 1ULL << 63));
    report("BLOCK_READ at 2^63", block_call(HC_BLOCK_READ, blk, 1ULL << 63, buf, SECTOR));
    /* Upstream's tender checks only the range: the bindings check
     * alignment and size, so a raw call at an odd offset of an odd length
     * is done as asked. */
    static const char abc[] = "abc";
    report("BLOCK_WRITE of 3 bytes at offset 1", block_call(HC_BLOCK_WRITE, blk, 1, (uint64_t)(uintptr_t)abc, 3));
    report("NET_READ into 0 bytes", net_call(HC_NET_READ, net, (uint64_t)(uintptr_t)rx_buf, 0));
    raw_puts((uint64_t)(uintptr_t)abc, 0);
    hc_alive();
}

/* PUTS of all guest RAM from the kernel's first byte up: the tender writes
 * it to stdout straight from guest memory (host/tests measures its peak
 * RSS), and the guest goes on. */
static void s_puts_ram(void)
{
    say("PUTS of all guest RAM above 1 MiB");
    raw_puts(0x100000, ram_end - 0x100000);
    puts("\n");
    say("after the big PUTS");
    hc_alive();
}

/* ---- upstream's #637 net ring ---- */

static uint32_t next_id;

/* Writes entry `e` at ent_tail (whatever ent_head says) and publishes it,
 * kicking unconditionally. */
static void ring_put(struct entry e)
{
    e.id = next_id++;
    ring->entries[ring->ent_tail & (RING_SIZE - 1)] = e;
    __asm__ __volatile__("mfence" ::: "memory");
    ring->ent_tail++;
    __asm__ __volatile__("mfence" ::: "memory");
    __asm__ __volatile__("outl %0, %w1" : : "a"(0u), "d"((uint16_t)KICK_PORT));
}

/* Waits (at most RESPONSE_WAIT) until the host published an ent_head equal to our
 * ent_tail: it took every entry. */
static int ring_drained(void)
{
    solo5_time_t deadline = solo5_clock_monotonic() + RESPONSE_WAIT;
    while (ring->ent_head != ring->ent_tail)
        if (solo5_clock_monotonic() > deadline)
            return 0;
    return 1;
}

/* Waits (at most RESPONSE_WAIT) for the next commit; its result, or -1. */
static int32_t ring_commit(void)
{
    solo5_time_t deadline = solo5_clock_monotonic() + RESPONSE_WAIT;
    while (ring->com_head == ring->com_tail)
        if (solo5_clock_monotonic() > deadline)
            return -1;
    struct commit c = ring->commits[ring->com_head & (RING_SIZE - 1)];
    ring->com_head++;
    return c.ret;
}

static void ring_write(uint32_t handle, uint64_t data, uint32_t len)
{
    ring_put((struct entry){ .operation = OP_WRITE, .handle = handle, .data = data, .len = len });
}

static int32_t ring_read(uint32_t handle, uint64_t data, uint32_t len)
{
    ring_put((struct entry){ .operation = OP_READ, .handle = handle, .data = data, .len = len });
    return ring_commit();
}

/* Proof of life on the ring: a valid frame goes out, a valid READ is
 * answered (AGAIN: nothing is sent to the tap), then the hypercalls. */
static void ring_alive(void)
{
    make_frame();
    ring_write((uint32_t)net, (uint64_t)(uintptr_t)frame, sizeof frame);
    check(ring_drained(), "ring: valid frame taken");
    report("ring: valid READ", ring_read((uint32_t)net, (uint64_t)(uintptr_t)rx_buf, sizeof rx_buf));
    hc_alive();
}

static void s_ring_tail(void)
{
    say("ring: ent_tail far ahead of ent_head, then behind it");
    ring->ent_tail = ring->ent_head + 5000;
    __asm__ __volatile__("outl %0, %w1" : : "a"(0u), "d"((uint16_t)KICK_PORT));
    check(ring_drained(), "host skipped to a tail 5000 ahead");
    ring->ent_tail = ring->ent_head - 1;
    __asm__ __volatile__("outl %0, %w1" : : "a"(0u), "d"((uint16_t)KICK_PORT));
    check(ring_drained(), "host skipped to a tail 1 behind");
    ring_alive();
}

static void s_ring_host_words(void)
{
    say("ring: host-owned ent_head and com_tail overwritten");
    uint32_t tail = ring->ent_tail, com_tail = ring->com_tail;
    ring->ent_head = 0xdead0000u;
    ring->com_tail = 0xbeefu;
    make_frame();
    ring_write((uint32_t)net, (uint64_t)(uintptr_t)frame, sizeof frame);
    check(ring_drained() && ring->ent_head == tail + 1, "host put its own ent_head back");
    /* The next commit goes after the last one, and com_tail (still
     * scribbled over) becomes the host's own count. */
    ring_put((struct entry){ .operation = OP_READ, .handle = (uint32_t)net,
                             .data = (uint64_t)(uintptr_t)rx_buf, .len = sizeof rx_buf });
    solo5_time_t deadline = solo5_clock_monotonic() + RESPONSE_WAIT;
    while (ring->com_tail != com_tail + 1 && solo5_clock_monotonic() < deadline)
        ;
    check(ring->com_tail == com_tail + 1, "host put its own com_tail back");
    report("ring: READ after com_tail was overwritten", ring->commits[com_tail & (RING_SIZE - 1)].ret);
    ring->com_head = com_tail + 1;
    ring_alive();
}

static void s_ring_len(void)
{
    say("ring: WRITE lengths that are no frame, READ lengths past RAM");
    make_frame();
    uint64_t f = (uint64_t)(uintptr_t)frame;
    static const uint32_t lens[] = { 0, 13, 2049, 65535, 0xffffffffu };
    for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++)
        ring_write((uint32_t)net, f, lens[i]);
    check(ring_drained(), "host took the bad lengths");
    report("ring: READ of 2^32 - 1 bytes", ring_read((uint32_t)net, (uint64_t)(uintptr_t)rx_buf, 0xffffffffu));
    report("ring: READ of 0 bytes", ring_read((uint32_t)net, (uint64_t)(uintptr_t)rx_buf, 0));
    ring_alive();
}

static void s_ring_buf(void)
{
    say("ring: buffers outside what the guest may have the host touch");
    uint32_t h = (uint32_t)net;
    ring_write(h, 1ULL << 40, 60);
    ring_write(h, ram_end - 30, 60);
    ring_write(h, 0x1000, 60);
    ring_write(h, 0x20000, 60);
    ring_write(h, ~0ULL - 29, 60);
    check(ring_drained(), "host took the bad buffers");
    report("ring: READ into 0x20000 (page tables)", ring_read(h, 0x20000, 2048));
    report("ring: READ into the code", ring_read(h, (uint64_t)(uintptr_t)&solo5_app_main, 2048));
    report("ring: READ into the last 30 bytes of RAM", ring_read(h, ram_end - 30, 2048));
    ring_alive();
}

static void s_ring_op(void)
{
    say("ring: unknown operations and bad handles");
    make_frame();
    uint64_t f = (uint64_t)(uintptr_t)frame;
    static const uint32_t ops[] = { 0, 3, 0xffffffffu };
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ring_put((struct entry){ .operation = ops[i], .handle = (uint32_t)net, .data = f, .len = sizeof frame });
    ring_write(0, f, sizeof frame);
    ring_write(99, f, sizeof frame);
    ring_write((uint32_t)blk, f, sizeof frame);
    check(ring_drained(), "host took the bad entries");
    report("ring: READ on handle 0", ring_read(0, (uint64_t)(uintptr_t)rx_buf, sizeof rx_buf));
    report("ring: READ on the block handle", ring_read((uint32_t)blk, (uint64_t)(uintptr_t)rx_buf, sizeof rx_buf));
    ring_alive();
}

/* Kicks of every size with garbage values and no entries: the doorbell
 * (a KVM ioeventfd of any length) takes them all. */
static void s_ring_kick(void)
{
    say("ring: kicks with garbage and no entries");
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t v = i * 0x9e3779b9u;
        __asm__ __volatile__("outl %0, %w1" : : "a"(v), "d"((uint16_t)KICK_PORT));
        __asm__ __volatile__("outw %0, %w1" : : "a"((uint16_t)v), "d"((uint16_t)KICK_PORT));
        __asm__ __volatile__("outb %0, %w1" : : "a"((uint8_t)v), "d"((uint16_t)KICK_PORT));
    }
    ring_alive();
}

static const struct {
    const char *name;
    void (*run)(void);
} scenarios[] = {
    { "arg-outside", s_arg_outside },
    { "poll-outside", s_poll_outside },
    { "net-len-big", s_net_len_big },
    { "arg-straddle", s_arg_straddle },
    { "arg-tender", s_arg_tender },
    { "arg-pagetables", s_arg_pagetables },
    { "arg-boot", s_arg_boot },
    { "data-outside", s_data_outside },
    { "data-wrap", s_data_wrap },
    { "data-straddle", s_data_straddle },
    { "data-tender", s_data_tender },
    { "data-code", s_data_code },
    { "puts-1g", s_puts_1g },
    { "halt-cookie", s_halt_cookie },
    { "nr0", s_nr0 },
    { "port-past", s_port_past },
    { "port-byte", s_port_byte },
    { "net-len0", s_net_len0 },
    { "einval", s_einval },
    { "puts-ram", s_puts_ram },
    { "ring-tail", s_ring_tail },
    { "ring-host-words", s_ring_host_words },
    { "ring-len", s_ring_len },
    { "ring-buf", s_ring_buf },
    { "ring-op", s_ring_op },
    { "ring-kick", s_ring_kick },
};

int solo5_app_main(const struct solo5_start_info *si)
{
    if (solo5_net_acquire("service0", &net, &ni) != SOLO5_R_OK ||
        solo5_block_acquire("storage", &blk, &bi) != SOLO5_R_OK || bi.block_size != SECTOR) {
        puts("hostile: devices missing\n");
        return 3;
    }
    mem_size = *(volatile uint64_t *)(uintptr_t)BOOT_INFO;
    uint64_t ring_gpa = *(volatile uint64_t *)(uintptr_t)BOOT_NET_RING;
    if (!(*(volatile uint32_t *)(uintptr_t)BOOT_HOST_FEATURES & FEATURE_RING_IO) || !ring_gpa) {
        puts("hostile: no #637 net ring offered\n");
        return 3;
    }
    ring = (struct ring *)(uintptr_t)ring_gpa;
    ram_end = ring_gpa + RING_RESERVATION;
    const char *name = si->cmdline;
    while (*name == ' ')
        name++;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (t_streq(name, scenarios[i].name)) {
            puts("hostile: scenario ");
            puts(name);
            puts("\n");
            scenarios[i].run();
            if (failed)
                return 3;
            puts("SURVIVED\n");
            return SOLO5_EXIT_SUCCESS;
        }
    }
    puts("hostile: unknown scenario\n");
    return 3;
}
