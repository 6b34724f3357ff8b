/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel's own view of the native blkif wire format, for cross-checks:
 * kunit/kernel_blkif.c fills and reads slots through struct blkif_request /
 * blkif_response from <xen/interface/io/blkif.h> and sizes rings with the
 * kernel's ring.h macros. The C++ decoders and encoders (xbc/blkif.hpp) must
 * agree with these byte for byte.
 */
#ifndef XBC_KUNIT_KERNEL_BLKIF_H
#define XBC_KUNIT_KERNEL_BLKIF_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* A read/write request as the kernel's struct sees it. */
struct xbc_kunit_rw_view {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint64_t id;
	uint64_t sector;
	uint32_t gref[11];
	uint8_t first_sect[11];
	uint8_t last_sect[11];
};

size_t xbc_kunit_kernel_blkif_req_size(void) KAPI_NOEXCEPT;
size_t xbc_kunit_kernel_blkif_rsp_size(void) KAPI_NOEXCEPT;
/* sizeof(union blkif_sring_entry), and RING_SIZE of a one-page blkif ring. */
size_t xbc_kunit_kernel_blkif_entry_size(void) KAPI_NOEXCEPT;
unsigned int xbc_kunit_kernel_blkif_ring_size_1page(void) KAPI_NOEXCEPT;

/* Writes a request into @slot (blkif_request size); unused bytes are 0xAA. */
void xbc_kunit_kernel_blkif_put_rw(void *slot, const struct xbc_kunit_rw_view *rw) KAPI_NOEXCEPT;
void xbc_kunit_kernel_blkif_put_discard(void *slot, uint64_t id, uint64_t sector,
					uint64_t nr_sectors, bool secure) KAPI_NOEXCEPT;
void xbc_kunit_kernel_blkif_put_indirect(void *slot, uint8_t indirect_op, uint16_t nr_segments,
					 uint16_t handle, uint64_t id, uint64_t sector,
					 const uint32_t *grefs, unsigned int nr_grefs) KAPI_NOEXCEPT;
/* Fills @nr entries of an indirect page with struct blkif_request_segment. */
void xbc_kunit_kernel_blkif_put_indirect_segs(void *page, unsigned int nr, uint32_t gref_base,
					      uint8_t first_sect, uint8_t last_sect) KAPI_NOEXCEPT;

/* Reads a slot back through the kernel's structs. */
void xbc_kunit_kernel_blkif_get_rw(const void *slot, struct xbc_kunit_rw_view *rw) KAPI_NOEXCEPT;
/* A response's fields; returns true iff every padding byte is zero. */
bool xbc_kunit_kernel_blkif_get_rsp(const void *slot, uint64_t *id, uint8_t *operation,
				    int16_t *status) KAPI_NOEXCEPT;

KAPI_END_DECLS


KAPI_BEGIN_DECLS

/*
 * A frontend ring driven by the kernel's own ring.h macros on a one-page
 * shared ring (SHARED_RING_INIT, FRONT_RING_INIT, RING_GET_REQUEST,
 * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, RING_FINAL_CHECK_FOR_RESPONSES), for
 * round trips against the C++ BackRing. @start sets every index, to test
 * 2^32 wrap-around (the macros start at 0; they wrap the same way).
 */
struct xbc_kunit_kfront;
struct xbc_kunit_kfront *xbc_kunit_kfront_create(void *page, uint32_t start) KAPI_NOEXCEPT;
void xbc_kunit_kfront_destroy(struct xbc_kunit_kfront *kf) KAPI_NOEXCEPT;
/* Queues a read/write request; false when the ring is full. */
bool xbc_kunit_kfront_queue_rw(struct xbc_kunit_kfront *kf,
			       const struct xbc_kunit_rw_view *rw) KAPI_NOEXCEPT;
/* Publishes queued requests; true when the backend must be notified. */
bool xbc_kunit_kfront_push(struct xbc_kunit_kfront *kf) KAPI_NOEXCEPT;
/* Consumes up to @max responses (ids and statuses); returns how many. */
unsigned int xbc_kunit_kfront_take_responses(struct xbc_kunit_kfront *kf, uint64_t *ids,
					     int16_t *status, unsigned int max) KAPI_NOEXCEPT;
/* Queues an indirect request (BLKIF_OP_INDIRECT); false when full. */
bool xbc_kunit_kfront_queue_indirect(struct xbc_kunit_kfront *kf, uint8_t indirect_op,
				     uint16_t nr_segments, uint64_t id, uint64_t sector,
				     const uint32_t *grefs, unsigned int nr_grefs) KAPI_NOEXCEPT;
/* A hostile frontend: claims @extra more requests than it queued. */
void xbc_kunit_kfront_lie_req_prod(struct xbc_kunit_kfront *kf, uint32_t extra) KAPI_NOEXCEPT;

KAPI_END_DECLS

KAPI_BEGIN_DECLS

/*
 * A backend ring driven by the kernel's ring.h macros on a one-page shared
 * ring the frontend under test initialised (BACK_RING_ATTACH,
 * RING_COPY_REQUEST, RING_PUSH_RESPONSES_AND_CHECK_NOTIFY): the peer of
 * the C++ frontend engine in the KUnit suites.
 */
struct xbc_kunit_kback;
struct xbc_kunit_kback *xbc_kunit_kback_create(void *page) KAPI_NOEXCEPT;
void xbc_kunit_kback_destroy(struct xbc_kunit_kback *kb) KAPI_NOEXCEPT;

/* One request as struct blkif_request reads it: rw (or another non-indirect
 * operation: its id and sector sit where rw's do), or indirect. */
struct xbc_kunit_req_view {
	uint8_t operation;
	struct xbc_kunit_rw_view rw;	/* not BLKIF_OP_INDIRECT */
	struct {
		uint8_t indirect_op;
		uint16_t nr_segments;
		uint64_t id;
		uint64_t sector;
		uint32_t gref[8];	/* the segment pages */
	} indirect;			/* BLKIF_OP_INDIRECT */
};
/* Takes the next request; false when none is pending. */
bool xbc_kunit_kback_take_request(struct xbc_kunit_kback *kb,
				  struct xbc_kunit_req_view *req) KAPI_NOEXCEPT;
/* Queues a response; publishes; true when the frontend must be notified. */
bool xbc_kunit_kback_respond(struct xbc_kunit_kback *kb, uint64_t id, uint8_t operation,
			     int16_t status) KAPI_NOEXCEPT;
/* Entry @i of an indirect page (struct blkif_request_segment). */
void xbc_kunit_kernel_blkif_get_indirect_seg(const void *page, unsigned int i, uint32_t *gref,
					     uint8_t *first_sect, uint8_t *last_sect) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_KUNIT_KERNEL_BLKIF_H */
