// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's native blkif structs and ring macros, as a reference the
 * C++ wire code is checked against (kunit/blkif_suite.cpp). Translation
 * only: copy fields between the kernel's structs and plain C views.
 */
#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/barrier.h>
#include <xen/interface/io/blkif.h>
#include <xen/page.h>

#include "kunit/kernel_blkif.h"

static_assert(ARRAY_SIZE(((struct xbc_kunit_rw_view *)0)->gref) ==
	      BLKIF_MAX_SEGMENTS_PER_REQUEST);

size_t xbc_kunit_kernel_blkif_req_size(void)
{
	return sizeof(struct blkif_request);
}

size_t xbc_kunit_kernel_blkif_rsp_size(void)
{
	return sizeof(struct blkif_response);
}

size_t xbc_kunit_kernel_blkif_entry_size(void)
{
	return sizeof(union blkif_sring_entry);
}

unsigned int xbc_kunit_kernel_blkif_ring_size_1page(void)
{
	return __CONST_RING_SIZE(blkif, XEN_PAGE_SIZE);
}

void xbc_kunit_kernel_blkif_put_rw(void *slot, const struct xbc_kunit_rw_view *rw)
{
	struct blkif_request req;
	unsigned int i;

	memset(&req, 0xaa, sizeof(req));
	req.operation = rw->operation;
	req.u.rw.nr_segments = rw->nr_segments;
	req.u.rw.handle = rw->handle;
	req.u.rw.id = rw->id;
	req.u.rw.sector_number = rw->sector;
	for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		req.u.rw.seg[i].gref = rw->gref[i];
		req.u.rw.seg[i].first_sect = rw->first_sect[i];
		req.u.rw.seg[i].last_sect = rw->last_sect[i];
	}
	memcpy(slot, &req, sizeof(req));
}

void xbc_kunit_kernel_blkif_put_discard(void *slot, uint64_t id, uint64_t sector,
					uint64_t nr_sectors, bool secure)
{
	struct blkif_request req;

	memset(&req, 0xaa, sizeof(req));
	req.operation = BLKIF_OP_DISCARD;
	req.u.discard.flag = secure ? BLKIF_DISCARD_SECURE : 0;
	req.u.discard.id = id;
	req.u.discard.sector_number = sector;
	req.u.discard.nr_sectors = nr_sectors;
	memcpy(slot, &req, sizeof(req));
}

void xbc_kunit_kernel_blkif_put_indirect(void *slot, uint8_t indirect_op, uint16_t nr_segments,
					 uint16_t handle, uint64_t id, uint64_t sector,
					 const uint32_t *grefs, unsigned int nr_grefs)
{
	struct blkif_request req;
	unsigned int i;

	memset(&req, 0xaa, sizeof(req));
	req.operation = BLKIF_OP_INDIRECT;
	req.u.indirect.indirect_op = indirect_op;
	req.u.indirect.nr_segments = nr_segments;
	req.u.indirect.handle = handle;
	req.u.indirect.id = id;
	req.u.indirect.sector_number = sector;
	for (i = 0; i < nr_grefs && i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		req.u.indirect.indirect_grefs[i] = grefs[i];
	memcpy(slot, &req, sizeof(req));
}

void xbc_kunit_kernel_blkif_put_indirect_segs(void *page, unsigned int nr, uint32_t gref_base,
					      uint8_t first_sect, uint8_t last_sect)
{
	struct blkif_request_segment *segs = page;
	unsigned int i;

	for (i = 0; i < nr && i < XEN_PAGE_SIZE / sizeof(*segs); i++) {
		segs[i].gref = gref_base + i;
		segs[i].first_sect = first_sect;
		segs[i].last_sect = last_sect;
	}
}

void xbc_kunit_kernel_blkif_get_rw(const void *slot, struct xbc_kunit_rw_view *rw)
{
	struct blkif_request req;
	unsigned int i;

	memcpy(&req, slot, sizeof(req));
	rw->operation = req.operation;
	rw->nr_segments = req.u.rw.nr_segments;
	rw->handle = req.u.rw.handle;
	rw->id = req.u.rw.id;
	rw->sector = req.u.rw.sector_number;
	for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		rw->gref[i] = req.u.rw.seg[i].gref;
		rw->first_sect[i] = req.u.rw.seg[i].first_sect;
		rw->last_sect[i] = req.u.rw.seg[i].last_sect;
	}
}

bool xbc_kunit_kernel_blkif_get_rsp(const void *slot, uint64_t *id, uint8_t *operation,
				    int16_t *status)
{
	const unsigned char *bytes = slot;
	struct blkif_response rsp;
	size_t i;

	memcpy(&rsp, slot, sizeof(rsp));
	*id = rsp.id;
	*operation = rsp.operation;
	*status = rsp.status;
	/* Everything but the three fields is padding and must be zero. */
	for (i = 0; i < sizeof(rsp); i++) {
		bool field = (i >= offsetof(struct blkif_response, id) &&
			      i < offsetof(struct blkif_response, id) + sizeof(rsp.id)) ||
			     i == offsetof(struct blkif_response, operation) ||
			     (i >= offsetof(struct blkif_response, status) &&
			      i < offsetof(struct blkif_response, status) + sizeof(rsp.status));
		if (!field && bytes[i] != 0)
			return false;
	}
	return true;
}

struct xbc_kunit_kfront {
	struct blkif_front_ring ring;
};

struct xbc_kunit_kfront *xbc_kunit_kfront_create(void *page, uint32_t start)
{
	struct blkif_sring *sring = page;
	struct xbc_kunit_kfront *kf = kzalloc(sizeof(*kf), GFP_KERNEL);

