// SPDX-License-Identifier: GPL-2.0-only
// blkback's grant-copy path (module parameter grant_copy, blkback/grant_copy.hpp)
// against the fake Xen: without persistent grants, data moves by copy
// between the frontend's grants and the ring's own pages, both ways and
// for partial segments; a copy op that fails fails only its request; the
// pool runs dry into the map path; every page goes at disconnect; with
// persistent grants the mapper keeps serving.
#include "blkback_harness.hpp"
#include "support/fake_thread.hpp"
#include "support/kapi_host.hpp"

namespace xbc::test {
namespace {

void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = static_cast<unsigned char>(seed * 37 + i * 11 + (i >> 9));
}

// A connection without persistent grants and with grant_copy=1 (the
// default; said explicitly so the tests outlive a change of it).
void connect_copying(Bench &b, bool frontend_persistent = false)
{
	host::blkback_params().grant_copy = true;
	FrontendOptions o;
	o.persistent = frontend_persistent;
	b.connect(o);
}

// The same, returning the kapi allocations live just before the backend
// connected (the frontend's rings and channel already among them).
size_t connect_copying_counted(Bench &b)
{
	host::blkback_params().grant_copy = true;
	b.probe();
	b.hotplug();
	FrontendOptions o;
	o.persistent = false;
	b.frontend_prepare(o);
	const size_t live = host::alloc_stats().live;
	b.frontend_state(KAPI_XENBUS_INITIALISED);
	return live;
}

TEST(BlkbackCopy, DataMovesBothWaysByCopyAndNothingIsMapped)
{
	Bench b;
	connect_copying(b);
	const host::GnttabStats before = b.xen.gnttab();
	FrontPage &a = b.grant_page();
	FrontPage &c = b.grant_page();
	fill(a.bytes(), KAPI_PAGE_SIZE, 1);
	fill(c.bytes(), KAPI_PAGE_SIZE, 2);
	auto rsp = b.roundtrip(b.rw(Op::kWrite, 1, 64, {Bench::seg(a), Bench::seg(c)}));
	ASSERT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(b.disk().data() + 64 * 512, a.bytes(), KAPI_PAGE_SIZE), 0);
	EXPECT_EQ(memcmp(b.disk().data() + 72 * 512, c.bytes(), KAPI_PAGE_SIZE), 0);

	FrontPage &d = b.grant_page();
	rsp = b.roundtrip(b.rw(Op::kRead, 2, 64, {Bench::seg(d)}));
	ASSERT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(d.bytes(), a.bytes(), KAPI_PAGE_SIZE), 0);

	const host::GnttabStats after = b.xen.gnttab();
	EXPECT_EQ(after.map_ops, before.map_ops);	// no data page was mapped
	EXPECT_EQ(after.copy_ops - before.copy_ops, 3u);
	EXPECT_EQ(after.bytes_copied_in, 2u * KAPI_PAGE_SIZE);
	EXPECT_EQ(after.bytes_copied_out, 1u * KAPI_PAGE_SIZE);
	EXPECT_EQ(b.be->grant_stats().maps, 0u);
	EXPECT_EQ(b.be->io_stats().wr_sect, 16u);
	EXPECT_EQ(b.be->io_stats().rd_sect, 8u);
}

TEST(BlkbackCopy, PartialSegmentsCopyOnlyTheirSectors)
{
	Bench b;
	connect_copying(b);
	FrontPage &a = b.grant_page();
	FrontPage &c = b.grant_page();
	fill(a.bytes(), KAPI_PAGE_SIZE, 3);
	fill(c.bytes(), KAPI_PAGE_SIZE, 4);
	// Sectors 2..5 of a, then 0..0 of c: 5 sectors from 100.
	ASSERT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 100, {Bench::seg(a, 2, 5), Bench::seg(c, 0, 0)})).status,
		  RspStatus::kOkay);
	EXPECT_EQ(memcmp(b.disk().data() + 100 * 512, a.bytes() + 2 * 512, 4 * 512), 0);
	EXPECT_EQ(memcmp(b.disk().data() + 104 * 512, c.bytes(), 512), 0);
	EXPECT_EQ(b.xen.gnttab().bytes_copied_in, 5u * 512);

	// Read those 5 sectors back into sectors 3..7 of a page whose other
	// sectors hold a pattern that must survive.
	FrontPage &d = b.grant_page();
	memset(d.bytes(), 0xa5, KAPI_PAGE_SIZE);
	ASSERT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 100, {Bench::seg(d, 3, 7)})).status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(d.bytes() + 3 * 512, a.bytes() + 2 * 512, 4 * 512), 0);
	EXPECT_EQ(memcmp(d.bytes() + 7 * 512, c.bytes(), 512), 0);
	for (size_t i = 0; i < 3 * 512; i++)
		ASSERT_EQ(d.bytes()[i], 0xa5) << i;
	EXPECT_EQ(b.xen.gnttab().bytes_copied_out, 5u * 512);
}

