// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: one test per data-path rule; they share the fixture that
// wires a frontend's pages to the fake disk.
// The blkback data path against the fake Xen: data really moves between the
// frontend's granted pages and the fake disk; persistent grants on, off and
// over the cap; hostile requests get error responses and leak nothing; a
// broken ring halts; disconnect drains and unmaps everything.
#include "blkback_harness.hpp"
#include "blkback/entry.h"

namespace xbc::test {
namespace {

void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = static_cast<unsigned char>(seed * 131 + i * 7 + (i >> 8));
}

TEST(BlkbackIo, WriteThenReadRoundTrip)
{
	Bench b;
	b.connect();
	FrontPage &src = b.grant_page();
	fill(src.bytes(), KAPI_PAGE_SIZE, 1);
	auto rsp = b.roundtrip(b.rw(Op::kWrite, 7, 16, {Bench::seg(src)}));
	EXPECT_EQ(rsp.id, blkif::RequestId(7));
	EXPECT_EQ(rsp.operation, Op::kWrite);
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(b.disk().data() + 16 * 512, src.bytes(), KAPI_PAGE_SIZE), 0);

	FrontPage &dst = b.grant_page();
	rsp = b.roundtrip(b.rw(Op::kRead, 8, 16, {Bench::seg(dst)}));
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(dst.bytes(), src.bytes(), KAPI_PAGE_SIZE), 0);

	const auto io = b.be->io_stats();
	EXPECT_EQ(io.wr_req, 1u);
	EXPECT_EQ(io.rd_req, 1u);
	EXPECT_EQ(io.wr_sect, 8u);
	EXPECT_EQ(io.rd_sect, 8u);
	// The write's event was acknowledged, and not as spurious.
	const auto irq = b.xen.irq(*b.xen.port_by_name("blkif-backend"));
	EXPECT_GE(irq.eois, 1u);
	EXPECT_EQ(irq.spurious_eois, 0u);
}

TEST(BlkbackIo, ReadOnlyGrantsServeWritesWithoutPersistentGrants)
{
	// Without persistent grants a disk write maps the frontend's page
	// read-only, so a read-only grant is enough (and a read into it is
	// refused by the grant table, failing only that request).
	Bench b;
	FrontendOptions o;
	o.persistent = false;
	b.connect(o);
	FrontPage &src = b.grant_page(/*readonly=*/true);
	fill(src.bytes(), KAPI_PAGE_SIZE, 11);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 0, {Bench::seg(src)})).status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(b.disk().data(), src.bytes(), KAPI_PAGE_SIZE), 0);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 0, {Bench::seg(src)})).status, RspStatus::kError);
	EXPECT_EQ(b.be->grant_stats().mapped, 0u);
}

TEST(BlkbackIo, PersistentMappingsAreWritableSoReadOnlyGrantsFail)
{
	// As in-tree: a persistent mapping may serve a later read, so it is
	// always mapped read-write; a frontend that negotiated persistent
	// grants must grant read-write. A read-only grant fails its request.
	Bench b;
	b.connect();
	FrontPage &src = b.grant_page(/*readonly=*/true);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 0, {Bench::seg(src)})).status, RspStatus::kError);
	EXPECT_EQ(b.disk().stats().writes, 0u);
	EXPECT_EQ(b.be->grant_stats().mapped, 0u);
}

TEST(BlkbackIo, PartialSegmentsLandAtTheirOffsets)
{
	Bench b;
	b.connect();
	FrontPage &a = b.grant_page();
	FrontPage &c = b.grant_page();
	fill(a.bytes(), KAPI_PAGE_SIZE, 2);
	fill(c.bytes(), KAPI_PAGE_SIZE, 3);
	// Sectors 2..5 of page a, then 0..0 of page c: 5 sectors from 100.
	auto rsp = b.roundtrip(b.rw(Op::kWrite, 1, 100, {Bench::seg(a, 2, 5), Bench::seg(c, 0, 0)}));
	ASSERT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(b.disk().data() + 100 * 512, a.bytes() + 2 * 512, 4 * 512), 0);
	EXPECT_EQ(memcmp(b.disk().data() + 104 * 512, c.bytes(), 512), 0);
	EXPECT_EQ(b.be->io_stats().wr_sect, 5u);
}

TEST(BlkbackIo, ElevenSegmentsAcrossTheDisk)
{
	Bench b;
	b.connect();
	std::vector<blkif::Segment> segs;
	std::vector<FrontPage *> pages;
	for (int i = 0; i < 11; i++) {
		FrontPage &p = b.grant_page();
		fill(p.bytes(), KAPI_PAGE_SIZE, 10 + i);
		segs.push_back(Bench::seg(p));
		pages.push_back(&p);
	}
	ASSERT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 2048 - 88, segs)).status, RspStatus::kOkay);
	for (int i = 0; i < 11; i++)
		EXPECT_EQ(memcmp(b.disk().data() + (2048 - 88 + 8 * i) * 512, pages[i]->bytes(), 4096), 0) << i;
}

TEST(BlkbackIo, FlushAndBarrier)
{
	Bench b;
	b.connect();
	auto flush = blkif::make_flush(Op::kFlushDiskCache, blkif::RequestId(3), blkif::Vdev(51712));
	auto rsp = b.roundtrip(flush);
	EXPECT_EQ(rsp.operation, Op::kFlushDiskCache);
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(b.disk().stats().preflush, 1u);

	auto barrier = blkif::make_flush(Op::kWriteBarrier, blkif::RequestId(4), blkif::Vdev(51712));
	rsp = b.roundtrip(barrier);
	EXPECT_EQ(rsp.operation, Op::kWriteBarrier);
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(b.disk().stats().preflush, 2u);
	EXPECT_EQ(b.be->io_stats().f_req, 2u);
}

TEST(BlkbackIo, BarrierWaitsForEarlierWrites)
{
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	fill(p.bytes(), KAPI_PAGE_SIZE, 4);
	// A write still in flight when the barrier arrives: the barrier's
	// drain must complete it (and answer it) before the flush goes out.
	b.push(b.rw(Op::kWrite, 1, 0, {Bench::seg(p)}));
	b.xen.run_pending_irqs();
	b.ring().run_once();
	ASSERT_EQ(b.ring().in_flight(), 1u);
	host::set_wait_hook([](void *x) { static_cast<host::FakeXen *>(x)->complete_bios(); }, &b.xen);
	b.push(blkif::make_flush(Op::kWriteBarrier, blkif::RequestId(2), blkif::Vdev(51712)));
	b.pump();
	auto rs = b.responses();
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_EQ(rs[0].id, blkif::RequestId(1));	// answered first
	EXPECT_EQ(rs[1].id, blkif::RequestId(2));
	EXPECT_EQ(b.disk().stats().fua, 1u);
}

