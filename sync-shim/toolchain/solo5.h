/*
 * solo5.h: the Solo5 guest API, as ringtender's bindings provide it.
 *
 * Written for ringtender from the Solo5 interface description; the
 * functions, types and result codes are those every Solo5 libOS expects.
 */
#ifndef __SOLO5_H__
#define __SOLO5_H__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Result of a device call. */
typedef enum {
    SOLO5_R_OK,       /* success */
    SOLO5_R_AGAIN,    /* nothing to do now, try again later */
    SOLO5_R_EINVAL,   /* invalid argument */
    SOLO5_R_EUNSPEC   /* unspecified error */
} solo5_result_t;

/* Exit statuses; values from 255 up are reserved for Solo5. */
#define SOLO5_EXIT_SUCCESS 0
#define SOLO5_EXIT_FAILURE 1
#define SOLO5_EXIT_ABORT 255

/* Information given to solo5_app_main(); static and read-only. */
struct solo5_start_info {
    const char *cmdline;   /* application command line */
    uintptr_t heap_start;  /* start of the heap (the stack is at its top) */
    size_t heap_size;      /* size of the heap in bytes */
};

/* Provided by the application; returning from it is solo5_exit(value). */
int solo5_app_main(const struct solo5_start_info *info);

void solo5_exit(int status) __attribute__((noreturn));
void solo5_abort(void) __attribute__((noreturn));

/* Thread-local storage (local-exec model). */
size_t solo5_tls_size(void);
uintptr_t solo5_tls_tp_offset(uintptr_t tls);
solo5_result_t solo5_tls_init(uintptr_t tls);
solo5_result_t solo5_set_tls_base(uintptr_t base);

/* Time in nanoseconds. */
typedef uint64_t solo5_time_t;
solo5_time_t solo5_clock_monotonic(void);
solo5_time_t solo5_clock_wall(void);

/* Devices are named in the manifest; a handle is the device's index. */
typedef uint64_t solo5_handle_t;
typedef uint64_t solo5_handle_set_t;

/* Wait until deadline (monotonic) or until a network device has input;
 * *ready_set (if not NULL) receives the handles ready for input. */
void solo5_yield(solo5_time_t deadline, solo5_handle_set_t *ready_set);

/* Console output: best effort, never fails. */
void solo5_console_write(const char *buf, size_t size);

/* Network devices. */
#define SOLO5_NET_ALEN 6
#define SOLO5_NET_HLEN 14

struct solo5_net_info {
    uint8_t mac_address[SOLO5_NET_ALEN];
    size_t mtu;  /* excludes the Ethernet header */
};

solo5_result_t solo5_net_acquire(const char *name, solo5_handle_t *handle,
        struct solo5_net_info *info);
/* Send one frame of at most mtu + SOLO5_NET_HLEN bytes. */
solo5_result_t solo5_net_write(solo5_handle_t handle, const uint8_t *buf,
        size_t size);
/* Receive one frame; buf must hold mtu + SOLO5_NET_HLEN bytes.
 * SOLO5_R_AGAIN if nothing is pending. */
solo5_result_t solo5_net_read(solo5_handle_t handle, uint8_t *buf, size_t size,
        size_t *read_size);

/* Block devices. */
typedef uint64_t solo5_off_t;

struct solo5_block_info {
    solo5_off_t capacity;    /* bytes */
    solo5_off_t block_size;  /* bytes */
};

solo5_result_t solo5_block_acquire(const char *name, solo5_handle_t *handle,
        struct solo5_block_info *info);
/* offset and size must be multiples of block_size; size == block_size. */
solo5_result_t solo5_block_write(solo5_handle_t handle, solo5_off_t offset,
        const uint8_t *buf, size_t size);
solo5_result_t solo5_block_read(solo5_handle_t handle, solo5_off_t offset,
        uint8_t *buf, size_t size);

#endif /* __SOLO5_H__ */
