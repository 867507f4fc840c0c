#include "test_util.h"
TEST_LIBC_IMPL

/* A hostile guest: it scribbles over its own ringtender ring memory
 * (docs/ring-abi.md) and then does I/O, to show that the tender neither
 * crashes, hangs nor touches memory the guest may not have it touch. The
 * command line names one scenario (see `scenarios` at the end);
 * host/tests/hostile.rs runs each one and checks the tap, the block file and
 * the lines printed here. After a scenario the guest prints SURVIVED and
 * exits 0; a check the guest makes itself that fails prints "CHECK FAILED"
 * and exits 3.
 *
 * Raw I/O: the C code finds the ring directory itself and writes requests
 * and frames straight into the guest->host channels (kicking the doorbell
 * every time), and reads block responses itself with a time limit, so a
 * request the host ignores cannot hang the guest (the shim's
 * solo5_block_write would wait for its response for ever).
 *
 * One source for both targets, told apart at run time by the linker
 * script's `ringtender_target`:
 * - hvt: boot info at 0x10000, the ring directory at its offset 56 (with
 *   host_features bit 16), the doorbell is a 4-byte `out` to port 0x601;
 *   the "DMA buffer" is guest RAM (rings included) minus the tender's pages
 *   and the read-only ELF segments.
 * - spt: boot info at 0x11000, followed by SptRingInfo {magic "RTR1",
 *   doorbell_fd, ring_dir} (the manifest then starts at 0x11038), the
 *   doorbell is an 8-byte write(2) of 1 to doorbell_fd; the I/O worker
 *   process sees only the ring memory, so block buffers must lie there (each
 *   block area ends with 64 data slots of 64 KiB) and any other address,
 *   guest RAM included, gets status 2. */

#define TARGET_SPT 2
#define HVT_BOOT_INFO 0x10000ULL
#define HVT_BOOT_HOST_FEATURES (HVT_BOOT_INFO + 40)
#define HVT_BOOT_RING_DIR (HVT_BOOT_INFO + 56)
#define FEATURE_RT_RINGS (1U << 16)
#define DOORBELL_PORT 0x601
#define SEND_PORT 0x602
#define SPT_BOOT_INFO 0x11000ULL
#define SPT_BOOT_MFT (SPT_BOOT_INFO + 24)
#define SPT_RING_INFO (SPT_BOOT_INFO + 40)
#define SPT_RING_MAGIC 0x31525452U /* "RTR1" */
#define SPT_SLOT_BYTES 0x10000ULL
#define SPT_SLOTS 64
#define AREA_GUEST_RC 0
#define AREA_GUEST_WAITING 8
#define AREA_GUEST_RX_OWNER 16
#define AREA_HOST_RC 64
#define AREA_HOST_SLEEPING 72
#define AREA_HOST_RX_PASS 88
#define HUGE_PAGE 0x200000ULL
#define MS 1000000ULL
/* How long the guest waits for a response the host must give: only a guard
 * against a host that stopped serving, generous for a busy machine (the
 * test's own hang guard is longer). A wait for a response the host must NOT
 * give stays short: a late response there cannot make the test fail. */
#define RESPONSE_WAIT (120000 * MS)

/* Absolute symbol of the linker script: the ABI1 target number. */
extern char ringtender_target[];

/* SHMStream v2 header words. */
enum { H_TRANSPORT, H_EPOCH, H_PROTOCOL, H_SIZE, H_ELEMENTS, H_RESERVED, H_WSC, H_WC };
#define HEADER 64
#define NET_PROTOCOL 0x7ade5c549b08e814ULL
#define BLOCK_PROTOCOL 0x5155684453516f3dULL

#define KIND_READ 1
#define KIND_WRITE 2
#define KIND_SYNC 4
#define NO_RESPONSE (~0ULL)

/* spt: ringtender's extension right after struct spt_boot_info. */
struct spt_ring_info {
    uint32_t magic;
    int32_t doorbell_fd;
    uint64_t ring_dir;
};

struct dir_header {
    uint32_t version, count;
};

struct dir_entry {
    uint64_t area;
    uint32_t kind, elements;
    uint64_t g2h_offset, g2h_bytes, h2g_offset, h2g_bytes;
};

struct request {
    uint16_t kind, device;
    uint32_t tag;
    uint64_t length, device_offset, buffer_offset;
};

struct response {
    uint16_t kind, device;
    uint32_t tag;
    uint64_t status;
};

/* One device's rings as the directory described them at start-up; `size`
 * and `elements` are the geometry the raw writer uses for g2h (a scenario
 * may change it). */
struct dev {
    solo5_handle_t handle;
    uint64_t area;
    volatile uint64_t *g2h, *h2g;
    uint64_t elements, size;
    uint64_t header[H_WSC]; /* the g2h header words as the shim published them */
};

static struct dev net, blk;
static struct solo5_net_info ni;
static struct solo5_block_info bi;
static int spt;               /* running under solo5-spt */
static int doorbell_fd;       /* spt: the I/O worker's doorbell */
static uint64_t boot_info;    /* address of the boot info */
static uint64_t mem_size;     /* the boot info's mem_size: rings start there */
static uint64_t ring_dir;     /* address of the ring directory */
/* First byte past what the host may touch for block I/O: guest RAM with the
 * ring areas on hvt, the ring memory on spt. */
static uint64_t ram_end;
static const char *ram_name;  /* "RAM" (hvt) or "ring memory" (spt) */
static uint64_t resp_rc;      /* our read counter of the block responses */
static uint32_t next_tag = 0x4000;
static int via_send_port;     /* hvt: kick() takes the send port */
static int failed;

static uint8_t element[2048];
static uint8_t sector[512];
static uint8_t big[1 << 20];
/* Buffers of raw block requests: `sector` and `big` in guest RAM on hvt;
 * on spt data slots of the block area (16 and 0..15), as the worker sees
 * only ring memory. */
