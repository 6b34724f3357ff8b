// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_blkfront: the shipped blkfront data path (IoRing in
// blkfront/io_ring.cpp, with its Frontend and GrantPool) against a backend
// written with the kernel's own ring.h macros (kunit/kernel_blkif.c). The
// test plays blk-mq (queue() in process context with a fake request whose
// pieces are real pages) and the backend: it reads each request through
// struct blkif_request, finds the granted pages in kunit/fake_gnttab.c,
// moves the bytes to and from its disk, answers, and fires the event
// channel, whose handler runs in hard-irq context. Every case ends by
// destroying the ring and checking that no grant, ring or irq is left.
#include "blkfront/frontend.hpp"
#include "blkfront/io_ring.hpp"
#include "fake_checks.hpp"
#include "kernel_blkif.h"

namespace xbc::kunit {
namespace {

using blkfront::Features;
using blkfront::Frontend;
using blkfront::IoRing;
using blkfront::IoRingConfig;

constexpr size_t kFrontDiskBytes = 256 * 1024;
constexpr unsigned kMaxRqPages = 64;
constexpr uint8_t kOpIndirect = uint8_t(blkif::Op::kIndirect);

Features direct_features() noexcept
{
	Features f = {};
	return f;
}

Features persistent_features(uint32_t max_indirect) noexcept
{
	Features f = {};
	f.persistent = true;
	f.bounce = true;
	f.max_indirect_segments = max_indirect;
	return f;
}

// A configured IoRing of a Frontend made without xenstore, the test as
// blk-mq and as the backend. With persistent grants the backend keeps
// every grant it used mapped (as blkback does) until finish(), when it
// disconnects and unmaps them all before the ring goes.
class FrontBench {
public:
	FrontBench(struct kunit *t, const Features &f) noexcept : test(t)
	{
		xbc_fake_gnttab_reset();
		disk_ = static_cast<unsigned char *>(kapi_kvzalloc(kFrontDiskBytes, KAPI_GFP_KERNEL));
		auto layout = blkfront::layout_for_vdev(51712);
		auto mutex = Mutex::create("xbc_kt_front");
		if (!disk_ || layout.is_error() || mutex.is_error())
			return;
		fe_ = xbc::create<Frontend>(Gfp::kKernel, xbc_fake_xenbus_front(), nullptr, mutex.take(),
					    layout.value());
		if (fe_.is_null())
			return;
		const IoRingConfig cfg = {0, 0, DomId(0), blkif::Vdev(51712)};
		auto ring = IoRing::create(xbc_fake_xenbus_front(), fe_.get(), cfg);
		if (ring.is_error())
			return;
		ring_ = ring.take();
		irq_ = xbc_fake_evtchn_last_bound();
		kapi_page *sring = xbc_fake_gnttab_granted_page(ring_->ring_ref(0), nullptr);
		if (!irq_ || !sring)
			return;
		kb_ = xbc_kunit_kback_create(kapi_page_address(sring));
		keeps_mapped_ = f.persistent;
		ok_ = kb_ && ring_->configure(f).is_ok();
	}

	~FrontBench() { finish(); }

	[[nodiscard]] bool ok() const noexcept { return ok_; }
	IoRing &ring() noexcept { return *ring_; }
	Frontend &frontend() noexcept { return *fe_; }
	unsigned char *disk() noexcept { return disk_; }

	// A request of n whole pages from `sector`; a write's pages hold the
	// pattern. Null when out of pages.
	Box<kapi_blk_request> request(kapi_blk_op op, uint64_t sector, unsigned n, unsigned salt) noexcept
	{
		Box<kapi_blk_request> rq = xbc::create<kapi_blk_request>(Gfp::kKernel);
		if (rq.is_null() || n > XBC_FAKE_RQ_MAX_PIECES || nr_pages_ + n > kMaxRqPages)
			return Box<kapi_blk_request>();
		rq->info.op = op;
		rq->info.sector = sector;
		rq->info.nr_sectors = n * (KAPI_PAGE_SIZE / 512);
		rq->info.nr_phys_segments = n;
		rq->nr_pieces = n;
		for (unsigned i = 0; i < n; i++) {
			kapi_page *p = kapi_page_alloc(KAPI_GFP_KERNEL);
			if (!p)
				return Box<kapi_blk_request>();
			pages_[nr_pages_++] = p;
			rq->piece[i].page = p;
			rq->piece[i].offset = 0;
			rq->piece[i].len = KAPI_PAGE_SIZE;
			if (op == KAPI_BLK_OP_WRITE) {
				auto *b = static_cast<unsigned char *>(kapi_page_address(p));
				for (unsigned j = 0; j < KAPI_PAGE_SIZE; j++)
					b[j] = byte_at(sector * 512 + i * KAPI_PAGE_SIZE + j, salt);
			}
		}
		return rq;
	}
	static unsigned char byte_at(uint64_t pos, unsigned salt) noexcept
	{
		return static_cast<unsigned char>((pos * 13 + salt + (pos >> 9)) & 0xff);
	}
	// The request's pages hold the disk's bytes from its sector.
	bool request_holds_disk(const kapi_blk_request &rq) noexcept
	{
		const unsigned char *d = disk_ + rq.info.sector * 512;
		for (unsigned i = 0; i < rq.nr_pieces; i++) {
			const auto *b = static_cast<const unsigned char *>(kapi_page_address(rq.piece[i].page));
			for (unsigned j = 0; j < KAPI_PAGE_SIZE; j++) {
				if (b[j] != d[size_t(i) * KAPI_PAGE_SIZE + j])
					return false;
			}
		}
		return true;
	}
	bool disk_holds(uint64_t sector, size_t len, unsigned salt) const noexcept
	{
		for (size_t j = 0; j < len; j++) {
			if (disk_[sector * 512 + j] != byte_at(sector * 512 + j, salt))
				return false;
		}
		return true;
	}