TEST(BlkbackIo, BarrierWaitGivesUpOnStop)
{
	// kthread_stop (disconnect) arriving while a barrier waits for a
	// stuck earlier write: the thread must not wait behind it.
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	b.push(b.rw(Op::kWrite, 1, 0, {Bench::seg(p)}));
	b.xen.run_pending_irqs();
	b.ring().run_once();
	ASSERT_EQ(b.ring().in_flight(), 1u);
	struct Ctx {
		Bench *b;
		size_t waits = 0;
	} ctx{&b};
	host::set_wait_hook([](void *x) {
		auto *c = static_cast<Ctx *>(x);
		host::set_thread_should_stop(true);
		// A thread that ignores the stop still ends, a few waits on.
		if (++c->waits > 3)
			c->b->xen.complete_bios();
	}, &ctx);
	b.push(blkif::make_flush(Op::kWriteBarrier, blkif::RequestId(2), blkif::Vdev(51712)));
	b.xen.run_pending_irqs();
	b.ring().run_once();
	host::set_wait_hook(nullptr, nullptr);
	host::set_thread_should_stop(false);
	EXPECT_LE(ctx.waits, 3u);	// (the error's 1 ms back-off counts too)
	EXPECT_EQ(b.disk().stats().fua, 0u);	// no flush went out
	auto rs = b.responses();
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].id, blkif::RequestId(2));
	EXPECT_EQ(rs[0].status, RspStatus::kError);
	// The write is still the device's, and answered when it completes.
	EXPECT_EQ(b.xen.bios_in_flight(), 1u);
	b.pump();
	rs = b.responses();
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].id, blkif::RequestId(1));
	EXPECT_EQ(rs[0].status, RspStatus::kOkay);
}

TEST(BlkbackIo, FlushNotSupportedWithdrawsTheFeature)
{
	Bench b;
	b.connect();
	ASSERT_EQ(b.back_key("feature-flush-cache"), "1");
	b.disk().fail_next_io(1, -95 /* -EOPNOTSUPP */);
	auto rsp = b.roundtrip(blkif::make_flush(Op::kFlushDiskCache, blkif::RequestId(3), blkif::Vdev(51712)));
	EXPECT_EQ(rsp.status, RspStatus::kEopnotsupp);
	EXPECT_EQ(b.back_key("feature-flush-cache"), "0");
	// As in-tree: a failed flush withdraws flush only, a failed barrier
	// barrier only.
	EXPECT_EQ(b.back_key("feature-barrier"), "1");
	b.disk().fail_next_io(1, -95 /* -EOPNOTSUPP */);
	rsp = b.roundtrip(blkif::make_flush(Op::kWriteBarrier, blkif::RequestId(4), blkif::Vdev(51712)));
	EXPECT_EQ(rsp.status, RspStatus::kEopnotsupp);
	EXPECT_EQ(b.back_key("feature-barrier"), "0");
}

TEST(BlkbackIo, BarrierNotSupportedWithdrawsOnlyBarrier)
{
	Bench b;
	b.connect();
	b.disk().fail_next_io(1, -95 /* -EOPNOTSUPP */);
	auto rsp = b.roundtrip(blkif::make_flush(Op::kWriteBarrier, blkif::RequestId(3), blkif::Vdev(51712)));
	EXPECT_EQ(rsp.status, RspStatus::kEopnotsupp);
	EXPECT_EQ(b.back_key("feature-barrier"), "0");
	EXPECT_EQ(b.back_key("feature-flush-cache"), "1");
}

TEST(BlkbackIo, IoErrorFailsTheRequest)
{
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	b.disk().fail_next_io(1);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(p)})).status, RspStatus::kError);
	// The next one works again.
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
}

TEST(BlkbackIo, DiscardAndSecureDiscard)
{
	host::DiskSpec spec;
	spec.discard = true;
	spec.secure_erase = true;
	Bench b(spec);
	b.connect();
	memset(b.disk().data(), 0xab, b.disk().size_bytes());
	auto rsp = b.roundtrip(blkif::make_discard(blkif::RequestId(9), Sector(16), Sector(16), false));
	EXPECT_EQ(rsp.operation, Op::kDiscard);
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(b.disk().data()[16 * 512], 0);
	EXPECT_EQ(b.disk().data()[32 * 512 - 1], 0);
	EXPECT_EQ(b.disk().data()[32 * 512], 0xab);
	EXPECT_EQ(b.disk().data()[16 * 512 - 1], 0xab);
	rsp = b.roundtrip(blkif::make_discard(blkif::RequestId(10), Sector(64), Sector(8), true));
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(b.disk().stats().secure_erases, 1u);
	EXPECT_EQ(b.be->io_stats().ds_req, 2u);
	// Past the end: refused before the device sees it.
	rsp = b.roundtrip(blkif::make_discard(blkif::RequestId(11), Sector(2040), Sector(9), false));
	EXPECT_EQ(rsp.status, RspStatus::kError);
	EXPECT_EQ(b.disk().stats().discards + b.disk().stats().secure_erases, 2u);
}

TEST(BlkbackIo, StopIsCheckedBeforeEachRequest)
{
	// A stop must not wait behind a ring full of (synchronous, whole
	// disk) discards: the consume loop checks it per request.
	host::DiskSpec spec;
	spec.discard = true;
	Bench b(spec);
	b.connect();
	for (uint64_t i = 0; i < 3; i++)
		b.push(blkif::make_discard(blkif::RequestId(i), Sector(0), Sector(2048), false));
	b.xen.run_pending_irqs();
	host::set_thread_should_stop(true);
	b.ring().run_once();
	host::set_thread_should_stop(false);
	EXPECT_EQ(b.disk().stats().discards, 0u);
	EXPECT_EQ(b.ring().in_flight(), 0u);
}