static uint8_t *io_sector;
static uint8_t *io_big;

static uint64_t ld(const volatile uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(volatile uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static volatile uint64_t *word(uint64_t gpa)
{
    return (volatile uint64_t *)gpa;
}

static void put_hex(uint64_t v)
{
    char buf[19];
    int i = 18;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    puts(&buf[i]);
}

/* Joins up to three strings (for lines naming ram_name); one at a time. */
static const char *cat(const char *a, const char *b, const char *c)
{
    static char buf[160];
    size_t n = 0;
    const char *parts[3] = { a, b, c };
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; p && *p && n + 1 < sizeof buf; p++)
            buf[n++] = *p;
    buf[n] = 0;
    return buf;
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

/* hvt: the send port (an exit the vCPU thread serves) with `handle`. */
static void send_port(uint32_t handle)
{
    __asm__ volatile("outl %0, %w1" : : "a"(handle), "Nd"((uint16_t)SEND_PORT));
}

/* Rings the doorbell unconditionally (a well-behaved guest looks at
 * host_sleeping first): hvt a port write (or the send port), spt an
 * eventfd write(2). */
static void kick(const struct dev *d)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (via_send_port && !spt) {
        send_port((uint32_t)d->handle);
    } else if (spt) {
        uint64_t one = 1;
        long ret;
        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(1L), "D"((long)doorbell_fd), "S"(&one), "d"(8L)
                         : "rcx", "r11", "memory");
        if (ret != 8)
            check(0, "doorbell write took 8 bytes");
    } else {
        __asm__ volatile("outl %0, %w1" : : "a"((uint32_t)d->handle), "Nd"((uint16_t)DOORBELL_PORT));
    }
}

/* Waits until *w == want, at most `ns`; whether it happened. */
static int wait_word(volatile uint64_t *w, uint64_t want, uint64_t ns)
{
    solo5_time_t deadline = solo5_clock_monotonic() + ns;
    solo5_handle_set_t ready;
    while (ld(w) != want) {
        solo5_time_t now = solo5_clock_monotonic();
        if (now >= deadline)
            return 0;
        solo5_yield(now + MS, &ready);
    }
    return 1;
}

static uint8_t *slot(volatile uint64_t *ch, uint64_t size, uint64_t elements, uint64_t i)
{
    return (uint8_t *)ch + HEADER + (i % elements) * size;
}

/* Writes one element of `n` bytes at the channel's published wc, the way a
 * SHMStream writer does, and rings the doorbell. */