	// The backend: serves every pending request, answers, signals.
	// Returns how many it served.
	unsigned serve() noexcept
	{
		unsigned served = 0;
		xbc_kunit_req_view req;
		bool notify = false;
		while (xbc_kunit_kback_take_request(kb_, &req)) {
			served++;
			last_ = req;
			const bool indirect = req.operation == kOpIndirect;
			const uint8_t op = indirect ? req.indirect.indirect_op : req.operation;
			const int16_t status = move_data(req, op) ? 0 : -1;
			notify |= xbc_kunit_kback_respond(kb_, indirect ? req.indirect.id : req.rw.id, op,
							  status);
		}
		if (notify)
			xbc_fake_evtchn_fire(irq_);
		return served;
	}
	// A response of the backend's own making.
	void respond(uint64_t id, uint8_t op, int16_t status) noexcept
	{
		if (xbc_kunit_kback_respond(kb_, id, op, status))
			xbc_fake_evtchn_fire(irq_);
	}
	bool take(xbc_kunit_req_view *req) noexcept { return xbc_kunit_kback_take_request(kb_, req); }
	const xbc_kunit_req_view &last_request() const noexcept { return last_; }
	// Write requests whose pages were granted writable (direct I/O must not).
	unsigned writable_write_grants() const noexcept { return writable_write_grants_; }

	// The ring goes while the backend still maps its grants (it has not
	// disconnected yet): each must stay granted, its page kept, until the
	// backend unmaps it. Returns how many the backend still mapped.
	unsigned destroy_ring_while_mapped() noexcept
	{
		ring_.reset();
		return nr_kept_;
	}
	// The backend unmaps every grant it kept.
	void unmap_all() noexcept
	{
		for (unsigned i = 0; i < nr_kept_; i++)
			xbc_fake_gnttab_set_peer_mapped(kept_[i], false);
		nr_kept_ = 0;
	}

	void finish() noexcept
	{
		if (finished_)
			return;
		finished_ = true;
		xbc_kunit_kback_destroy(kb_);
		kb_ = nullptr;
		unmap_all();
		ring_.reset();
		fe_.reset();
		expect_no_xen_left(test);
		for (unsigned i = 0; i < nr_pages_; i++)
			kapi_page_free(pages_[i]);
		nr_pages_ = 0;
		kapi_kvfree(disk_);
		disk_ = nullptr;
	}