TEST(BlkbackIo, BusyRingThreadOffersToFreeze)
{
	// A frontend that always has work never lets the thread sleep in its
	// (freezable) wait: the loop itself must call try_to_freeze.
	Bench b;
	b.connect();
	struct Counts {
		size_t freezes = 0;
		size_t waits = 0;
	} c;
	host::set_freeze_hook([](void *x) {
		if (++static_cast<Counts *>(x)->freezes == 3)
			host::set_thread_should_stop(true);
	}, &c);
	// Every wait finds an event pending, like a busy frontend; a
	// thread that never offers to freeze is stopped after 50 passes.
	std::pair<Counts *, Bench *> ctx(&c, &b);
	host::set_wait_hook([](void *x) {
		auto *p = static_cast<std::pair<Counts *, Bench *> *>(x);
		p->second->xen.raise(*p->second->xen.port_by_name("blkif-backend"));
		p->second->xen.run_pending_irqs();
		if (++p->first->waits == 50)
			host::set_thread_should_stop(true);
	}, &ctx);
	EXPECT_TRUE(host::run_thread_body("1.xvda-0"));
	host::set_thread_should_stop(false);
	host::set_freeze_hook(nullptr, nullptr);
	EXPECT_EQ(c.freezes, 3u);
	EXPECT_LT(c.waits, 50u);
}

TEST(BlkbackIo, ReadOnlyDeviceRefusesWritesAndDiscards)
{
	Bench b;
	b.probe();
	b.hotplug("r");
	b.frontend_init();
	ASSERT_EQ(b.be->state(), KAPI_XENBUS_CONNECTED);
	FrontPage &p = b.grant_page();
	fill(p.bytes(), KAPI_PAGE_SIZE, 5);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 0, {Bench::seg(p)})).status, RspStatus::kError);
	EXPECT_EQ(b.roundtrip(blkif::make_discard(blkif::RequestId(2), Sector(0), Sector(8), false)).status,
		  RspStatus::kError);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 3, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	EXPECT_EQ(b.disk().stats().bytes_written, 0u);
	EXPECT_EQ(b.disk().stats().writes, 0u);
}

TEST(BlkbackIo, MisalignedRequestOn4kDevice)
{
	host::DiskSpec spec;
	spec.logical_block_size = 4096;
	spec.physical_block_size = 4096;
	Bench b(spec);
	b.connect();
	EXPECT_EQ(b.back_key("sector-size"), "4096");
	FrontPage &p = b.grant_page();
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 8, {Bench::seg(p)})).status, RspStatus::kOkay);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 4, {Bench::seg(p)})).status, RspStatus::kError);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 3, 8, {Bench::seg(p, 0, 3)})).status, RspStatus::kError);
}

// --- persistent grants ----------------------------------------------------

TEST(BlkbackGrants, PersistentMapsStayBoundedByTheWorkingSet)
{
	Bench b;
	b.connect();
	std::vector<FrontPage *> pages;
	for (int i = 0; i < 8; i++)
		pages.push_back(&b.grant_page());
	const size_t map_ops_before = b.xen.gnttab().map_ops;
	for (int r = 0; r < 200; r++) {
		FrontPage &p = *pages[r % 8];
		ASSERT_EQ(b.roundtrip(b.rw(r % 2 ? Op::kRead : Op::kWrite, r, 8 * (r % 8), {Bench::seg(p)})).status,
			  RspStatus::kOkay);
	}
	const auto g = b.be->grant_stats();
	EXPECT_EQ(g.maps, 8u);
	EXPECT_EQ(g.misses, 8u);
	EXPECT_EQ(g.hits, 192u);
	EXPECT_EQ(g.mapped, 8u);
	EXPECT_EQ(g.transient_maps, 0u);
	EXPECT_EQ(g.unmaps, 0u);
	EXPECT_EQ(b.xen.gnttab().map_ops - map_ops_before, 8u);
	// Disconnect unmaps them all.
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	const auto after = b.be->grant_stats();
	EXPECT_EQ(after.mapped, 0u);
	EXPECT_EQ(after.unmaps, 8u);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u);
}

TEST(BlkbackGrants, WithoutPersistentGrantsMapsEqualSegments)
{
	Bench b;
	host::blkback_params().grant_copy = false;	// the map path
	FrontendOptions o;
	o.persistent = false;
	b.connect(o);
	std::vector<FrontPage *> pages;
	for (int i = 0; i < 4; i++)
		pages.push_back(&b.grant_page());
	for (int r = 0; r < 50; r++) {
		std::vector<blkif::Segment> segs;
		for (int i = 0; i < 3; i++)
			segs.push_back(Bench::seg(*pages[(r + i) % 4]));
		ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, r, 0, segs)).status, RspStatus::kOkay);
	}
	const auto g = b.be->grant_stats();
	EXPECT_EQ(g.maps, 150u);
	EXPECT_EQ(g.unmaps, 150u);
	EXPECT_EQ(g.transient_maps, 150u);
	EXPECT_EQ(g.hits, 0u);
	EXPECT_EQ(g.mapped, 0u);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u + 1u);	// just the ring
}

TEST(BlkbackGrants, OverTheCapOneRequestMixesPersistentAndTransient)
{
	Bench b;
	host::blkback_params().max_persistent_grants = 4;
	b.connect();
	std::vector<blkif::Segment> segs;
	std::vector<FrontPage *> pages;
	for (int i = 0; i < 8; i++) {
		FrontPage &p = b.grant_page();
		fill(p.bytes(), KAPI_PAGE_SIZE, 20 + i);
		segs.push_back(Bench::seg(p));
		pages.push_back(&p);
	}
	ASSERT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 0, segs)).status, RspStatus::kOkay);
	for (int i = 0; i < 8; i++)
		EXPECT_EQ(memcmp(b.disk().data() + 8 * i * 512, pages[i]->bytes(), 4096), 0) << i;
	auto g = b.be->grant_stats();
	EXPECT_EQ(g.maps, 8u);
	EXPECT_EQ(g.transient_maps, 4u);
	EXPECT_EQ(g.unmaps, 4u);
	EXPECT_EQ(g.mapped, 4u);	// the persistent half stays
}

TEST(BlkbackGrants, IdlePersistentGrantsExpire)
{
	Bench b;
	host::blkback_params().persistent_grant_unused_seconds = 2;
	b.connect();
	FrontPage &p = b.grant_page();
	ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	EXPECT_EQ(b.be->grant_stats().mapped, 1u);
	host::advance_jiffies(3 * host::kHz);
	b.ring().run_once();
	const auto g = b.be->grant_stats();
	EXPECT_EQ(g.evictions, 1u);
	EXPECT_EQ(g.mapped, 0u);
}

// --- hostile frontends ----------------------------------------------------

