/*
 * solo5_ring.h: ringtender's ring API for libOS authors (C).
 *
 * The classic calls of solo5.h move one frame or one block per call. Where
 * the tender serves a device through rings (docs/ring-abi.md), these calls
 * move many at once: a batch of frames or block requests is published with
 * at most one doorbell, received frames are lent in place without a copy,
 * and block requests of many blocks stay in flight together.
 *
 * Every call is non-blocking. A handle not served through rings (an old
 * tender, or --classic) answers solo5_ring_available() with false; then use
 * solo5.h. Do not mix solo5_block_read/write with the block calls below on
 * one handle while ring requests are in flight: a blocking call discards
 * completions that are not its own.
 */
#ifndef __SOLO5_RING_H__
#define __SOLO5_RING_H__

#include "solo5.h"

/* Whether device h is served through rings. */
bool solo5_ring_available(solo5_handle_t h);

/* One frame to send. */
struct solo5_ring_frame {
    const uint8_t *data;
    size_t len;       /* at most the device's MTU + SOLO5_NET_HLEN */
};

/*
 * Queues frames[0..n) in order until one does not fit (ring full, or a
 * frame too long) and publishes them together; returns how many were
 * queued. The data is copied: the buffers are free again on return.
 */
size_t solo5_ring_net_send(solo5_handle_t h, const struct solo5_ring_frame *frames,
                           size_t n);

/*
 * Lends the next received frame in place: *frame and *len describe it until
 * solo5_ring_net_release(h). SOLO5_R_AGAIN if none is waiting; SOLO5_R_EINVAL
 * if h has no rings. At most one frame per handle is borrowed at a time.
 */
solo5_result_t solo5_ring_net_borrow(solo5_handle_t h, const uint8_t **frame,
                                     size_t *len);

/* Gives the borrowed frame back to the host. */
void solo5_ring_net_release(solo5_handle_t h);

/*
 * Frames the host dropped because this device's receive ring was full. The
 * tender drops only when started with --net-lossy; otherwise frames wait in
 * the host until the ring has room and this stays 0.
 */
uint64_t solo5_ring_net_dropped(solo5_handle_t h);

/* Block request operations. */
#define SOLO5_RING_BLOCK_READ 1
#define SOLO5_RING_BLOCK_WRITE 2
#define SOLO5_RING_BLOCK_FLUSH 4  /* writes completed before it are durable */

/* One block request. */
struct solo5_ring_block_req {
    uint32_t op;          /* SOLO5_RING_BLOCK_* */
    uint32_t tag;         /* the caller's; any value but 0xffffffff */
    solo5_off_t offset;   /* multiple of the block size */
    void *buf;            /* len bytes (unused by FLUSH) */
    size_t len;           /* multiple of the block size; 0 for FLUSH */
};

/* A completed request. */
struct solo5_ring_block_completion {
    uint32_t tag;
    solo5_result_t result; /* SOLO5_R_OK, SOLO5_R_EINVAL or SOLO5_R_EUNSPEC */
};

/*
 * Submits reqs[0..n) in order until the in-flight window is full; returns
 * how many were submitted. Buffers stay the host's until their completion
 * is reaped. The window is solo5_ring_block_window(h) requests.
 */
size_t solo5_ring_block_submit(solo5_handle_t h, const struct solo5_ring_block_req *reqs,
                               size_t n);

/* Takes up to max completions into out; returns how many (0 if none yet). */
size_t solo5_ring_block_reap(solo5_handle_t h, struct solo5_ring_block_completion *out,
                             size_t max);

/* Requests that can be in flight at once on h (0 if h has no rings). */
size_t solo5_ring_block_window(solo5_handle_t h);

#endif /* __SOLO5_RING_H__ */