TEST(BlkbackCopy, FailedCopyInFailsTheWriteBeforeTheDiskSeesIt)
{
	Bench b;
	connect_copying(b);
	FrontPage &a = b.grant_page();
	FrontPage &bad = b.grant_page();
	FrontPage &c = b.grant_page();
	fill(bad.bytes(), KAPI_PAGE_SIZE, 5);
	b.xen.fail_copy(bad.ref, host::gntst::kBadGntref, 1);
	auto rsp = b.roundtrip(b.rw(Op::kWrite, 1, 0, {Bench::seg(a), Bench::seg(bad), Bench::seg(c)}));
	EXPECT_EQ(rsp.status, RspStatus::kError);
	EXPECT_EQ(b.disk().stats().writes, 0u);
	EXPECT_EQ(b.xen.gnttab().copy_failures, 1u);
	// Nothing stayed borrowed: the same request works now.
	EXPECT_EQ(b.ring().in_flight(), 0u);
	rsp = b.roundtrip(b.rw(Op::kWrite, 2, 0, {Bench::seg(a), Bench::seg(bad), Bench::seg(c)}));
	EXPECT_EQ(rsp.status, RspStatus::kOkay);
	EXPECT_EQ(memcmp(b.disk().data() + 8 * 512, bad.bytes(), KAPI_PAGE_SIZE), 0);
}

TEST(BlkbackCopy, FailedCopyOutFailsTheRead)
{
	Bench b;
	connect_copying(b);
	FrontPage &a = b.grant_page();
	FrontPage &bad = b.grant_page();
	b.xen.fail_copy(bad.ref, host::gntst::kGeneralError, 1);
	auto rsp = b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(a), Bench::seg(bad)}));
	EXPECT_EQ(rsp.status, RspStatus::kError);
	EXPECT_EQ(b.disk().stats().reads, 1u);	// the disk read; the copy back failed
	// A read-only grant cannot take read data: Xen refuses that copy.
	FrontPage &ro = b.grant_page(/*readonly=*/true);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 2, 0, {Bench::seg(ro)})).status, RspStatus::kError);
	// ...but serves a write from it.
	EXPECT_EQ(b.roundtrip(b.rw(Op::kWrite, 3, 0, {Bench::seg(ro)})).status, RspStatus::kOkay);
	// A gref nobody granted.
	blkif::Segment nowhere{GrantRef(5000), 0, 7};
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 4, 0, {nowhere})).status, RspStatus::kError);
	EXPECT_EQ(b.ring().in_flight(), 0u);
	EXPECT_TRUE(b.xen.violations().empty());
}

TEST(BlkbackCopy, ReadsCompletedTogetherCopyBackInOneCallAndFailAlone)
{
	Bench b;
	connect_copying(b);
	for (unsigned i = 0; i < 3 * 8 * 512; i++)
		b.disk().data()[i] = static_cast<unsigned char>(i * 3 + 1);
	FrontPage *dst[3];
	for (unsigned i = 0; i < 3; i++) {
		dst[i] = &b.grant_page();
		b.push(b.rw(Op::kRead, i, 8 * i, {Bench::seg(*dst[i])}));
	}
	b.xen.fail_copy(dst[1]->ref, host::gntst::kBadGntref, 1);
	b.xen.run_pending_irqs();
	b.ring().run_once();
	ASSERT_EQ(b.xen.bios_in_flight(), 3u);
	const size_t calls = b.xen.gnttab().copy_calls;
	EXPECT_EQ(b.xen.complete_bios(), 3u);
	b.ring().run_once();
	EXPECT_EQ(b.xen.gnttab().copy_calls - calls, 1u);
	auto rs = b.responses();
	ASSERT_EQ(rs.size(), 3u);
	for (const auto &r : rs) {
		const uint64_t i = r.id.raw();
		EXPECT_EQ(r.status, i == 1 ? RspStatus::kError : RspStatus::kOkay) << i;
		if (i != 1) {
			EXPECT_EQ(memcmp(dst[i]->bytes(), b.disk().data() + i * 8 * 512, KAPI_PAGE_SIZE), 0)
				<< i;
		}
	}
}