// A native request slot written by hand, for shapes the encoder refuses.
blkif::wire::NativeLayout::RequestSlot raw_rw(uint8_t op, uint8_t nr, uint64_t id, uint64_t sector,
					      uint32_t gref, uint8_t first, uint8_t last)
{
	blkif::wire::NativeLayout::RequestSlot s;
	memset(&s, 0, sizeof(s));
	auto *b = reinterpret_cast<unsigned char *>(&s);
	b[KAPI_BLKIF_NATIVE_REQ_OPERATION_OFFSET] = op;
	b[KAPI_BLKIF_NATIVE_RW_NR_SEGMENTS_OFFSET] = nr;
	memcpy(b + KAPI_BLKIF_NATIVE_RW_ID_OFFSET, &id, 8);
	memcpy(b + KAPI_BLKIF_NATIVE_RW_SECTOR_NUMBER_OFFSET, &sector, 8);
	for (unsigned i = 0; i < 11; i++) {
		unsigned char *seg = b + KAPI_BLKIF_NATIVE_RW_SEG_OFFSET + i * KAPI_BLKIF_SEGMENT_SIZE;
		memcpy(seg + KAPI_BLKIF_SEGMENT_GREF_OFFSET, &gref, 4);
		seg[KAPI_BLKIF_SEGMENT_FIRST_SECT_OFFSET] = first;
		seg[KAPI_BLKIF_SEGMENT_LAST_SECT_OFFSET] = last;
	}
	return s;
}

TEST(BlkbackHostile, BadRequestsGetErrorResponsesAndLeakNothing)
{
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	struct Case {
		const char *what;
		blkif::wire::NativeLayout::RequestSlot slot;
		RspStatus want;
	} const cases[] = {
		{"unknown op", raw_rw(9, 1, 1, 0, p.ref, 0, 7), RspStatus::kEopnotsupp},
		{"op 4 (never assigned)", raw_rw(4, 1, 2, 0, p.ref, 0, 7), RspStatus::kEopnotsupp},
		{"read with 0 segments", raw_rw(0, 0, 3, 0, p.ref, 0, 7), RspStatus::kError},
		{"12 segments", raw_rw(0, 12, 4, 0, p.ref, 0, 7), RspStatus::kError},
		{"255 segments", raw_rw(1, 255, 5, 0, p.ref, 0, 7), RspStatus::kError},
		{"first > last", raw_rw(0, 1, 6, 0, p.ref, 5, 4), RspStatus::kError},
		{"last_sect 8", raw_rw(0, 1, 7, 0, p.ref, 0, 8), RspStatus::kError},
		{"past the end", raw_rw(0, 1, 8, 2044, p.ref, 0, 7), RspStatus::kError},
		{"sector wraps 2^64", raw_rw(1, 1, 9, ~0ull - 3, p.ref, 0, 7), RspStatus::kError},
		{"gref never granted", raw_rw(0, 1, 10, 0, 4000, 0, 7), RspStatus::kError},
		// Served, as in-tree: the second copy is mapped transiently.
		{"duplicate gref", raw_rw(0, 2, 11, 0, p.ref, 0, 7), RspStatus::kOkay},
	};
	for (const auto &c : cases) {
		b.push_raw(&c.slot);
		b.pump();
		auto rs = b.responses();
		ASSERT_EQ(rs.size(), 1u) << c.what;
		EXPECT_EQ(rs[0].status, c.want) << c.what;
		// Nothing stays mapped but the ring (and, with persistent
		// grants, the page's own persistent mapping).
		EXPECT_LE(b.be->grant_stats().mapped, 1u) << c.what;
		EXPECT_EQ(b.ring().in_flight(), 0u) << c.what;
	}
	// The disk was never written, the ring still works.
	EXPECT_EQ(b.disk().stats().writes, 0u);
	EXPECT_FALSE(b.ring().broken());
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 99, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	EXPECT_TRUE(b.xen.violations().empty());
}

TEST(BlkbackHostile, FailedMapInTheMiddleFailsOnlyThatRequest)
{
	Bench b;
	b.connect();
	FrontPage &a = b.grant_page();
	FrontPage &bad = b.grant_page();
	FrontPage &c = b.grant_page();
	b.xen.fail_map(bad.ref, host::gntst::kGeneralError, 1);
	auto rsp = b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(a), Bench::seg(bad), Bench::seg(c)}));
	EXPECT_EQ(rsp.status, RspStatus::kError);
	EXPECT_EQ(b.disk().stats().reads, 0u);
	// The failed request left nothing borrowed: the same grants work now.
	rsp = b.roundtrip(b.rw(Op::kRead, 2, 0, {Bench::seg(a), Bench::seg(bad), Bench::seg(c)}));
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
}

TEST(BlkbackHostile, IndirectRequests)
{
	Bench b;
	b.connect();
	// 40 data pages described by one indirect page.
	FrontPage &ind = b.grant_page();
	std::vector<FrontPage *> pages;
	for (unsigned i = 0; i < 40; i++) {
		FrontPage &p = b.grant_page();
		fill(p.bytes(), KAPI_PAGE_SIZE, 40 + i);
		pages.push_back(&p);
		ASSERT_TRUE(blkif::encode_indirect_segment(ind.bytes(), i, Bench::seg(p)).is_ok());
	}
	GrantRef ind_ref(ind.ref);
	auto req = blkif::make_indirect(Op::kWrite, blkif::RequestId(5), blkif::Vdev(51712), Sector(512), 40, &ind_ref);
	auto rsp = b.roundtrip(req);
	EXPECT_EQ(rsp.operation, Op::kWrite);
	ASSERT_EQ(rsp.status, RspStatus::kOkay);
	for (unsigned i = 0; i < 40; i++)
		EXPECT_EQ(memcmp(b.disk().data() + (512 + 8 * i) * 512, pages[i]->bytes(), 4096), 0) << i;
	EXPECT_EQ(b.be->io_stats().wr_sect, 320u);

	// A segment in the indirect page with last_sect 9: the whole request fails.
	blkif::Segment bad = Bench::seg(*pages[3]);
	bad.last_sect = 7;
	ASSERT_TRUE(blkif::encode_indirect_segment(ind.bytes(), 3, bad).is_ok());
	ind.bytes()[3 * 8 + 5] = 9;
	req = blkif::make_indirect(Op::kRead, blkif::RequestId(6), blkif::Vdev(51712), Sector(0), 40, &ind_ref);
	EXPECT_EQ(b.roundtrip(req).status, RspStatus::kError);

	// More segments than we advertised (256).
	req = blkif::make_indirect(Op::kRead, blkif::RequestId(7), blkif::Vdev(51712), Sector(0), 300, &ind_ref);
	blkif::wire::NativeLayout::RequestSlot s;
	if (blkif::encode_request(blkif::Abi::kNative, req, &s).is_ok()) {
		b.push_raw(&s);
		b.pump();
		auto rs = b.responses();
		ASSERT_EQ(rs.size(), 1u);
		EXPECT_EQ(rs[0].status, RspStatus::kError);
	}

	// An indirect page nobody granted.
	GrantRef nowhere(5000);
	req = blkif::make_indirect(Op::kRead, blkif::RequestId(8), blkif::Vdev(51712), Sector(0), 4, &nowhere);
	EXPECT_EQ(b.roundtrip(req).status, RspStatus::kError);
	EXPECT_EQ(b.ring().in_flight(), 0u);
	EXPECT_TRUE(b.xen.violations().empty());
}