	struct kunit *test;

private:
	// The backend maps a granted page: with persistent grants, for good.
	kapi_page *map(uint32_t gref, bool *readonly) noexcept
	{
		kapi_page *page = xbc_fake_gnttab_granted_page(gref, readonly);
		if (page && keeps_mapped_) {
			bool known = false;
			for (unsigned i = 0; i < nr_kept_ && !known; i++)
				known = kept_[i] == gref;
			if (!known && nr_kept_ < kMaxKept) {
				kept_[nr_kept_++] = gref;
				xbc_fake_gnttab_set_peer_mapped(gref, true);
			}
		}
		return page;
	}
	// One segment: its granted page and sector range, against the disk.
	bool move_segment(uint8_t op, uint32_t gref, uint8_t first, uint8_t last, uint64_t *pos) noexcept
	{
		bool readonly = true;
		kapi_page *page = map(gref, &readonly);
		if (!page || first > last || last > 7)
			return false;
		const size_t len = size_t(last - first + 1) * 512;
		if (*pos + len > kFrontDiskBytes)
			return false;
		auto *b = static_cast<unsigned char *>(kapi_page_address(page)) + first * 512;
		if (op == uint8_t(blkif::Op::kRead)) {
			if (readonly)
				return false;	// a read's page must be writable
			copy_bytes(b, disk_ + *pos, len);
		} else {
			writable_write_grants_ += !readonly;
			copy_bytes(disk_ + *pos, b, len);
		}
		*pos += len;
		return true;
	}
	bool move_data(const xbc_kunit_req_view &req, uint8_t op) noexcept
	{
		if (op != uint8_t(blkif::Op::kRead) && op != uint8_t(blkif::Op::kWrite))
			return false;
		if (req.operation != kOpIndirect) {
			const xbc_kunit_rw_view &rw = req.rw;
			uint64_t pos = rw.sector * 512;
			if (rw.nr_segments == 0 || rw.nr_segments > 11)
				return false;
			for (unsigned i = 0; i < rw.nr_segments; i++) {
				if (!move_segment(op, rw.gref[i], rw.first_sect[i], rw.last_sect[i], &pos))
					return false;
			}
			return true;
		}
		constexpr unsigned kPerPage = KAPI_PAGE_SIZE / 8;	// struct blkif_request_segment
		uint64_t pos = req.indirect.sector * 512;
		if (req.indirect.nr_segments == 0 || req.indirect.nr_segments > 8 * kPerPage)
			return false;
		for (unsigned i = 0; i < req.indirect.nr_segments; i++) {
			kapi_page *ind = map(req.indirect.gref[i / kPerPage], nullptr);
			if (!ind)
				return false;
			uint32_t gref;
			uint8_t first, last;
			xbc_kunit_kernel_blkif_get_indirect_seg(kapi_page_address(ind), i % kPerPage, &gref,
							       &first, &last);
			if (!move_segment(op, gref, first, last, &pos))
				return false;
		}
		return true;
	}