TEST(BlkbackCopy, FailedBioCopiesNothingBack)
{
	Bench b;
	connect_copying(b);
	FrontPage &d = b.grant_page();
	memset(d.bytes(), 0x5a, KAPI_PAGE_SIZE);
	b.disk().fail_next_io(1);
	EXPECT_EQ(b.roundtrip(b.rw(Op::kRead, 1, 0, {Bench::seg(d)})).status, RspStatus::kError);
	EXPECT_EQ(b.xen.gnttab().copy_ops, 0u);
	EXPECT_EQ(d.bytes()[0], 0x5a);
}

TEST(BlkbackCopy, PersistentGrantsKeepTheMapPath)
{
	Bench b;
	connect_copying(b, /*frontend_persistent=*/true);
	FrontPage &a = b.grant_page();
	fill(a.bytes(), KAPI_PAGE_SIZE, 6);
	for (int r = 0; r < 3; r++)
		ASSERT_EQ(b.roundtrip(b.rw(Op::kWrite, r, 0, {Bench::seg(a)})).status, RspStatus::kOkay);
	EXPECT_EQ(b.xen.gnttab().copy_ops, 0u);
	EXPECT_EQ(b.be->grant_stats().maps, 1u);
	EXPECT_EQ(b.be->grant_stats().hits, 2u);
}

TEST(BlkbackCopy, ParameterOffMapsAsBefore)
{
	Bench b;
	host::blkback_params().grant_copy = false;
	FrontendOptions o;
	o.persistent = false;
	b.connect(o);
	FrontPage &a = b.grant_page();
	ASSERT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 0, {Bench::seg(a)})).status, RspStatus::kOkay);
	EXPECT_EQ(b.xen.gnttab().copy_ops, 0u);
	EXPECT_EQ(b.be->grant_stats().maps, 1u);
}

TEST(BlkbackCopy, IndirectDescriptorsAreCopiedNotMapped)
{
	Bench b;
	connect_copying(b);
	const host::GnttabStats before = b.xen.gnttab();
	FrontPage &ind = b.grant_page(/*readonly=*/true);
	std::vector<FrontPage *> pages;
	for (unsigned i = 0; i < 12; i++) {
		FrontPage &p = b.grant_page();
		fill(p.bytes(), KAPI_PAGE_SIZE, 50 + i);
		pages.push_back(&p);
		ASSERT_TRUE(blkif::encode_indirect_segment(ind.bytes(), i, Bench::seg(p)).is_ok());
	}
	GrantRef ref(ind.ref);
	auto req = blkif::make_indirect(Op::kWrite, blkif::RequestId(1), blkif::Vdev(51712), Sector(0), 12, &ref);
	ASSERT_EQ(b.roundtrip(req).status, RspStatus::kOkay);
	for (unsigned i = 0; i < 12; i++)
		EXPECT_EQ(memcmp(b.disk().data() + i * 8 * 512, pages[i]->bytes(), KAPI_PAGE_SIZE), 0) << i;
	EXPECT_EQ(b.xen.gnttab().map_ops, before.map_ops);
	EXPECT_EQ(b.xen.gnttab().copy_ops - before.copy_ops, 13u);

	// A descriptor page that will not copy fails the request before any I/O.
	b.xen.fail_copy(ind.ref, host::gntst::kBadGntref, 1);
	req = blkif::make_indirect(Op::kWrite, blkif::RequestId(2), blkif::Vdev(51712), Sector(0), 12, &ref);
	EXPECT_EQ(b.roundtrip(req).status, RspStatus::kError);
	EXPECT_EQ(b.disk().stats().writes, 1u);
	EXPECT_EQ(b.ring().in_flight(), 0u);
}