TEST(BlkbackHostile, ProducerOverflowHaltsTheRingWithARatelimitedLog)
{
	Bench b;
	b.connect();
	auto &q = b.queue();
	auto *hdr = static_cast<SringHeader *>(q.area);
	const size_t logs = host::log_count();
	// Claim a ring and a half of requests.
	hdr->req_prod = hdr->req_prod + b.ring().size() + b.ring().size() / 2;
	kapi_evtchn_notify(q.irq);
	b.xen.run_pending_irqs();
	b.ring().run_once();
	EXPECT_TRUE(b.ring().broken());
	EXPECT_GT(host::log_count(), logs);
	EXPECT_NE(std::string(host::last_log()).find("halting"), std::string::npos);
	// The halted ring is never acknowledged: its events stay masked.
	const auto irq = b.xen.irq(*b.xen.port_by_name("blkif-backend"));
	EXPECT_EQ(irq.eois, 0u);
	b.ring().run_once();
	EXPECT_EQ(b.xen.irq(*b.xen.port_by_name("blkif-backend")).eois, 0u);
	EXPECT_EQ(b.disk().stats().bios_submitted, 0u);
	// Disconnect still cleans up.
	b.frontend_state(KAPI_XENBUS_CLOSED);
	EXPECT_EQ(b.xen.live_ring_maps(), 0u);
}

TEST(BlkbackHostile, EmptyKickIsAcknowledgedAsSpurious)
{
	Bench b;
	b.connect();
	const uint32_t port = *b.xen.port_by_name("blkif-backend");
	b.xen.raise(port);
	b.xen.run_pending_irqs();
	b.ring().run_once();
	const auto irq = b.xen.irq(port);
	EXPECT_EQ(irq.eois, 1u);
	EXPECT_EQ(irq.spurious_eois, 1u);
}

// Five reads the device holds on to, on a connected ring.
std::vector<FrontPage *> reads_in_flight(Bench &b)
{
	std::vector<FrontPage *> pages;
	for (int i = 0; i < 5; i++) {
		FrontPage &p = b.grant_page();
		pages.push_back(&p);
		b.push(b.rw(Op::kRead, i, 8 * i, {Bench::seg(p)}));
	}
	b.xen.run_pending_irqs();
	b.ring().run_once();
	EXPECT_EQ(b.ring().in_flight(), 5u);
	EXPECT_EQ(b.xen.bios_in_flight(), 5u);
	return pages;
}

// While alive, counts the engine's waits and sleeps; each also completes
// the bios the engine would wait for, so a waiting engine cannot hang the
// test.
class WaitCounter {
public:
	explicit WaitCounter(Bench &b) : b_(b) { host::set_wait_hook(&WaitCounter::hook, this); }
	~WaitCounter() { host::set_wait_hook(nullptr, nullptr); }
	size_t count() const { return n_; }

private:
	static void hook(void *x)
	{
		auto *w = static_cast<WaitCounter *>(x);
		w->n_++;
		w->b_.xen.complete_bios();
	}
	Bench &b_;
	size_t n_ = 0;
};

TEST(BlkbackIo, ClosedWithIoInFlightReturnsAtOnceAndRetiresOnLastCompletion)
{
	// xenwatch serves every guest: a frontend that goes Closed with slow
	// I/O in flight must not make it wait. The ring retires when its
	// last bio completes: grants unmapped, ring unmapped, then Closed.
	Bench b;
	b.connect();
	reads_in_flight(b);
	{
		WaitCounter waits(b);
		b.frontend_state(KAPI_XENBUS_CLOSING);
		b.frontend_state(KAPI_XENBUS_CLOSED);
		EXPECT_EQ(waits.count(), 0u);
	}
	EXPECT_EQ(b.xen.bios_in_flight(), 5u);
	EXPECT_EQ(b.be->nr_retiring(), 1u);
	EXPECT_EQ(b.be->nr_rings(), 0u);
	// Not Closed while the device may still write into the grants.
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSING);
	EXPECT_GT(b.xen.gnttab().live_mappings, 0u);

	EXPECT_EQ(b.xen.complete_bios(3), 3u);
	host::run_works();
	EXPECT_EQ(b.be->nr_retiring(), 1u);
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSING);
	EXPECT_EQ(b.responses().size(), 3u);

	EXPECT_EQ(b.xen.complete_bios(), 2u);
	host::run_works();
	EXPECT_EQ(b.be->nr_retiring(), 0u);
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSED);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u);
	EXPECT_EQ(b.xen.live_ring_maps(), 0u);
	EXPECT_EQ(b.xen.bound_irqs(), 1u);	// the frontend's own
	EXPECT_EQ(b.be->grant_stats().mapped, 0u);
	EXPECT_EQ(b.be->io_stats().rd_req, 5u);
	EXPECT_EQ(host::works_pending(), 0u);
}

TEST(BlkbackIo, RetiredRingIsFreedWithoutWaitingForXenwatch)
{
	// After the last completion and the work it queues, nothing of the
	// retired ring may be left for the next xenwatch event to free.
	Bench b;
	b.connect();
	reads_in_flight(b);
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	ASSERT_EQ(b.be->nr_retiring(), 1u);
	b.xen.complete_bios();
	host::run_works();
	ASSERT_EQ(b.be->nr_retiring(), 0u);
	EXPECT_EQ(host::works_pending(), 0u);
	const size_t live = host::alloc_stats().live;
	// The next xenwatch event (a frontend back for a reconnect) has
	// nothing left to free: before the fix it freed the ring here.
	b.frontend_state(KAPI_XENBUS_INITIALISING);
	EXPECT_EQ(b.be->state(), KAPI_XENBUS_INITWAIT);
	EXPECT_EQ(host::alloc_stats().live, live);
}

