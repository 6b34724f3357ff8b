// SPDX-License-Identifier: GPL-2.0-only
// BackendRing: reading requests off the ring, checking them, and turning
// them into grant maps or copies and bios (see backend_ring.hpp).
#include "backend_ring.hpp"

#include "kapi/block.h"
#include "kapi/log.h"
#include "xbc/invariant.hpp"
#include "xbc/jiffies.hpp"

#include "backend.hpp"

namespace xbc::blkback {

namespace {

using blkif::Op;
using blkif::RspStatus;

// Pages a bio may carry before we start another (BIO_MAX_VECS).
constexpr unsigned kBioMaxVecs = 256;

} // namespace

// --- requests --------------------------------------------------------------

BackendRing::Consume BackendRing::consume_requests() noexcept
{
	// Yield after a ring's worth, so one busy frontend cannot keep the
	// thread from its housekeeping (and the scheduler gets a say).
	uint32_t budget = ring_.size();
	for (;;) {
		auto pending = ring_.pending_requests();
		if (pending.is_error()) {
			halt("provided bogus ring requests (producer overflow)");
			return Consume::kDrained;
		}
		uint32_t n = pending.value();
		if (n == 0) {
			auto more = ring_.final_check_for_requests();
			if (more.is_error()) {
				halt("provided bogus ring requests (producer overflow)");
				return Consume::kDrained;
			}
			if (!more.value())
				return Consume::kDrained;
			continue;
		}
		for (; n > 0; n--) {
			// A stop (disconnect) must not wait behind a ring full
			// of whole-disk discards or barriers: what is left on
			// the ring stays unread.
			if (kapi_thread_should_stop())
				return Consume::kYield;
			if (nr_free_ == 0) {
				io_.oo_req.add_serialised(1);
				return Consume::kNoSlot;
			}
			blkif::Limits limits;
			limits.capacity = device_->capacity();
			limits.max_indirect_segments = kBackendIndirectSegments;
			blkif::Decoded d;
			if (!ring_.pop_request(limits, &d))
				break;
			saw_request_ = true;
			dispatch(d);
			if (--budget == 0)
				return Consume::kYield;
			kapi_cond_resched();
		}
	}
}

// The in-tree statistics by operation (discards are counted apart).
void BackendRing::count_request(Op op) noexcept
{
	switch (op) {
	case Op::kRead:
		io_.rd_req.add_serialised(1);
		break;
	case Op::kWrite:
		io_.wr_req.add_serialised(1);
		break;
	case Op::kFlushDiskCache:
	case Op::kWriteBarrier:
		io_.f_req.add_serialised(1);
		break;
	default:
		break;
	}
}

void BackendRing::dispatch(const blkif::Decoded &d) noexcept
{
	if (d.ok() && d.request.data_op == Op::kDiscard) {
		dispatch_discard(d.request);
		return;
	}
	if (d.ok()) {
		dispatch_rw(d.request);
		return;
	}
	// Counted like in-tree, which counts before it validates.
	count_request(d.response_op);
	if (d.error == blkif::DecodeError::kUnknownOp) {
		respond(d.id, d.response_op, RspStatus::kEopnotsupp);
		return;
	}
	fail_request(d.id, d.response_op);
}

// Discard runs synchronously in the ring thread, as in-tree.
void BackendRing::dispatch_discard(const blkif::Request &req) noexcept
{
	if (device_->readonly()) {
		respond(req.id, Op::kDiscard, RspStatus::kError);
		return;
	}
	io_.ds_req.add_serialised(1);
	const bool secure = req.discard_secure && device_->discard_secure();
	const int rc = kapi_bdev_discard(device_->bdev(), req.sector.raw(), req.nr_sectors.raw(), secure,
					 KAPI_GFP_KERNEL);
	respond(req.id, Op::kDiscard,
		rc == -err::kOpNotSupp ? RspStatus::kEopnotsupp : rc ? RspStatus::kError : RspStatus::kOkay);
}

// The segments of an indirect request: its indirect pages go through the
// grant mapper like data pages (with persistent grants mapped read-write
// and kept; without, mapped read-only and unmapped right after; with grant
// copy, copied into the copier's own pages), and each segment is copied
// out once.
bool BackendRing::read_indirect_segments(const blkif::Request &req, Sector *total) noexcept
{
	const unsigned nr_pages = req.indirect.nr_pages;
	RingScratch &sc = *scratch_;
	const void *addrs[blkif::kMaxIndirectPages];
	if (!copier_.is_null()) {
		// Grant copy: the descriptor pages too, into the copier's own.
		if (copier_->copy_indirect(req.indirect.grefs, nr_pages, addrs).is_error())
			return false;
	} else {
		SegmentGrant grants[blkif::kMaxIndirectPages];
		for (unsigned i = 0; i < nr_pages; i++)
			grants[i] = SegmentGrant{req.indirect.grefs[i], /*readonly=*/true};
		if (mapper_->map(grants, nr_pages, sc.indirect).is_error())
			return false;
		for (unsigned i = 0; i < nr_pages; i++)
			addrs[i] = kapi_page_address(sc.indirect.page(i));
	}
	// Each segment is copied out of the shared page once, then checked.
	auto r = blkif::decode_indirect_segments(req, addrs, nr_pages, sc.segs, kBackendIndirectSegments,
						 device_->capacity());
	sc.indirect.release();
	if (r.is_error())
		return false;
	*total = r.value();
	return true;
}

void BackendRing::dispatch_rw(const blkif::Request &req) noexcept
{
	const Op op = req.data_op;
	const bool write = op != Op::kRead;
#ifdef XBC_HOSTILE
	hostile_see(req);
#endif
	count_request(op);	// read, write, flush or barrier here
	if (write && device_->readonly()) {
		fail_request(req.id, op);
		return;
	}

	uint32_t nr_segs;
	Sector total;
	if (req.is_indirect()) {
		if (!read_indirect_segments(req, &total)) {
			fail_request(req.id, op);
			return;
		}
		nr_segs = req.indirect.nr_segments;
	} else {
		nr_segs = req.nr_segments;
		for (uint32_t i = 0; i < nr_segs; i++)
			scratch_->segs[i] = req.segments[i];
		total = req.nr_sectors;
	}

	// Requests must respect the device's logical block size.
	const uint64_t mask = device_->sector_align_mask();
	if (mask) {
		bool misaligned = (req.sector.raw() & mask) != 0;
		for (uint32_t i = 0; i < nr_segs; i++)
			misaligned |= (scratch_->segs[i].nr_sectors() & mask) != 0;
		if (misaligned) {
			fail_request(req.id, op);
			return;
		}
	}

	// A barrier waits for everything before it, then flushes; a stop
	// (disconnect) does not wait behind it.
	if (op == Op::kWriteBarrier && !wait_for_in_flight(/*stoppable=*/true)) {
		fail_request(req.id, op);
		return;
	}

	PendingRequest *p = take_free();
	if (!XBC_CHECK(p != nullptr)) {
		fail_request(req.id, op);
		return;
	}
	p->id = req.id;
	p->op = op;
	p->status.store_relaxed(int16_t(RspStatus::kOkay));
	p->flush_unsupported.store_relaxed(false);

	if (!attach_pages(p, write, nr_segs)) {
		put_free(p);
		fail_request(req.id, op);
		return;
	}
	submit_bios(p, req, nr_segs);
	if (op == Op::kRead)
		io_.rd_sect.add_serialised(total.raw());
	else
		io_.wr_sect.add_serialised(total.raw());
}

bool BackendRing::attach_pages(PendingRequest *p, bool write, uint32_t nr_segs) noexcept
{
	if (!copier_.is_null() && nr_segs > 0 && copier_->take(scratch_->segs, nr_segs, p->copied)) {
		// A copy the frontend made fail is its request's error.
		if (write && copier_->copy_in(p->copied).is_error()) {
			p->copied.release();
			return false;
		}
		return true;
	}
	// For a write we only read the frontend's pages.
	SegmentGrant *grants = scratch_->grants;
	for (uint32_t i = 0; i < nr_segs; i++)
		grants[i] = SegmentGrant{scratch_->segs[i].gref, /*readonly=*/write};
	return mapper_->map(grants, nr_segs, p->grants).is_ok();
}

bool BackendRing::copies_back(const PendingRequest *p) noexcept
{
	// Only a read that succeeded has data for the frontend.
	return p->copied.is_active() && p->op == Op::kRead &&
	       p->status.load() == int16_t(RspStatus::kOkay);
}

bool BackendRing::release_pages(PendingRequest *p) noexcept
{
	if (p->copied.is_active()) {
		if (p->copied.copy_failed())
			p->status.store(int16_t(RspStatus::kError));
		p->copied.release();
	}
	return mapper_->release_async(p->grants, &BackendRing::on_unmapped, p);
}

void BackendRing::submit_bios(PendingRequest *p, const blkif::Request &req, uint32_t nr_segs) noexcept
{
	const Op op = p->op;
	unsigned flags = 0;
	enum kapi_bio_op bio_op = KAPI_BIO_WRITE;
	switch (op) {
	case Op::kRead:
		bio_op = KAPI_BIO_READ;
		break;
	case Op::kWrite:
		flags = KAPI_BIO_FLAG_SYNC;
		break;
	case Op::kFlushDiskCache:
		flags = KAPI_BIO_FLAG_PREFLUSH;
		break;
	default: // barrier: everything before it is done; flush, then FUA
		flags = KAPI_BIO_FLAG_PREFLUSH | KAPI_BIO_FLAG_FUA;
		break;
	}

	// One reference while building, so an early completion cannot answer
	// the request before its last bio is out.
	p->pending.store(1);
	uint64_t sector = req.sector.raw();
	kapi_bio *bio = nullptr;
	bool failed = false;
	for (uint32_t i = 0; i < nr_segs && !failed; i++) {
		const blkif::Segment &s = scratch_->segs[i];
		kapi_page *page = p->page(i);
		while (!bio || !kapi_bio_add_page(bio, page, s.length_bytes(), s.offset_bytes())) {
			if (bio) {
				p->pending.add(1);
				kapi_bio_submit(bio);
			}
			const unsigned vecs = nr_segs - i < kBioMaxVecs ? nr_segs - i : kBioMaxVecs;
			bio = kapi_bio_alloc(device_->bdev(), bio_op, flags, sector, vecs,
					     &BackendRing::on_bio_done, p);
			if (!bio) {
				p->status.store(int16_t(RspStatus::kError));
				failed = true;
				break;
			}
		}
		sector += s.nr_sectors();
	}
	// A flush or barrier without data still needs its (empty) flush bio.
	if (!failed && !bio && nr_segs == 0) {
		bio = kapi_bio_alloc(device_->bdev(), KAPI_BIO_FLUSH, flags, 0, 0,
				     &BackendRing::on_bio_done, p);
		if (!bio)
			p->status.store(int16_t(RspStatus::kError));
	}
	if (bio) {
		if (failed) {
			kapi_bio_put(bio);
		} else {
			p->pending.add(1);
			kapi_bio_submit(bio);
		}
	}
	if (p->pending.sub(1) == 0)
		complete_one(p);
}

// --- counters --------------------------------------------------------------

IoStats BackendRing::io_stats() const noexcept
{
	return snapshot(io_);
}

GrantStats BackendRing::grant_stats() const noexcept
{
	return snapshot(grants_);
}

} // namespace xbc::blkback
