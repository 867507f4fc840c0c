/* Small helpers shared by ringtender's C test unikernels (freestanding). */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include "solo5.h"

static inline size_t t_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static inline void puts(const char *s)
{
    solo5_console_write(s, t_strlen(s));
}

static inline void put_u64(uint64_t v)
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

/* Sequence numbers as they arrive: how many, how many skipped (gaps) and
 * how many came after a higher one (out of order). */
struct seq_count {
    uint64_t received, expect, gaps, bad;
};

static inline void seq_count_add(struct seq_count *c, uint64_t seq)
{
    c->received++;
    if (seq < c->expect)
        c->bad++;
    else
        c->gaps += seq - c->expect;
    c->expect = seq + 1;
}

/* Prints "received N gaps N out-of-order N" (no newline). */
static inline void seq_count_print(const struct seq_count *c)
{
    puts("received ");
    put_u64(c->received);
    puts(" gaps ");
    put_u64(c->gaps);
    puts(" out-of-order ");
    put_u64(c->bad);
}

/* Parses a decimal number after any spaces; returns where it stopped. */
static inline const char *t_parse_u64(const char *p, uint64_t *v)
{
    while (*p == ' ')
        p++;
    *v = 0;
    while (*p >= '0' && *p <= '9')
        *v = *v * 10 + (uint64_t)(*p++ - '0');
    return p;
}

static inline int t_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* gcc may emit calls to these for struct copies and initialisers. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define TEST_LIBC_IMPL \
    void *memset(void *dst, int c, size_t n) \
    { \
        volatile unsigned char *d = dst; \
        while (n--) \
            *d++ = (unsigned char)c; \
        return dst; \
    } \
    void *memcpy(void *dst, const void *src, size_t n) \
    { \
        volatile unsigned char *d = dst; \
        const unsigned char *s = src; \
        while (n--) \
            *d++ = *s++; \
        return dst; \
    } \
    int memcmp(const void *a, const void *b, size_t n) \
    { \
        const unsigned char *x = a, *y = b; \
        for (; n; n--, x++, y++) \
            if (*x != *y) \
                return *x - *y; \
        return 0; \
    }

#define NO_DEVICES_MANIFEST "{\"type\": \"solo5.manifest\", \"version\": 1, \"devices\": []}"

#endif