static void raw_put(struct dev *d, const void *el, size_t n)
{
    uint64_t wc = ld(&d->g2h[H_WC]);
    st(&d->g2h[H_WSC], wc + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(slot(d->g2h, d->size, d->elements, wc), el, n);
    st(&d->g2h[H_WC], wc + 1);
    kick(d);
}

/* A net element: an EtherType 0x88B5 frame, and `len_field` in the
 * element's last two bytes. */
static void net_put(uint16_t len_field)
{
    memset(element, 0, net.size);
    memset(element, 0xff, 6);
    memcpy(element + 6, ni.mac_address, 6);
    element[12] = 0x88;
    element[13] = 0xb5;
    memcpy(element + 14, "hostile", 7);
    element[net.size - 2] = (uint8_t)len_field;
    element[net.size - 1] = (uint8_t)(len_field >> 8);
    raw_put(&net, element, net.size);
}

/* A valid 60-byte frame; whether the host took it (its read counter
 * reached our wc) within a second. */
static int net_good(void)
{
    net_put(60);
    return wait_word(word(net.area + AREA_HOST_RC), ld(&net.g2h[H_WC]), RESPONSE_WAIT);
}

/* Submits one raw block request; its tag. */
static uint32_t blk_submit(uint16_t kind, uint64_t len, uint64_t off, uint64_t buf)
{
    struct request r = {
        .kind = kind,
        .device = (uint16_t)blk.handle,
        .tag = next_tag++,
        .length = len,
        .device_offset = off,
        .buffer_offset = buf,
    };
    raw_put(&blk, &r, blk.size < sizeof r ? blk.size : sizeof r);
    return r.tag;
}

/* Waits at most `ns` for the response to `tag`; its status or NO_RESPONSE. */
static uint64_t blk_wait(uint32_t tag, uint64_t ns)
{
    solo5_time_t deadline = solo5_clock_monotonic() + ns;
    solo5_handle_set_t ready;
    for (;;) {
        uint64_t wc = ld(&blk.h2g[H_WC]);
        if (wc - resp_rc - 1 < blk.elements) {
            struct response r;
            memcpy(&r, slot(blk.h2g, sizeof r, blk.elements, resp_rc), sizeof r);
            resp_rc++;
            st(word(blk.area + AREA_GUEST_RC), resp_rc);
            kick(&blk);
            if (r.tag == tag)
                return r.status;
            continue;
        }
        solo5_time_t now = solo5_clock_monotonic();
        if (now >= deadline)
            return NO_RESPONSE;
        solo5_yield(now + MS, &ready);
    }
}

static void report(const char *what, uint64_t status)
{
    puts("hostile: ");
    puts(what);
    if (status == NO_RESPONSE) {
        puts(": no response\n");
    } else {
        puts(": status ");
        put_u64(status);
        puts("\n");
    }
}

/* One raw request, waited for (at most RESPONSE_WAIT); prints "what: status N". */
static void blk_io(const char *what, uint16_t kind, uint64_t len, uint64_t off, uint64_t buf)
{
    report(what, blk_wait(blk_submit(kind, len, off, buf), RESPONSE_WAIT));
}

/* Proof that the block ring still works: sector 7 becomes 'H's. */
static void blk_alive(void)
{
    memset(io_sector, 'H', 512);
    blk_io("write sector 7", KIND_WRITE, 512, 7 * 512, (uint64_t)(uintptr_t)io_sector);
}

/* Checks that the host, which treats counters far ahead as an overrun, has
 * skipped to `d`'s published write counter. A lossy reader skips to the
 * write counter it sees, so an element written before it caught up would
 * be skipped too: a proof of life must come after this. */
static void host_skipped_ahead(struct dev *d, const char *what)
{
    check(wait_word(word(d->area + AREA_HOST_RC), ld(&d->g2h[H_WC]), RESPONSE_WAIT), what);
}

static void net_alive(void)
{
    check(net_good(), "valid frame taken");
}

/* Header word `field` of the net tx and block request channels becomes
 * `net_value` and `blk_value`; with `bump`, a new epoch is published after
 * it, so the host synchronises again and reads the header. */
static void corrupt_g2h(int field, uint64_t net_value, uint64_t blk_value, int bump)
{
    struct dev *devs[2] = { &net, &blk };
    uint64_t values[2] = { net_value, blk_value };
    for (int i = 0; i < 2; i++) {
        uint64_t epoch = ld(&devs[i]->g2h[H_EPOCH]);
        st(&devs[i]->g2h[field], values[i]);
        if (bump)
            st(&devs[i]->g2h[H_EPOCH], epoch + 2);
    }
}

/* Publishes `d`'s guest->host channel anew the way a writer resets it
 * (epoch 0, the shim's geometry, counters 0, then an epoch no earlier
 * publication used), so the host synchronises to it again. */
static void republish(struct dev *d)
{
    static uint64_t published;
    st(&d->g2h[H_EPOCH], 0);
    for (int field = H_TRANSPORT; field < H_WSC; field++)
        if (field != H_EPOCH)
            st(&d->g2h[field], d->header[field]);
    st(&d->g2h[H_WSC], 0);
    st(&d->g2h[H_WC], 0);
    st(&d->g2h[H_EPOCH], 0x5eed000000000000ULL + ++published);
    d->size = d->header[H_SIZE];
    d->elements = d->header[H_ELEMENTS];
}

/* I/O on channels the host cannot accept: a frame queued on the channel
 * (by hand: on spt the shim's solo5_net_write may write it to the tap
 * itself, past the channel) and a block write; neither is taken within
 * 300 ms. Then proof of life: both channels published anew with their
 * valid geometry are served again (a host that stopped serving altogether
 * would pass the first half). */
static void expect_ignored(void)
{
    net_put(60);
    memset(io_sector, 'H', 512);
    uint32_t tag = blk_submit(KIND_WRITE, 512, 7 * 512, (uint64_t)(uintptr_t)io_sector);
    report("write sector 7", blk_wait(tag, 300 * MS));
    check(ld(word(net.area + AREA_HOST_RC)) == 0, "host took no frame");
    republish(&net);
    republish(&blk);
    net_alive();
    blk_alive();
}

static void s_g2h_size(void)
{
    say("g2h size one more than the element, new epoch");
    corrupt_g2h(H_SIZE, net.size + 1, 33, 1);
    expect_ignored();
}

static void s_g2h_elements(void)
{
    say("g2h elements one more than the region holds, new epoch");
    corrupt_g2h(H_ELEMENTS, net.elements + 1, blk.elements + 1, 1);
    expect_ignored();
}

static void s_g2h_protocol(void)
{
    say("g2h protocols swapped, new epoch");
    corrupt_g2h(H_PROTOCOL, BLOCK_PROTOCOL, NET_PROTOCOL, 1);
    expect_ignored();
}

static void s_g2h_transport(void)
{
    say("g2h transport marker 0, new epoch");
    corrupt_g2h(H_TRANSPORT, 0, 0, 1);
    expect_ignored();
}

static void s_g2h_epoch0(void)
{
    say("g2h epoch 0");
    corrupt_g2h(H_EPOCH, 0, 0, 0);
    expect_ignored();
}

/* After the host synchronised, header fields changed without a new epoch
 * are not read again: the host keeps its own copy. */
static void s_g2h_same_epoch(void)
{
    say("g2h header fields scribbled, same epoch");
    net_alive();
    blk_alive();
    for (int field = H_TRANSPORT; field <= H_RESERVED; field++) {
        if (field == H_EPOCH)
            continue;
        corrupt_g2h(field, 0xdeadbeefdeadbeefULL, 0xdeadbeefdeadbeefULL, 0);
    }
    net_alive();
    blk_alive();
}

/* A new epoch with smaller elements: the host must find each element's
 * length field at its end (element size - 2), and read only 16 bytes of a
 * 16-byte block request. */
static void s_g2h_small(void)
{
    say("g2h reset with smaller elements");
    uint64_t epoch = ld(&net.g2h[H_EPOCH]);
    st(&net.g2h[H_EPOCH], 0);
    st(&net.g2h[H_SIZE], 80);
    st(&net.g2h[H_ELEMENTS], 64);
    st(&net.g2h[H_WSC], 0);
    st(&net.g2h[H_WC], 0);
    st(&net.g2h[H_EPOCH], epoch + 2);
    net.size = 80;
    net.elements = 64;
    for (int i = 0; i < 3; i++)
        net_put(60);
    check(wait_word(word(net.area + AREA_HOST_RC), 3, RESPONSE_WAIT), "host took 3 frames of 80-byte elements");

    epoch = ld(&blk.g2h[H_EPOCH]);
    st(&blk.g2h[H_EPOCH], 0);
    st(&blk.g2h[H_SIZE], 16);
    st(&blk.g2h[H_ELEMENTS], 64);
    st(&blk.g2h[H_WSC], 0);
    st(&blk.g2h[H_WC], 0);
    st(&blk.g2h[H_EPOCH], epoch + 2);
    blk.size = 16;
    /* Slot 1 starts 16 bytes in; put there what would complete a valid
     * write of sector 7 if the host read 32 bytes. */
    memset(io_sector, 'H', 512);
    uint64_t bait[2] = { 7 * 512, (uint64_t)(uintptr_t)io_sector };
    memcpy(slot(blk.g2h, 16, blk.elements, 1), bait, sizeof bait);
    report("16-byte write request", blk_wait(blk_submit(KIND_WRITE, 512, 0, 0), RESPONSE_WAIT));
}

static void s_wc_ahead(void)
{
    say("g2h wsc and wc 2^63 ahead, nothing written");
    struct dev *devs[2] = { &net, &blk };
    for (int i = 0; i < 2; i++) {
        uint64_t wc = ld(&devs[i]->g2h[H_WC]) + (1ULL << 63);
        st(&devs[i]->g2h[H_WSC], wc);
        st(&devs[i]->g2h[H_WC], wc);
        kick(devs[i]);
    }
    host_skipped_ahead(&net, "host skipped the net channel's counters");
    host_skipped_ahead(&blk, "host skipped the block channel's counters");
    net_alive();
    blk_alive();
}

/* One element written at wc, published with wc + 1 but a write started
 * counter 2^62 ahead: the reader finds the slot overwritten when it
 * checks wsc after reading it. */
static void put_overrun(struct dev *d, const void *el, size_t n)
{
    uint64_t wc = ld(&d->g2h[H_WC]);
    memcpy(slot(d->g2h, d->size, d->elements, wc), el, n);
    st(&d->g2h[H_WSC], wc + (1ULL << 62));
    st(&d->g2h[H_WC], wc + 1);
    kick(d);
}

/* A valid frame with wsc far ahead of wc: an overrun, dropped (no frame)
 * rather than retried for ever, and the block device is served
 * meanwhile; then a valid write of sector 8 with wsc far ahead, dropped
 * too (sector 8 unchanged); then both channels serve what follows. */
static void s_wsc_ahead(void)
{
    say("g2h wsc 2^62 ahead of a valid element");
    memset(element, 0, net.size);
    memset(element, 0xff, 60);
    element[net.size - 2] = 60;
    put_overrun(&net, element, net.size);
    memset(io_sector, 'H', 512);
    uint32_t tag = blk_submit(KIND_WRITE, 512, 7 * 512, (uint64_t)(uintptr_t)io_sector);
    report("write sector 7 while the net channel's wsc is ahead", blk_wait(tag, RESPONSE_WAIT));
    check(wait_word(word(net.area + AREA_HOST_RC), ld(&net.g2h[H_WC]), RESPONSE_WAIT), "host dropped the frame");
    memset(io_sector, 'X', 512);
    struct request r = {
        .kind = KIND_WRITE,
        .device = (uint16_t)blk.handle,
        .tag = next_tag++,
        .length = 512,
        .device_offset = 8 * 512,
        .buffer_offset = (uint64_t)(uintptr_t)io_sector,
    };
    put_overrun(&blk, &r, sizeof r);
    report("write sector 8 with wsc ahead", blk_wait(r.tag, 300 * MS));
    net_alive();
    blk_alive();
}

/* `elements` net elements whose length field is `len`, then one valid frame. */
static void bad_lengths(uint16_t len)
{
    for (uint64_t i = 0; i < net.elements; i++)
        net_put(len);
    check(wait_word(word(net.area + AREA_HOST_RC), net.elements, RESPONSE_WAIT), "host acknowledged a ring full of bad lengths");
    net_alive();
}

static void s_net_len0(void)
{
    say("net elements with length 0");
    bad_lengths(0);
}

static void s_net_len65535(void)
{
    say("net elements with length 65535");
    bad_lengths(65535);
}

static void s_net_len_over(void)
{
    say("net elements with length mtu + 15");
    bad_lengths((uint16_t)(ni.mtu + 15));
}

/* Buffers past the end of what the host may touch (hvt: guest RAM with the
 * rings; spt: the ring memory), straddling it, or wrapping around; on spt
 * also straddling the start of the ring memory (guest RAM below it). */
static void s_blk_buf_past(void)
{
    say(cat("block buffers past the end of ", ram_name, ""));
    memset((void *)(uintptr_t)(ram_end - 256), 0xa5, 256);
    blk_io(cat("read into the last 256 bytes of ", ram_name, " and beyond"), KIND_READ, 512, 0, ram_end - 256);
    int intact = 1;
    for (uint64_t a = ram_end - 256; a < ram_end; a++)
        intact &= *(volatile uint8_t *)(uintptr_t)a == 0xa5;
    check(intact, cat("last 256 bytes of ", ram_name, " unchanged"));
    blk_io(cat("write from the last 256 bytes of ", ram_name, " and beyond"), KIND_WRITE, 512, 0, ram_end - 256);
    blk_io(cat("read into the end of ", ram_name, ""), KIND_READ, 512, 0, ram_end);
    blk_io(cat("write from the end of ", ram_name, ""), KIND_WRITE, 512, 0, ram_end);
    blk_io("read into 2^40", KIND_READ, 512, 0, 1ULL << 40);
    blk_io("write from 2^40", KIND_WRITE, 512, 0, 1ULL << 40);
    blk_io("read into 2^64 - 256", KIND_READ, 512, 0, ~0ULL - 255);
    blk_io("write from 2^64 - 256", KIND_WRITE, 512, 0, ~0ULL - 255);
    if (spt) {
        /* 256 bytes of guest RAM (top of the stack) and the first 256 of
         * the ring directory: a partial read would overwrite the latter. */
        uint8_t dir[256];
        memcpy(dir, (void *)(uintptr_t)ring_dir, sizeof dir);
        blk_io("read straddling the start of ring memory", KIND_READ, 512, 0, ring_dir - 256);
        check(memcmp(dir, (void *)(uintptr_t)ring_dir, sizeof dir) == 0, "ring directory unchanged");
        blk_io("write straddling the start of ring memory", KIND_WRITE, 512, 0, ring_dir - 256);
    }
    blk_alive();
}

static void blk_buf_low_hvt(void)
{
    say("block buffers in the tender's low pages");
    uint64_t boot[8];
    memcpy(boot, (void *)(uintptr_t)HVT_BOOT_INFO, sizeof boot);
    blk_io("read into 0x1000 (GDT, TSS)", KIND_READ, 512, 0, 0x1000);
    blk_io("read into 0x2000 (IDT)", KIND_READ, 512, 0, 0x2000);
    blk_io("read into 0x3000 (trap stubs)", KIND_READ, 512, 0, 0x3000);
    blk_io("read into 0x20000 (page tables)", KIND_READ, 512, 0, 0x20000);
    blk_io("read into 0x10000 (boot info)", KIND_READ, 512, 0, HVT_BOOT_INFO);
    check(memcmp(boot, (void *)(uintptr_t)HVT_BOOT_INFO, sizeof boot) == 0, "boot info unchanged");
    blk_io("write from 0", KIND_WRITE, 512, 0, 0);
    blk_io("write from 0x1000 (GDT, TSS)", KIND_WRITE, 512, 0, 0x1000);
    blk_io("write from 0x20000 (page tables)", KIND_WRITE, 512, 0, 0x20000);
    blk_io("write from 0x10000 (boot info) to sector 9", KIND_WRITE, 512, 9 * 512, HVT_BOOT_INFO);
    blk_alive();
}

/* spt: the worker sees only the ring memory, so every buffer in the
 * guest's own memory (boot info, static data, stack, the top of RAM) or
 * below it is refused both ways, and the guest's copies stay as they were;
 * the ring memory itself, which the guest can read anyway, may be written
 * out (the directory goes to sector 9). */
static void blk_buf_low_spt(void)
{
    say("block buffers in guest memory the I/O worker cannot see");
    uint64_t boot[8];
    uint8_t stack[512];
    memcpy(boot, (void *)(uintptr_t)SPT_BOOT_INFO, sizeof boot);
    memset(sector, 'X', sizeof sector);
    memset(stack, 'X', sizeof stack);
    uint64_t stack_buf = (uint64_t)(uintptr_t)stack;
    uint64_t static_buf = (uint64_t)(uintptr_t)sector;
    blk_io("read into 0x1000 (below guest memory)", KIND_READ, 512, 0, 0x1000);
    blk_io("read into 0x11000 (boot info)", KIND_READ, 512, 0, SPT_BOOT_INFO);
    check(memcmp(boot, (void *)(uintptr_t)SPT_BOOT_INFO, sizeof boot) == 0, "boot info unchanged");
    blk_io("read into a static buffer", KIND_READ, 512, 0, static_buf);
    blk_io("read into the stack", KIND_READ, 512, 0, stack_buf);
    int intact = 1;
    for (size_t i = 0; i < 512; i++)
        intact &= ((volatile uint8_t *)sector)[i] == 'X' && ((volatile uint8_t *)stack)[i] == 'X';
    check(intact, "static buffer and stack unchanged");
    blk_io("read into the last page of guest RAM", KIND_READ, 512, 0, mem_size - 4096);
    blk_io("write from 0", KIND_WRITE, 512, 10 * 512, 0);
    blk_io("write from 0x11000 (boot info) to sector 10", KIND_WRITE, 512, 10 * 512, SPT_BOOT_INFO);
    blk_io("write from a static buffer to sector 10", KIND_WRITE, 512, 10 * 512, static_buf);
    blk_io("write from the stack to sector 10", KIND_WRITE, 512, 10 * 512, stack_buf);
    blk_io("write from the ring directory to sector 9", KIND_WRITE, 512, 9 * 512, ring_dir);
    blk_alive();
}

static void s_blk_buf_low(void)
{
    if (spt)
        blk_buf_low_spt();
    else
        blk_buf_low_hvt();
}

static uint64_t sum(const volatile uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

static void s_blk_buf_text(void)
{
    say("block read into the guest's own code");
    uint64_t text = (uint64_t)(uintptr_t)&solo5_app_main;
    uint64_t before = sum((const volatile uint8_t *)(uintptr_t)text, 512);
    blk_io("read into the code of solo5_app_main", KIND_READ, 512, 0, text);
    check(sum((const volatile uint8_t *)(uintptr_t)text, 512) == before, "code unchanged");
    blk_alive();
}

static void s_blk_len(void)
{
    say("block request lengths");
    uint64_t buf = (uint64_t)(uintptr_t)io_big;
    blk_io("read of length 0", KIND_READ, 0, 0, buf);
    blk_io("read of length 511", KIND_READ, 511, 0, buf);
    blk_io("write of length 513", KIND_WRITE, 513, 0, buf);
    blk_io("read of length 1 MiB + 512", KIND_READ, (1 << 20) + 512, 0, buf);
    blk_io("read of length 2 MiB", KIND_READ, 2 << 20, 0, buf);
    blk_io("read of length 2^40", KIND_READ, 1ULL << 40, 0, buf);
    blk_io("write of length 2^64 - 512", KIND_WRITE, ~0ULL - 511, 0, buf);
    memset(io_big, 0, sizeof big);
    blk_io("read of length 1 MiB", KIND_READ, 1 << 20, 0, buf);
    const volatile uint8_t *got = io_big;
    int same = 1;
    for (size_t i = 1; i < sizeof big; i++)
        same &= got[i] == got[0];
    puts("hostile: first byte ");
    put_hex(got[0]);
    puts("\n");
    check(same, "1 MiB read all equal");
    blk_alive();
}

static void s_blk_offset(void)
{
    say("block request offsets");
    uint64_t buf = (uint64_t)(uintptr_t)io_sector;
    memset(io_sector, 'X', 512);
    blk_io("read at the capacity", KIND_READ, 512, bi.capacity, buf);
    blk_io("write at the capacity", KIND_WRITE, 512, bi.capacity, buf);
    blk_io("write of 1024 at the last sector", KIND_WRITE, 1024, bi.capacity - 512, (uint64_t)(uintptr_t)io_big);
    blk_io("write at offset 1", KIND_WRITE, 512, 1, buf);
    blk_io("write at offset 2^64 - 512", KIND_WRITE, 512, ~0ULL - 511, buf);
    blk_io("read at offset 2^63", KIND_READ, 512, 1ULL << 63, buf);
    blk_alive();
}

static void s_blk_kind(void)
{
    say("block request kinds");
    uint64_t buf = (uint64_t)(uintptr_t)io_sector;
    memset(io_sector, 'X', 512);
    blk_io("kind 0", 0, 512, 8 * 512, buf);
    blk_io("kind 3 (discard)", 3, 512, 8 * 512, buf);
    blk_io("kind 5", 5, 512, 8 * 512, buf);
    blk_io("kind 65535", 65535, 512, 8 * 512, buf);
    blk_io("sync with garbage fields", KIND_SYNC, ~0ULL, ~0ULL, ~0ULL);
    blk_alive();
}

/* The guest's read counter of both host->guest channels jumps far ahead:
 * the host sees full rings, and resumes once the counter is put back. */
static void s_rx_rc_ahead(void)
{
    say("guest read counters 1000 ahead");
    uint64_t net_rc = ld(word(net.area + AREA_GUEST_RC));
    st(word(net.area + AREA_GUEST_RC), ld(&net.h2g[H_WC]) + 1000);
    st(word(blk.area + AREA_GUEST_RC), resp_rc + 1000);
    solo5_handle_set_t ready;
    for (int i = 0; i < 20; i++)
        solo5_yield(solo5_clock_monotonic() + 10 * MS, &ready);
    say("20 yields returned");
    memset(io_sector, 'H', 512);
    uint32_t tag = blk_submit(KIND_WRITE, 512, 7 * 512, (uint64_t)(uintptr_t)io_sector);
    report("write sector 7 (response ring looks full)", blk_wait(tag, 300 * MS));
    st(word(net.area + AREA_GUEST_RC), net_rc);
    st(word(blk.area + AREA_GUEST_RC), resp_rc);
    kick(&blk);
    report("write sector 7 (read counter put back)", blk_wait(tag, RESPONSE_WAIT));
    net_alive();
}

static void s_host_rc(void)
{
    say("host read counters overwritten");
    st(word(net.area + AREA_HOST_RC), 0xdeadbeef00000000ULL);
    st(word(blk.area + AREA_HOST_RC), 0xdeadbeef00000000ULL);
    uint8_t frame[60];
    memset(frame, 0xff, sizeof frame);
    report("solo5_net_write", solo5_net_write(net.handle, frame, sizeof frame));
    net_alive();
    blk_alive();
    check(ld(word(blk.area + AREA_HOST_RC)) == ld(&blk.g2h[H_WC]), "host restored its block read counter");
}

/* host_sleeping overwritten with nonsense and with 0; guest_waiting (a
 * guest word the spt worker reads to decide whether to wake the guest, and
 * no host reads on hvt) with nonsense too. */
static void s_host_sleeping(void)
{
    say("host_sleeping overwritten");
    uint8_t frame[60];
    memset(frame, 0xff, sizeof frame);
    memcpy(frame + 6, ni.mac_address, 6);
    st(word(net.area + AREA_HOST_SLEEPING), 0x5555555555555555ULL);
    st(word(blk.area + AREA_HOST_SLEEPING), 0x5555555555555555ULL);
    st(word(net.area + AREA_GUEST_WAITING), 0xaaaaaaaaaaaaaaaaULL);
    st(word(blk.area + AREA_GUEST_WAITING), 0xaaaaaaaaaaaaaaaaULL);
    report("solo5_net_write", solo5_net_write(net.handle, frame, sizeof frame));
    blk_alive();
    st(word(net.area + AREA_HOST_SLEEPING), 0);
    st(word(blk.area + AREA_HOST_SLEEPING), 0);
    report("solo5_net_write", solo5_net_write(net.handle, frame, sizeof frame));
    blk_alive();
    /* On spt the shim writes a frame to the tap itself when the worker
     * sleeps (or seems to) and has taken everything queued: the test counts
     * both frames on the tap; here, the host took what went to the ring. */
    check(wait_word(word(net.area + AREA_HOST_RC), ld(&net.g2h[H_WC]), RESPONSE_WAIT),
          "host took every queued frame");
}

/* Waits until *w == want, at most `ns`, without solo5_yield (whose wait
 * sets and clears rx_owner); whether it happened. */
static int spin_word(volatile uint64_t *w, uint64_t want, uint64_t ns)
{
    solo5_time_t deadline = solo5_clock_monotonic() + ns;
    while (ld(w) != want)
        if (solo5_clock_monotonic() >= deadline)
            return 0;
    return 1;
}

/* spt's rx hand-over words (docs/ring-abi.md section 9): rx_owner held
 * with nonsense, rx_pass (host-owned) and the host->guest write counters
 * scribbled. The worker never waits on them: it skips the rx ring while
 * rx_owner is set, still serves tx and block, puts rx_pass back to 0 after
 * each pass, and when the ring is given back keeps its own write counter
 * (the guest's is more than a ring ahead of its read counter). hvt's host
 * reads none of these words. */
static void s_rx_owner(void)
{
    say("rx_owner held, rx_pass and the rx write counter scribbled");
    volatile uint64_t *pass = word(net.area + AREA_HOST_RX_PASS);
    st(word(net.area + AREA_GUEST_RX_OWNER), 0xa5a5a5a5a5a5a5a5ULL);
    st(pass, 0x5a5a5a5a5a5a5a5aULL);
    st(&net.h2g[H_WSC], 1ULL << 63);
    st(&net.h2g[H_WC], 1ULL << 63);
    net_put(60);
    uint64_t wc = ld(&net.g2h[H_WC]);
    check(spin_word(word(net.area + AREA_HOST_RC), wc, RESPONSE_WAIT),
          "frame taken while rx_owner was held");
    if (spt)
        check(spin_word(pass, 0, RESPONSE_WAIT), "host cleared rx_pass");
    /* The bindings' solo5_yield (in net_alive and blk_alive) takes and
     * gives the ring back, with the write counter still far ahead. */
    net_alive();
    blk_alive();
}

/* The host->guest channel headers: the host never reads them back. */
static void s_h2g_header(void)
{
    say("host->guest channel headers overwritten");
    struct dev *devs[2] = { &net, &blk };
    for (int i = 0; i < 2; i++) {
        volatile uint64_t *h = devs[i]->h2g;
        st(&h[H_EPOCH], 0);
        st(&h[H_TRANSPORT], 0);
        st(&h[H_PROTOCOL], 0);
        st(&h[H_SIZE], 3);
        st(&h[H_ELEMENTS], 1ULL << 40);
        st(&h[H_WSC], 0x7777777);
        st(&h[H_WC], 0x7777777);
    }
    solo5_handle_set_t ready;
    solo5_yield(solo5_clock_monotonic() + 10 * MS, &ready);
    uint8_t frame[2048];
    size_t len;
    report("solo5_net_read", solo5_net_read(net.handle, frame, sizeof frame, &len));
    net_alive();
    blk_alive();
}

static void s_dir(void)
{
    say("ring directory overwritten");
    uint64_t dir = ring_dir;
    struct dir_header *h = (struct dir_header *)(uintptr_t)dir;
    struct dir_entry *e = (struct dir_entry *)(h + 1);
    uint32_t count = h->count;
    for (uint32_t i = 0; i < count; i++)
        memset(&e[i], 0xee, sizeof e[i]);
    memset(h, 0xee, sizeof *h);
    net_alive();
    blk_alive();
}

/* Whether the response to `tag` arrived (without waiting); its status
 * goes to *status. */
static int blk_answered(uint32_t tag, uint64_t *status)
{
    while (ld(&blk.h2g[H_WC]) - resp_rc - 1 < blk.elements) {
        struct response r;
        memcpy(&r, slot(blk.h2g, sizeof r, blk.elements, resp_rc), sizeof r);
        resp_rc++;
        st(word(blk.area + AREA_GUEST_RC), resp_rc);
        if (r.tag == tag) {
            *status = r.status;
            return 1;
        }
    }
    return 0;
}

static int net_taken(uint64_t wc)
{
    return ld(word(net.area + AREA_HOST_RC)) == wc;
}

#define FLIP_EPOCH 0xf11b000000000000ULL
#define FLIP_WARMUP (20 * MS)
#define FLIP_LIMIT (10000 * MS)

/* Rings `d`'s doorbell and publishes a new epoch on its guest->host
 * channel over and over, without pause: for 20 ms, then `start` submits
 * the other device's I/O, and on until `done` says it completed or ten
 * seconds passed; how many epochs it published. The channel stays valid
 * and empty (wc 0), so every epoch is one the host can synchronise to and
 * find nothing in. */
static uint64_t flip_until(struct dev *d, void (*start)(void), int (*done)(void))
{
    uint64_t flips = 0;
    solo5_time_t now = solo5_clock_monotonic();
    solo5_time_t started = now + FLIP_WARMUP, deadline = now + FLIP_LIMIT;
    kick(d);
    while (solo5_clock_monotonic() < started)
        for (int i = 0; i < 1000; i++)
            st(&d->g2h[H_EPOCH], FLIP_EPOCH + flips++);
    start();
    while (!done() && solo5_clock_monotonic() < deadline)
        for (int i = 0; i < 1000; i++)
            st(&d->g2h[H_EPOCH], FLIP_EPOCH + flips++);
    return flips;
}

static uint32_t flip_tag;
static uint64_t flip_status = NO_RESPONSE;
static uint64_t flip_wc;

static void flip_blk_start(void)
{
    memset(io_sector, 'H', 512);
    flip_tag = blk_submit(KIND_WRITE, 512, 7 * 512, (uint64_t)(uintptr_t)io_sector);
}

static int flip_blk_done(void)
{
    return blk_answered(flip_tag, &flip_status);
}

static void flip_net_start(void)
{
    net_put(60);
    flip_wc = ld(&net.g2h[H_WC]);
}

static int flip_net_done(void)
{
    return net_taken(flip_wc);
}

static void report_flips(uint64_t flips)
{
    puts("hostile: epochs published: ");
    put_u64(flips);
    puts("\n");
}

/* One device's guest->host channel changes its epoch over and over while
 * the other device has I/O waiting: the host's work per round on the
 * flipping channel is bounded, so the other device is served meanwhile;
 * both ways round, then both channels published anew work. */
static void s_epoch_flip(void)
{
    say("g2h epoch flipped without end while the other device waits");
    republish(&net);
    republish(&blk);
    report_flips(flip_until(&net, flip_blk_start, flip_blk_done));
    report("write sector 7 while the net channel's epoch flipped", flip_status);
    report_flips(flip_until(&blk, flip_net_start, flip_net_done));
    check(net_taken(flip_wc), "frame taken while the block channel's epoch flipped");

    republish(&net);
    republish(&blk);
    net_alive();
    blk_alive();
}

/* hvt: the send port hit with handles of no net device, with the tx
 * channel's counters 2^63 ahead, and 10,000 times with nothing queued: the
 * vCPU thread sends at most one batch per exit and ignores other handles;
 * then a frame sent through the port reaches the tap. spt has no such
 * port: the same steps ring the doorbell. */
static void s_send_port(void)
{
    say("send port: other handles, counters far ahead, a flood");
    via_send_port = 1;
    if (!spt) {
        send_port(0xffffffffU);
        send_port((uint32_t)blk.handle);
    }
    uint64_t wc = ld(&net.g2h[H_WC]) + (1ULL << 63);
    st(&net.g2h[H_WSC], wc);
    st(&net.g2h[H_WC], wc);
    for (int i = 0; i < 10000; i++)
        kick(&net);
    host_skipped_ahead(&net, "host skipped the net channel's counters");
    net_alive();
    via_send_port = 0;
    blk_alive();
}

static const struct {
    const char *name;
    void (*run)(void);
} scenarios[] = {
    { "g2h-size", s_g2h_size },
    { "g2h-elements", s_g2h_elements },
    { "g2h-protocol", s_g2h_protocol },
    { "g2h-transport", s_g2h_transport },
    { "g2h-epoch0", s_g2h_epoch0 },
    { "g2h-same-epoch", s_g2h_same_epoch },
    { "g2h-small", s_g2h_small },
    { "wc-ahead", s_wc_ahead },
    { "wsc-ahead", s_wsc_ahead },
    { "net-len0", s_net_len0 },
    { "net-len65535", s_net_len65535 },
    { "net-len-over", s_net_len_over },
    { "blk-buf-past", s_blk_buf_past },
    { "blk-buf-low", s_blk_buf_low },
    { "blk-buf-text", s_blk_buf_text },
    { "blk-len", s_blk_len },
    { "blk-offset", s_blk_offset },
    { "blk-kind", s_blk_kind },
    { "rx-rc-ahead", s_rx_rc_ahead },
    { "host-rc", s_host_rc },
    { "host-sleeping", s_host_sleeping },
    { "h2g-header", s_h2g_header },
    { "rx-owner", s_rx_owner },
    { "dir", s_dir },
    { "epoch-flip", s_epoch_flip },
    { "send-port", s_send_port },
};

/* Where the tender put the ring directory (0 if it offers none), and the
 * doorbell on spt. */
static uint64_t find_dir(void)
{
    if (!spt) {
        boot_info = HVT_BOOT_INFO;
        mem_size = ld(word(boot_info));
        if (!(*(volatile uint32_t *)(uintptr_t)HVT_BOOT_HOST_FEATURES & FEATURE_RT_RINGS))
            return 0;
        return ld(word(HVT_BOOT_RING_DIR));
    }
    boot_info = SPT_BOOT_INFO;
    mem_size = ld(word(boot_info));
    const volatile struct spt_ring_info *ri = (const volatile struct spt_ring_info *)(uintptr_t)SPT_RING_INFO;
    if (ld(word(SPT_BOOT_MFT)) != SPT_RING_INFO + sizeof(struct spt_ring_info) || ri->magic != SPT_RING_MAGIC)
        return 0;
    doorbell_fd = ri->doorbell_fd;
    return ri->ring_dir;
}

static int find_rings(void)
{
    spt = (uintptr_t)ringtender_target == TARGET_SPT;
    ram_name = spt ? "ring memory" : "RAM";
    uint64_t dir = find_dir();
    if (!dir)
        return 0;
    ring_dir = dir;
    const struct dir_header *h = (const struct dir_header *)(uintptr_t)dir;
    const struct dir_entry *e = (const struct dir_entry *)(h + 1);
    if (h->version != 1 || h->count <= net.handle || h->count <= blk.handle)
        return 0;
    struct dev *devs[2] = { &net, &blk };
    uint64_t last = 0;
    for (int i = 0; i < 2; i++) {
        struct dev *d = devs[i];
        const struct dir_entry *de = &e[d->handle];
        if (!de->area)
            return 0;
        d->area = de->area;
        d->g2h = word(de->area + de->g2h_offset);
        d->h2g = word(de->area + de->h2g_offset);
        d->elements = de->elements;
        for (int field = H_TRANSPORT; field < H_WSC; field++)
            d->header[field] = ld(&d->g2h[field]);
        uint64_t end = de->area + de->h2g_offset + de->h2g_bytes;
        /* spt: each block area ends with its data slots. */
        if (spt && d == &blk)
            end += SPT_SLOTS * SPT_SLOT_BYTES;
        if (end > last)
            last = end;
    }
    net.size = ni.mtu + 16;
    blk.size = 32;
    if (spt) {
        /* The ring memory is mapped exactly from the directory to the end
         * of the last area. */
        ram_end = last;
        uint64_t slots = blk.area + e[blk.handle].h2g_offset + e[blk.handle].h2g_bytes;
        io_big = (uint8_t *)(uintptr_t)slots;
        io_sector = (uint8_t *)(uintptr_t)(slots + 16 * SPT_SLOT_BYTES);
    } else {
        /* The tender allocates the ring memory above mem_size in 2 MiB pages. */
        ram_end = mem_size + ((last - mem_size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
        io_big = big;
        io_sector = sector;
    }
    resp_rc = ld(word(blk.area + AREA_GUEST_RC));
    return net.size <= sizeof element;
}

int solo5_app_main(const struct solo5_start_info *si)
{
    if (solo5_net_acquire("service0", &net.handle, &ni) != SOLO5_R_OK ||
        solo5_block_acquire("storage", &blk.handle, &bi) != SOLO5_R_OK || bi.block_size != 512) {
        puts("hostile: devices missing\n");
        return 3;
    }
    if (!find_rings()) {
        puts("hostile: no ringtender rings\n");
        return 3;
    }
    const char *name = si->cmdline;
    while (*name == ' ')
        name++;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (t_streq(name, scenarios[i].name)) {
            puts("hostile: scenario ");
            puts(name);
            puts(spt ? ", spt, ring memory ends at " : ", hvt, RAM ends at ");
            put_hex(ram_end);
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