TEST(BlkbackIo, ReconnectWaitsForRetiringRings)
{
	Bench b;
	b.connect();
	reads_in_flight(b);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	// As in-tree: new rings while old ones have I/O are refused.
	b.frontend_state(KAPI_XENBUS_CONNECTED);
	ASSERT_FALSE(b.xen.fatal_errors(b.pair.back).empty());
	EXPECT_EQ(b.xen.fatal_errors(b.pair.back).back().msg, "pending I/O");
	EXPECT_EQ(b.be->nr_rings(), 0u);
	// A frontend back at Initialising gets InitWait once the old ring
	// is gone.
	b.frontend_state(KAPI_XENBUS_INITIALISING);
	b.xen.complete_bios();
	host::run_works();
	const auto h = b.xen.state_history(b.pair.back);
	ASSERT_GE(h.size(), 2u);
	EXPECT_EQ(h[h.size() - 2], KAPI_XENBUS_CLOSED);
	EXPECT_EQ(h.back(), KAPI_XENBUS_INITWAIT);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u);
}

TEST(BlkbackIo, RemovalWithIoInFlightReturnsAtOnceAndTheZombieFreesEverything)
{
	// xenbus remove runs in xenwatch: it hands the retiring rings to a
	// zombie and returns. The last completion frees it on the module's
	// workqueue; module exit then has nothing to wait for.
	ASSERT_EQ(xbc_blkback_init(), 0);
	Bench b;
	b.connect();
	reads_in_flight(b);
	const auto history = b.xen.state_history(b.pair.back);
	{
		WaitCounter waits(b);
		Backend::remove(std::move(b.be));
		EXPECT_EQ(waits.count(), 0u);
	}
	EXPECT_EQ(b.xen.bios_in_flight(), 5u);
	EXPECT_EQ(Backend::nr_zombies(), 1u);
	// The zombie keeps the module pin: rmmod fails as in-tree instead of
	// waiting, uninterruptibly, on the device's I/O.
	EXPECT_EQ(host::module_pins(), 1);

	EXPECT_EQ(b.xen.complete_bios(), 5u);
	host::run_works();
	EXPECT_EQ(Backend::nr_zombies(), 0u);
	EXPECT_EQ(host::module_pins(), 0);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u);
	EXPECT_EQ(b.xen.live_ring_maps(), 0u);
	// A removed device's state is no longer ours to switch.
	EXPECT_EQ(b.xen.state_history(b.pair.back), history);
	EXPECT_EQ(b.xen.leftovers().find("xenbus device reference"), std::string::npos);
	{
		WaitCounter waits(b);
		xbc_blkback_exit();
		EXPECT_EQ(waits.count(), 0u);
	}
}

TEST(BlkbackIo, DestroyingWithIoInFlightWaitsAndFreesEverything)
{
	// The destructor (not remove()) may not leave bios pointing into a
	// closed device: it waits (outside the lock the retiring ring needs).
	Bench b;
	b.connect();
	reads_in_flight(b);
	{
		WaitCounter waits(b);
		b.be.reset();
		EXPECT_GE(waits.count(), 1u);
	}
	EXPECT_EQ(b.xen.bios_in_flight(), 0u);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u);
	EXPECT_EQ(b.xen.live_ring_maps(), 0u);
	EXPECT_EQ(host::module_pins(), 0);
}

// Issue 9 defect 6: a page someone else still holds (a network stack, a
// stuck bio) when its request completes. The kernel's synchronous unmap
// waits for the holder without bound; the fake records that as a
// violation, the asynchronous one defers until drop_page_holds().

// One request through the ring without waiting for the ring to go quiet
// (a request held back by its unmap keeps it busy): its response.
std::vector<blkif::Response> serve(Bench &b, const blkif::Request &req)
{
	b.push(req);
	b.xen.run_pending_irqs();
	b.ring().run_once();
	b.xen.complete_bios();
	b.ring().run_once();
	return b.responses();
}

// The map path (no persistent grants, no grant copy) and one read (id 1)
// whose page someone else still holds when its bio completes.
FrontPage &read_with_held_page(Bench &b)
{
	host::blkback_params().grant_copy = false;
	FrontendOptions o;
	o.persistent = false;
	b.connect(o);
	FrontPage &held = b.grant_page();
	b.push(b.rw(Op::kRead, 1, 0, {Bench::seg(held)}));
	b.xen.run_pending_irqs();
	b.ring().run_once();
	EXPECT_TRUE(b.xen.hold_mapped_page(held.ref));
	EXPECT_EQ(b.xen.complete_bios(), 1u);
	return held;
}

TEST(BlkbackAsyncUnmap, HeldPageDelaysOnlyItsOwnResponseAndNeverStallsTheRing)
{
	Bench b;
	FrontPage &held = read_with_held_page(b);
	{
		WaitCounter waits(b);
		b.ring().run_once();
		EXPECT_EQ(waits.count(), 0u);
	}
	EXPECT_TRUE(b.xen.take_violations().empty()) << "the ring thread waited on a held page";
	// Never reported done while the frontend's page is still mapped.
	EXPECT_TRUE(b.responses().empty());
	EXPECT_EQ(b.xen.map_count(held.ref), 1u);
	EXPECT_EQ(b.ring().in_flight(), 1u);

	// Meanwhile other requests are served, each answered at once.
	for (uint64_t id = 10; id < 13; id++) {
		FrontPage &p = b.grant_page();
		const auto rs = serve(b, b.rw(Op::kWrite, id, 8 * id, {Bench::seg(p)}));
		ASSERT_EQ(rs.size(), 1u);
		EXPECT_EQ(rs[0].id.raw(), id);
		EXPECT_EQ(rs[0].status, RspStatus::kOkay);
	}
	EXPECT_EQ(b.ring().in_flight(), 1u);

	// The holder lets go: the kernel's retry unmaps, then the answer.
	EXPECT_EQ(b.xen.drop_page_holds(), 1u);
	host::run_works();
	EXPECT_EQ(b.xen.map_count(held.ref), 0u);
	b.ring().run_once();
	const auto rs = b.responses();
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].id.raw(), 1u);
	EXPECT_EQ(rs[0].status, RspStatus::kOkay);
	EXPECT_EQ(b.ring().in_flight(), 0u);
	EXPECT_EQ(b.be->grant_stats().mapped, 0u);
	EXPECT_EQ(b.xen.gnttab().unmaps_deferred, 1u);
}