	bool ok_ = false;
	bool finished_ = false;
	unsigned char *disk_ = nullptr;
	Box<Frontend> fe_;
	Box<IoRing> ring_;
	kapi_irq *irq_ = nullptr;
	xbc_kunit_kback *kb_ = nullptr;
	xbc_kunit_req_view last_ = {};
	unsigned writable_write_grants_ = 0;
	bool keeps_mapped_ = false;
	static constexpr unsigned kMaxKept = 128;
	uint32_t kept_[kMaxKept] = {};
	unsigned nr_kept_ = 0;
	kapi_page *pages_[kMaxRqPages] = {};
	unsigned nr_pages_ = 0;
};

// A request of n pages from `sector` (a write's hold pattern `salt`),
// queued, served by the backend, completed without error, its data where
// it belongs (a write's on the disk, a read's in its pages); else null.
Box<kapi_blk_request> round_trip(FrontBench &b, struct kunit *test, kapi_blk_op op, uint64_t sector,
				 unsigned n, unsigned salt) noexcept
{
	Box<kapi_blk_request> rq = b.request(op, sector, n, salt);
	if (!XK_EXPECT(!rq.is_null()) || !XK_EXPECT_EQ(b.ring().queue(rq.get(), 0), 0))
		return Box<kapi_blk_request>();
	XK_EXPECT_EQ(b.serve(), 1);
	if (!XK_EXPECT_EQ(rq->completions, 1) || !XK_EXPECT_EQ(rq->err, 0))
		return Box<kapi_blk_request>();
	const bool landed = op == KAPI_BLK_OP_WRITE ? b.disk_holds(sector, n * KAPI_PAGE_SIZE, salt)
						     : b.request_holds_disk(*rq);
	if (!XK_EXPECT(landed))
		return Box<kapi_blk_request>();
	return rq;
}

} // namespace

// Direct grants (no persistent grants): the request's own pages are
// granted, read-only for a write, and every grant ends at completion.
XBC_KUNIT_CASE(front_rw_direct)
{
	FrontBench b(test, direct_features());
	XK_ASSERT(b.ok());
	Box<kapi_blk_request> w = round_trip(b, test, KAPI_BLK_OP_WRITE, 16, 3, 1);
	XK_ASSERT(!w.is_null());
	XK_EXPECT_EQ(b.writable_write_grants(), 0);
	XK_EXPECT_EQ(b.last_request().operation, uint8_t(blkif::Op::kWrite));
	XK_EXPECT_EQ(b.last_request().rw.nr_segments, 3);

	Box<kapi_blk_request> r = round_trip(b, test, KAPI_BLK_OP_READ, 16, 3, 0);
	XK_ASSERT(!r.is_null());
	XK_EXPECT_EQ(b.ring().in_flight(), 0);
	XK_EXPECT_EQ(gnttab_stats().live_grants, 1);	// the ring page alone
	b.finish();
}

// Persistent grants through the pool: the bytes bounce through pool
// pages the backend keeps mapped, and later requests reuse their grants
// instead of making new ones.
XBC_KUNIT_CASE(front_persistent_pool)
{
	FrontBench b(test, persistent_features(0));
	XK_ASSERT(b.ok());
	Box<kapi_blk_request> w1 = round_trip(b, test, KAPI_BLK_OP_WRITE, 40, 2, 2);
	XK_ASSERT(!w1.is_null());
	const xbc_fake_gnttab_stats before = gnttab_stats();

	Box<kapi_blk_request> w2 = round_trip(b, test, KAPI_BLK_OP_WRITE, 80, 2, 4);
	XK_ASSERT(!w2.is_null());
	Box<kapi_blk_request> r = round_trip(b, test, KAPI_BLK_OP_READ, 40, 2, 0);
	XK_ASSERT(!r.is_null());

	const xbc_fake_gnttab_stats after = gnttab_stats();
	XK_EXPECT_EQ(after.grant_calls, before.grant_calls);
	XK_EXPECT_EQ(after.live_grants, before.live_grants);
	XK_EXPECT_EQ(after.live_grants, 1 + 2);
	XK_EXPECT_EQ(b.ring().pool_stats().reuses, 2 + 2);
	b.finish();
}

// The ring is destroyed while the backend still maps its persistent
// grants: none is ended under it (each end is deferred, its page kept),
// and once the backend unmaps them every grant and page is gone.
XBC_KUNIT_CASE(front_teardown_defers_mapped)
{
	FrontBench b(test, persistent_features(0));
	XK_ASSERT(b.ok());
	Box<kapi_blk_request> w = round_trip(b, test, KAPI_BLK_OP_WRITE, 24, 2, 8);
	XK_ASSERT(!w.is_null());
	XK_ASSERT_EQ(b.destroy_ring_while_mapped(), 2);
	const xbc_fake_gnttab_stats g = gnttab_stats();
	XK_EXPECT_EQ(g.deferred, 2);
	XK_EXPECT_EQ(g.live_grants, 2);
	b.unmap_all();
	XK_EXPECT_EQ(gnttab_stats().deferred, 0);
	b.finish();
}

// More segments than a slot holds: one indirect page, read by the
// backend through struct blkif_request_segment.
XBC_KUNIT_CASE(front_indirect)
{
	FrontBench b(test, persistent_features(32));
	XK_ASSERT(b.ok());
	Box<kapi_blk_request> w = round_trip(b, test, KAPI_BLK_OP_WRITE, 128, 20, 6);
	XK_ASSERT(!w.is_null());
	XK_EXPECT_EQ(b.last_request().operation, kOpIndirect);
	XK_EXPECT_EQ(b.last_request().indirect.indirect_op, uint8_t(blkif::Op::kWrite));
	XK_EXPECT_EQ(b.last_request().indirect.nr_segments, 20);

	Box<kapi_blk_request> r = round_trip(b, test, KAPI_BLK_OP_READ, 128, 20, 0);
	XK_ASSERT(!r.is_null());
	XK_EXPECT_EQ(b.last_request().operation, kOpIndirect);
	b.finish();
}

// A response whose id was never issued (out of range, then in range but
// not in flight) breaks the ring: the request in flight fails, nothing
// more is queued, and every grant still ends.
XBC_KUNIT_CASE(front_refuses_unknown_id)
{
	const uint64_t bogus[] = {999999, 5};
	for (const uint64_t id : bogus) {
		FrontBench b(test, direct_features());
		XK_ASSERT(b.ok());
		Box<kapi_blk_request> r = b.request(KAPI_BLK_OP_READ, 8, 1, 0);
		XK_ASSERT(!r.is_null());
		XK_ASSERT_EQ(b.ring().queue(r.get(), 0), 0);
		xbc_kunit_req_view req;
		XK_ASSERT(b.take(&req));
		XK_ASSERT(req.rw.id != id);
		b.respond(id, uint8_t(blkif::Op::kRead), 0);
		XK_EXPECT(b.ring().is_broken());
		XK_EXPECT(b.frontend().is_broken());
		XK_EXPECT_EQ(r->completions, 1);
		XK_EXPECT(r->err < 0);
		Box<kapi_blk_request> more = b.request(KAPI_BLK_OP_READ, 8, 1, 0);
		XK_ASSERT(!more.is_null());
		XK_EXPECT(b.ring().queue(more.get(), 0) < 0);
		XK_EXPECT_EQ(more->completions, 0);
		b.finish();
	}
}

} // namespace xbc::kunit
