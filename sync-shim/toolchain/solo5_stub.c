/*
 * solo5_stub.c: the bindings of the stub target, which
 * x86_64-solo5-none-static-cc links when no -z solo5-abi is given.
 *
 * Build systems that know nothing of Solo5 (autoconf's link tests, a
 * libOS's probes) use the compiler as a linker and look only at whether the
 * link succeeds. These definitions let such a program link: every symbol of
 * the real bindings is here, and nothing calls solo5_app_main. The result
 * carries no Solo5 note (its PT_NOTE headers are empty), so every tender
 * refuses it as an invalid executable; if it ran anyway, it would spin.
 */
#include "solo5.h"
#include "solo5_ring.h"

#define UNUSED __attribute__((unused))

/* Keeps the kernel from exec'ing the file as a Linux program. */
__attribute__((section(".interp"), used))
static const char interp[] = "/nonexistent/solo5/";

__attribute__((noreturn)) static void spin(void)
{
    for (;;)
        ;
}

void _start(void *arg UNUSED) __attribute__((noreturn));
void _start(void *arg UNUSED)
{
    spin();
}

uintptr_t __stack_chk_guard;

void __stack_chk_fail(void) __attribute__((noreturn));
void __stack_chk_fail(void)
{
    spin();
}

void solo5_exit(int status UNUSED)
{
    spin();
}

void solo5_abort(void)
{
    spin();
}

size_t solo5_tls_size(void)
{
    return 0;
}

uintptr_t solo5_tls_tp_offset(uintptr_t tls UNUSED)
{
    return 0;
}

solo5_result_t solo5_tls_init(uintptr_t tls UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

solo5_result_t solo5_set_tls_base(uintptr_t base UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

solo5_time_t solo5_clock_monotonic(void)
{
    return 0;
}

solo5_time_t solo5_clock_wall(void)
{
    return 0;
}

void solo5_yield(solo5_time_t deadline UNUSED, solo5_handle_set_t *ready_set)
{
    if (ready_set)
        *ready_set = 0;
}

void solo5_console_write(const char *buf UNUSED, size_t size UNUSED)
{
}

solo5_result_t solo5_net_acquire(const char *name UNUSED, solo5_handle_t *handle UNUSED,
        struct solo5_net_info *info UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

solo5_result_t solo5_net_write(solo5_handle_t handle UNUSED, const uint8_t *buf UNUSED,
        size_t size UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

solo5_result_t solo5_net_read(solo5_handle_t handle UNUSED, uint8_t *buf UNUSED,
        size_t size UNUSED, size_t *read_size UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

solo5_result_t solo5_block_acquire(const char *name UNUSED, solo5_handle_t *handle UNUSED,
        struct solo5_block_info *info UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

solo5_result_t solo5_block_write(solo5_handle_t handle UNUSED, solo5_off_t offset UNUSED,
        const uint8_t *buf UNUSED, size_t size UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

solo5_result_t solo5_block_read(solo5_handle_t handle UNUSED, solo5_off_t offset UNUSED,
        uint8_t *buf UNUSED, size_t size UNUSED)
{
    return SOLO5_R_EUNSPEC;
}

bool solo5_ring_available(solo5_handle_t h UNUSED)
{
    return false;
}

size_t solo5_ring_net_send(solo5_handle_t h UNUSED, const struct solo5_ring_frame *frames UNUSED,
        size_t n UNUSED)
{
    return 0;
}

solo5_result_t solo5_ring_net_borrow(solo5_handle_t h UNUSED, const uint8_t **frame UNUSED,
        size_t *len UNUSED)
{
    return SOLO5_R_EINVAL;
}

void solo5_ring_net_release(solo5_handle_t h UNUSED)
{
}

uint64_t solo5_ring_net_dropped(solo5_handle_t h UNUSED)
{
    return 0;
}

size_t solo5_ring_block_submit(solo5_handle_t h UNUSED,
        const struct solo5_ring_block_req *reqs UNUSED, size_t n UNUSED)
{
    return 0;
}

size_t solo5_ring_block_reap(solo5_handle_t h UNUSED,
        struct solo5_ring_block_completion *out UNUSED, size_t max UNUSED)
{
    return 0;
}

size_t solo5_ring_block_window(solo5_handle_t h UNUSED)
{
    return 0;
}