TEST(BlkbackAsyncUnmap, DisconnectWithAHeldPersistentPageReturnsAtOnceAndRetiresLater)
{
	// Teardown unmaps the idle persistent grants: a held one must not keep
	// xenwatch waiting. The ring retires (Closed, mapped 0) once it goes.
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	ASSERT_TRUE(b.xen.hold_mapped_page(p.ref));
	{
		WaitCounter waits(b);
		b.frontend_state(KAPI_XENBUS_CLOSING);
		b.frontend_state(KAPI_XENBUS_CLOSED);
		EXPECT_EQ(waits.count(), 0u);
	}
	EXPECT_TRUE(b.xen.take_violations().empty()) << "xenwatch waited on a held page";
	EXPECT_EQ(b.be->nr_retiring(), 1u);
	// Not Closed while the frontend's grant is still mapped.
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSING);
	EXPECT_EQ(b.xen.map_count(p.ref), 1u);
	host::run_works();
	EXPECT_EQ(b.be->nr_retiring(), 1u);

	EXPECT_EQ(b.xen.drop_page_holds(), 1u);
	host::run_works();
	EXPECT_EQ(b.be->nr_retiring(), 0u);
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSED);
	EXPECT_EQ(b.xen.map_count(p.ref), 0u);
	EXPECT_EQ(b.be->grant_stats().mapped, 0u);
	const std::string line = host::last_log();
	EXPECT_NE(line.find(": disconnected: grants "), std::string::npos) << line;
	EXPECT_NE(line.find(" mapped 0\n"), std::string::npos) << line;
	EXPECT_EQ(host::works_pending(), 0u);
}

TEST(BlkbackAsyncUnmap, RemovalWithAHeldPageKeepsTheModulePinnedUntilTheUnmap)
{
	// rmmod must not free the code an unmap completion will run: the
	// zombie holds the module until its last unmap is done.
	ASSERT_EQ(xbc_blkback_init(), 0);
	Bench b;
	FrontPage &p = read_with_held_page(b);
	b.ring().run_once();
	{
		WaitCounter waits(b);
		Backend::remove(std::move(b.be));
		EXPECT_EQ(waits.count(), 0u);
	}
	EXPECT_TRUE(b.xen.take_violations().empty());
	EXPECT_EQ(Backend::nr_zombies(), 1u);
	EXPECT_EQ(host::module_pins(), 1);
	EXPECT_EQ(b.xen.map_count(p.ref), 1u);

	EXPECT_EQ(b.xen.drop_page_holds(), 1u);
	host::run_works();
	EXPECT_EQ(Backend::nr_zombies(), 0u);
	EXPECT_EQ(host::module_pins(), 0);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u);
	{
		WaitCounter waits(b);
		xbc_blkback_exit();
		EXPECT_EQ(waits.count(), 0u);
	}
}

FrontendOptions with_queues(unsigned n)
{
	FrontendOptions o;
	o.queues = n;
	return o;
}

TEST(BlkbackIo, MultiQueueRingsWorkIndependently)
{
	Bench b;
	b.connect(with_queues(2));
	FrontPage &p0 = b.grant_page();
	FrontPage &p1 = b.grant_page();
	fill(p0.bytes(), 4096, 60);
	fill(p1.bytes(), 4096, 61);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 0, {Bench::seg(p0)}), 0).status, RspStatus::kOkay);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kWrite, 2, 8, {Bench::seg(p1)}), 1).status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(b.disk().data(), p0.bytes(), 4096), 0);
	EXPECT_EQ(memcmp(b.disk().data() + 4096, p1.bytes(), 4096), 0);
	EXPECT_EQ(b.ring(0).io_stats().wr_req, 1u);
	EXPECT_EQ(b.ring(1).io_stats().wr_req, 1u);
	EXPECT_EQ(b.be->io_stats().wr_req, 2u);
}

TEST(BlkbackIo, StatisticsHoldStillWhileRingsRetire)
{
	// sysfs totals include a retiring ring's counters: they neither dip
	// while its bios are in flight nor jump when it retires.
	Bench b;
	b.connect(with_queues(2));
	FrontPage &p = b.grant_page();
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 9, 0, {Bench::seg(p)}), 1).status, RspStatus::kOkay);
	reads_in_flight(b);
	const auto io = b.be->io_stats();
	const auto gr = b.be->grant_stats();
	EXPECT_EQ(io.rd_req, 6u);
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	ASSERT_EQ(b.be->nr_retiring(), 1u);
	// Every I/O counter; of the grant counters, those retiring leaves
	// alone (its teardown unmaps, so unmaps and mapped move).
	const auto same = [&](const blkback::IoStats &i, blkback::GrantStats g) {
		EXPECT_TRUE(i == io);
		g.unmaps = gr.unmaps;
		g.mapped = gr.mapped;
		EXPECT_TRUE(g == gr);
	};
	same(b.be->io_stats(), b.be->grant_stats());
	b.xen.complete_bios();
	host::run_works();
	EXPECT_EQ(b.be->nr_retiring(), 0u);
	same(b.be->io_stats(), b.be->grant_stats());
}

TEST(BlkbackIo, EveryRingChecksTheLiveDeviceSize)
{
	// Only ring 1 runs: it must see the device grow and shrink itself,
	// not wait for ring 0 to notice.
	Bench b;
	b.connect(with_queues(2));
	FrontPage &p = b.grant_page();
	b.disk().resize(4096);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 3000, {Bench::seg(p)}), 1).status, RspStatus::kOkay);
	// The growth is announced once, by whichever ring saw it.
	EXPECT_EQ(b.back_key("sectors"), "4096");
	b.disk().resize(1024);
	const size_t bios = b.disk().stats().bios_submitted;
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 1020, {Bench::seg(p)}), 1).status, RspStatus::kError);
	// Refused before the device saw it.
	EXPECT_EQ(b.disk().stats().bios_submitted, bios);
	EXPECT_EQ(b.back_key("sectors"), "1024");
}

TEST(BlkbackIo, ResizeAnnouncedLastIsTheNewest)
{
	// Ring 0 sees 2048->4096 and announces. Before its commit the device
	// grows to 8192, ring 1 claims that change and its announcement
	// commits first (the hook). Whoever commits last must leave 8192:
	// before the fix ring 0 retried with its stale 4096, for good.
	Bench b;
	b.connect(with_queues(2));
	FrontPage &p = b.grant_page();
	b.disk().resize(4096);
	bool hooked = false;
	b.xen.on_next_commit([&] {
		hooked = true;
		b.disk().resize(8192);
		Sector now;
		ASSERT_TRUE(b.be->device()->take_resize(&now));
		EXPECT_EQ(now.raw(), 8192u);
		b.xen.xs_write(b.pair.back_path + "/sectors", "8192");
	});
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(p)}), 0).status, RspStatus::kOkay);
	EXPECT_TRUE(hooked);
	EXPECT_EQ(b.back_key("sectors"), "8192");
	// Nothing new to announce: the size rests at the newest.
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 0, {Bench::seg(p)}), 1).status, RspStatus::kOkay);
	EXPECT_EQ(b.back_key("sectors"), "8192");
}