// 32 slots x 11 segments = 352 pages: two indirect requests of 200
// segments in flight at once cannot both have them, so the second maps.
TEST(BlkbackCopy, RequestsBeyondThePoolTakeTheMapPath)
{
	Bench b;
	connect_copying(b);
	constexpr unsigned kSegs = 200;
	FrontPage *ind[2];
	std::vector<FrontPage *> pages[2];
	for (unsigned r = 0; r < 2; r++) {
		ind[r] = &b.grant_page();
		for (unsigned i = 0; i < kSegs; i++) {
			FrontPage &p = b.grant_page();
			fill(p.bytes(), KAPI_PAGE_SIZE, 100 + r * kSegs + i);
			pages[r].push_back(&p);
			// One sector each: 400 of them fit the 2048-sector disk.
			ASSERT_TRUE(blkif::encode_indirect_segment(ind[r]->bytes(), i, Bench::seg(p, 0, 0)).is_ok());
		}
	}
	for (unsigned r = 0; r < 2; r++) {
		GrantRef ref(ind[r]->ref);
		b.push(blkif::make_indirect(Op::kWrite, blkif::RequestId(r), blkif::Vdev(51712),
					    Sector(r * kSegs), kSegs, &ref));
	}
	// Both dispatched before either completes.
	b.xen.run_pending_irqs();
	b.ring().run_once();
	EXPECT_EQ(b.ring().in_flight(), 2u);
	const host::GnttabStats mid = b.xen.gnttab();
	EXPECT_EQ(mid.copy_ops, kSegs + 2);	// + both descriptor pages
	EXPECT_EQ(b.be->grant_stats().mapped, kSegs);	// the second request's pages
	b.pump();
	auto rs = b.responses();
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_EQ(rs[0].status, RspStatus::kOkay);
	EXPECT_EQ(rs[1].status, RspStatus::kOkay);
	for (unsigned r = 0; r < 2; r++)
		for (unsigned i = 0; i < kSegs; i++)
			ASSERT_EQ(memcmp(b.disk().data() + (r * kSegs + i) * 512, pages[r][i]->bytes(), 512), 0)
				<< r << " " << i;
	EXPECT_EQ(b.be->grant_stats().mapped, 0u);
}

TEST(BlkbackCopy, DisconnectFreesEveryPageOfThePool)
{
	Bench b;
	const size_t live_before = connect_copying_counted(b);
	ASSERT_EQ(b.be->state(), KAPI_XENBUS_CONNECTED);
	// The pool: 32 slots x 11 pages, and more.
	EXPECT_GE(host::alloc_stats().live - live_before, 352u);
	FrontPage &a = b.grant_page();
	ASSERT_EQ(b.roundtrip(b.rw(Op::kWrite, 1, 0, {Bench::seg(a)})).status, RspStatus::kOkay);
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	EXPECT_EQ(b.be->nr_rings(), 0u);
	// Only the frontend's own data page is left beyond what was there.
	EXPECT_EQ(host::alloc_stats().live, live_before + 1);
}

TEST(BlkbackCopy, RetiringRingCopiesReadsBackThenFreesThePool)
{
	Bench b;
	const size_t live_before = connect_copying_counted(b);
	b.disk().data()[0] = 0x42;
	FrontPage &d = b.grant_page();
	b.push(b.rw(Op::kRead, 1, 0, {Bench::seg(d)}));
	b.xen.run_pending_irqs();
	b.ring().run_once();
	ASSERT_EQ(b.xen.bios_in_flight(), 1u);
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	EXPECT_EQ(b.be->nr_retiring(), 1u);
	EXPECT_EQ(b.xen.complete_bios(), 1u);
	host::run_works();
	EXPECT_EQ(b.be->nr_retiring(), 0u);
	EXPECT_EQ(d.bytes()[0], 0x42);
	EXPECT_EQ(b.responses().size(), 1u);
	EXPECT_EQ(host::alloc_stats().live, live_before + 1);	// the frontend's page
}

} // namespace
} // namespace xbc::test
