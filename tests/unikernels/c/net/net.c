#include "test_util.h"
TEST_LIBC_IMPL

/* ARP and ICMP echo responder: service0 answers as 10.0.0.2 (and, with
 * TWO_INTERFACES, service1 as 10.1.0.2). With "limit N" on the command line
 * it exits with SUCCESS after answering N echo requests. */

#ifdef TWO_INTERFACES
#define NIFS 2
#else
#define NIFS 1
#endif

#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_ARP 0x0806

struct nif {
    solo5_handle_t handle;
    struct solo5_net_info info;
    uint8_t ip[4];
};

static struct nif nifs[NIFS];
static uint8_t frame[16384];
static uint64_t answered;

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint16_t checksum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (; n > 1; n -= 2, p += 2)
        sum += get16(p);
    if (n)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void send(struct nif *n, size_t len)
{
    if (solo5_net_write(n->handle, frame, len) != SOLO5_R_OK)
        puts("warning: net_write failed\n");
}

static void handle_arp(struct nif *n, size_t len)
{
    uint8_t *arp = frame + 14;
    if (len < 14 + 28 || get16(arp + 6) != 1 || memcmp(arp + 24, n->ip, 4) != 0)
        return;
    /* Reply: target = sender; sender = us. */
    memcpy(frame, arp + 8, 6);
    memcpy(frame + 6, n->info.mac_address, 6);
    put16(arp + 6, 2);
    memcpy(arp + 18, arp + 8, 10);
    memcpy(arp + 8, n->info.mac_address, 6);
    memcpy(arp + 14, n->ip, 4);
    send(n, 14 + 28);
}

static void handle_ip(struct nif *n, size_t len)
{
    uint8_t *ip = frame + 14;
    if (len < 14 + 20 || (ip[0] >> 4) != 4 || ip[9] != 1 || memcmp(ip + 16, n->ip, 4) != 0)
        return;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    size_t total = get16(ip + 2);
    if (total > len - 14 || total < ihl + 8)
        return;
    uint8_t *icmp = ip + ihl;
    if (icmp[0] != 8)
        return;
    uint8_t mac[6], addr[4];
    memcpy(mac, frame + 6, 6);
    memcpy(frame, mac, 6);
    memcpy(frame + 6, n->info.mac_address, 6);
    memcpy(addr, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, addr, 4);
    put16(ip + 10, 0);
    put16(ip + 10, checksum(ip, ihl));
    icmp[0] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 2, checksum(icmp, total - ihl));
    send(n, 14 + total);
    answered++;
}

static uint64_t parse_limit(const char *cmdline)
{
    const char *p = cmdline;
    while (*p == ' ')
        p++;
    if (p[0] != 'l' || p[1] != 'i' || p[2] != 'm' || p[3] != 'i' || p[4] != 't')
        return 0;
    p += 5;
    while (*p == ' ')
        p++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v ? v : 100000;
}

int solo5_app_main(const struct solo5_start_info *si)
{
    const char *names[2] = { "service0", "service1" };
    uint64_t limit = parse_limit(si->cmdline);
    for (int i = 0; i < NIFS; i++) {
        if (solo5_net_acquire(names[i], &nifs[i].handle, &nifs[i].info) != SOLO5_R_OK) {
            puts("FAILURE: net_acquire\n");
            return SOLO5_EXIT_FAILURE;
        }
        uint8_t ip[4] = { 10, (uint8_t)i, 0, 2 };
        memcpy(nifs[i].ip, ip, 4);
        puts(names[i]);
        puts(": MTU is ");
        put_u64(nifs[i].info.mtu);
        puts("\n");
        if (nifs[i].info.mtu + SOLO5_NET_HLEN > sizeof frame) {
            puts("FAILURE: MTU too large\n");
            return SOLO5_EXIT_FAILURE;
        }
    }
    puts("Serving ARP and ICMP echo\n");
    for (;;) {
        solo5_handle_set_t ready = 0;
        solo5_yield(solo5_clock_monotonic() + 1000000000ULL, &ready);
        for (int i = 0; i < NIFS; i++) {
            if (!(ready & (1ULL << nifs[i].handle)))
                continue;
            size_t len;
            while (solo5_net_read(nifs[i].handle, frame, nifs[i].info.mtu + SOLO5_NET_HLEN, &len) == SOLO5_R_OK) {
                if (len >= 14 && get16(frame + 12) == ETHERTYPE_ARP)
                    handle_arp(&nifs[i], len);
                else if (len >= 14 && get16(frame + 12) == ETHERTYPE_IP)
                    handle_ip(&nifs[i], len);
                if (limit && answered >= limit) {
                    puts("Answered ");
                    put_u64(answered);
                    puts(" echo requests\nSUCCESS\n");
                    return SOLO5_EXIT_SUCCESS;
                }
            }
        }
    }
}