TEST(BlkbackIo, X86_32AbiRoundTrip)
{
	// A 32-bit frontend: 108-byte slots, 4-aligned 64-bit fields, 12-byte
	// responses. The backend converts once at the ring edge.
	Bench b;
	FrontendOptions o;
	o.protocol = "x86_32-abi";
	b.probe();
	b.hotplug();
	b.frontend_prepare(o);
	using L = blkif::wire::X86_32Layout;
	auto fr = blkif::LayoutFrontRing<L>::init(b.queue().area, KAPI_PAGE_SIZE);
	ASSERT_TRUE(fr.is_ok());
	auto front = fr.take();
	b.frontend_state(KAPI_XENBUS_INITIALISED);
	ASSERT_EQ(b.be->state(), KAPI_XENBUS_CONNECTED);
	// 4096 - 64 header bytes hold 37 slots of 108: 32 entries.
	EXPECT_EQ(b.ring().size(), 32u);

	FrontPage &src = b.grant_page();
	FrontPage &dst = b.grant_page();
	fill(src.bytes(), KAPI_PAGE_SIZE, 32);
	auto send = [&](const blkif::Request &req) {
		L::RequestSlot slot;
		ASSERT_TRUE(blkif::encode_request(blkif::Abi::kX86_32, req, &slot).is_ok());
		ASSERT_TRUE(front.push_request(slot).is_ok());
		if (front.publish_requests())
			kapi_evtchn_notify(b.queue().irq);
		b.pump();
	};
	auto answer = [&]() {
		EXPECT_TRUE(front.pending_responses().is_ok());
		L::Response raw;
		EXPECT_TRUE(front.pop_response(&raw));
		return blkif::decode_response(blkif::Abi::kX86_32, &raw);
	};
	send(b.rw(Op::kWrite, 0x1122334455667788ull, 24, {Bench::seg(src)}));
	auto rsp = answer();
	EXPECT_EQ(rsp.id, blkif::RequestId(0x1122334455667788ull));
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	send(b.rw(Op::kRead, 2, 24, {Bench::seg(dst)}));
	EXPECT_EQ(answer().status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(dst.bytes(), src.bytes(), KAPI_PAGE_SIZE), 0);
	EXPECT_EQ(memcmp(b.disk().data() + 24 * 512, src.bytes(), KAPI_PAGE_SIZE), 0);
}

TEST(BlkbackIo, AllocationFailureOnTheIoPathFailsOnlyThatRequest)
{
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	// The first map needs a page for the pool: make every allocation fail.
	host::fail_allocs_after(0);
	b.push(b.rw(Op::kRead, 1, 0, {Bench::seg(p)}));
	b.pump();
	host::clear_alloc_failure();
	auto rs = b.responses();
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].status, RspStatus::kError);
	EXPECT_EQ(b.be->grant_stats().mapped, 0u);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
}

TEST(BlkbackIo, BioAllocationFailureFailsTheRequestAndReleasesItsGrants)
{
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	// First use maps the grant persistently; the second is a hit, so the
	// only allocation left on its path is the bio.
	ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	host::fail_allocs_after(0);
	b.push(b.rw(Op::kRead, 2, 0, {Bench::seg(p)}));
	b.pump();
	host::clear_alloc_failure();
	auto rs = b.responses();
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].status, RspStatus::kError);
	EXPECT_EQ(b.disk().stats().bios_submitted, 1u);
	EXPECT_EQ(b.ring().in_flight(), 0u);
	// The grant went back to the tree, idle: the next request hits it.
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 3, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	EXPECT_EQ(b.be->grant_stats().maps, 1u);
}

TEST(BlkbackIo, LogStatsPrintsEveryTenSeconds)
{
	Bench b;
	host::blkback_params().log_stats = 1;
	b.connect();
	FrontPage &p = b.grant_page();
	ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	const size_t logs = host::log_count();
	b.ring().run_once();
	EXPECT_EQ(host::log_count(), logs);	// not due yet
	host::advance_jiffies(11 * host::kHz);
	b.ring().run_once();
	ASSERT_GT(host::log_count(), logs);
	EXPECT_NE(std::string(host::last_log()).find("rd    1"), std::string::npos) << host::last_log();
}

TEST(BlkbackIo, MemoryPressureEmptiesThePagePool)
{
	Bench b;
	host::blkback_params().grant_copy = false;	// the map path's pool
	FrontendOptions o;
	o.persistent = false;	// every page goes back to the pool after use
	b.connect(o);
	std::vector<blkif::Segment> segs;
	for (int i = 0; i < 8; i++)
		segs.push_back(Bench::seg(b.grant_page()));
	ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, segs)).status, RspStatus::kOkay);
	const size_t cached = host::alloc_stats().live;
	b.be->reclaim_memory();
	b.ring().run_once();
	// The 8 pooled pages were freed.
	EXPECT_LE(host::alloc_stats().live + 8, cached);
	// And the ring still works, allocating afresh.
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 0, segs)).status, RspStatus::kOkay);
}

TEST(BlkbackIo, StatisticsSurviveReconnect)
{
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	EXPECT_EQ(b.be->io_stats().rd_req, 1u);
	EXPECT_EQ(b.be->grant_stats().maps, 1u);
	EXPECT_EQ(b.be->grant_stats().unmaps, 1u);
}

TEST(BlkbackIo, DisconnectLogsTheGrantCountersInTheHarnessFormat)
{
	// scripts/e2e and scripts/demo parse this line; counters.h makes it.
	Bench b;
	b.connect();
	FrontPage &p = b.grant_page();
	for (uint64_t sector : {1, 2})
		ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, sector, 0, {Bench::seg(p)})).status, RspStatus::kOkay);
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	const std::string line = host::last_log();
	EXPECT_NE(line.find(": disconnected: grants hits 1 misses 1 maps 1 unmaps 1 evictions 0 "
			    "transient 0 mapped 0\n"),
		  std::string::npos)
		<< line;
}

} // namespace
} // namespace xbc::test