	if (!kf)
		return NULL;
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&kf->ring, sring, XEN_PAGE_SIZE);
	/* Move every index to @start, as if that many requests had passed. */
	sring->req_prod = start;
	sring->rsp_prod = start;
	sring->req_event = start + 1;
	sring->rsp_event = start + 1;
	kf->ring.req_prod_pvt = start;
	kf->ring.rsp_cons = start;
	return kf;
}

void xbc_kunit_kfront_destroy(struct xbc_kunit_kfront *kf)
{
	kfree(kf);
}

bool xbc_kunit_kfront_queue_rw(struct xbc_kunit_kfront *kf, const struct xbc_kunit_rw_view *rw)
{
	struct blkif_request *req;

	if (RING_FULL(&kf->ring))
		return false;
	req = RING_GET_REQUEST(&kf->ring, kf->ring.req_prod_pvt);
	xbc_kunit_kernel_blkif_put_rw(req, rw);
	kf->ring.req_prod_pvt++;
	return true;
}

bool xbc_kunit_kfront_push(struct xbc_kunit_kfront *kf)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&kf->ring, notify);
	return notify;
}

unsigned int xbc_kunit_kfront_take_responses(struct xbc_kunit_kfront *kf, uint64_t *ids,
					     int16_t *status, unsigned int max)
{
	unsigned int n = 0;
	int more;

	do {
		RING_IDX prod = kf->ring.sring->rsp_prod;
		RING_IDX i;

		virt_rmb();
		for (i = kf->ring.rsp_cons; i != prod && n < max; i++, n++) {
			struct blkif_response rsp;

			RING_COPY_RESPONSE(&kf->ring, i, &rsp);
			ids[n] = rsp.id;
			status[n] = rsp.status;
		}
		kf->ring.rsp_cons = i;
		if (n == max)
			break;
		RING_FINAL_CHECK_FOR_RESPONSES(&kf->ring, more);
	} while (more);
	return n;
}

bool xbc_kunit_kfront_queue_indirect(struct xbc_kunit_kfront *kf, uint8_t indirect_op,
				     uint16_t nr_segments, uint64_t id, uint64_t sector,
				     const uint32_t *grefs, unsigned int nr_grefs)
{
	struct blkif_request *req;

	if (RING_FULL(&kf->ring))
		return false;
	req = RING_GET_REQUEST(&kf->ring, kf->ring.req_prod_pvt);
	xbc_kunit_kernel_blkif_put_indirect(req, indirect_op, nr_segments, 0, id, sector, grefs,
					    nr_grefs);
	kf->ring.req_prod_pvt++;
	return true;
}

void xbc_kunit_kfront_lie_req_prod(struct xbc_kunit_kfront *kf, uint32_t extra)
{
	kf->ring.sring->req_prod = kf->ring.req_prod_pvt + extra;
}

struct xbc_kunit_kback {
	struct blkif_back_ring ring;
};

struct xbc_kunit_kback *xbc_kunit_kback_create(void *page)
{
	struct xbc_kunit_kback *kb = kzalloc(sizeof(*kb), GFP_KERNEL);
	struct blkif_sring *sring = page;

	if (!kb)
		return NULL;
	BACK_RING_ATTACH(&kb->ring, sring, sring->rsp_prod, XEN_PAGE_SIZE);
	return kb;
}

void xbc_kunit_kback_destroy(struct xbc_kunit_kback *kb)
{
	kfree(kb);
}

bool xbc_kunit_kback_take_request(struct xbc_kunit_kback *kb, struct xbc_kunit_req_view *view)
{
	struct blkif_request req;
	unsigned int i;
	int more;

	if (!RING_HAS_UNCONSUMED_REQUESTS(&kb->ring)) {
		RING_FINAL_CHECK_FOR_REQUESTS(&kb->ring, more);
		if (!more)
			return false;
	}
	RING_COPY_REQUEST(&kb->ring, kb->ring.req_cons, &req);
	kb->ring.req_cons++;
	memset(view, 0, sizeof(*view));
	view->operation = req.operation;
	if (req.operation != BLKIF_OP_INDIRECT) {
		xbc_kunit_kernel_blkif_get_rw(&req, &view->rw);
		return true;
	}
	view->indirect.indirect_op = req.u.indirect.indirect_op;
	view->indirect.nr_segments = req.u.indirect.nr_segments;
	view->indirect.id = req.u.indirect.id;
	view->indirect.sector = req.u.indirect.sector_number;
	for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		view->indirect.gref[i] = req.u.indirect.indirect_grefs[i];
	return true;
}

bool xbc_kunit_kback_respond(struct xbc_kunit_kback *kb, uint64_t id, uint8_t operation,
			     int16_t status)
{
	struct blkif_response *rsp = RING_GET_RESPONSE(&kb->ring, kb->ring.rsp_prod_pvt);
	int notify;

	memset(rsp, 0, sizeof(*rsp));
	rsp->id = id;
	rsp->operation = operation;
	rsp->status = status;
	kb->ring.rsp_prod_pvt++;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&kb->ring, notify);
	return notify;
}

void xbc_kunit_kernel_blkif_get_indirect_seg(const void *page, unsigned int i, uint32_t *gref,
					     uint8_t *first_sect, uint8_t *last_sect)
{
	const struct blkif_request_segment *segs = page;

	*gref = segs[i].gref;
	*first_sect = segs[i].first_sect;
	*last_sect = segs[i].last_sect;
}
