// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_blkback: the shipped blkback data path (BackendRing in
// blkback/backend_ring.cpp, with the Backend, Device, GrantMapper and
// GrantCopier it uses) serving a frontend built on the kernel's own ring.h
// macros (kunit/kernel_blkif.c). Its ring thread is a real kthread, its
// irq handler runs in hard-irq context, its bios complete in hard-irq
// context and move real bytes to and from a fake disk (kunit/fake_kapi.c);
// grants come from kunit/fake_gnttab.c, where a mapping shows the bytes of
// the page the test offered. Every case ends by destroying the ring and
// checking that no grant, ring, irq, bio, page or module pin is left.
#include "blkback/backend.hpp"
#include "blkback/backend_ring.hpp"
#include "kapi/thread.h"
#include "fake_checks.hpp"
#include "kernel_blkif.h"

namespace xbc::kunit {
namespace {

using blkback::Backend;
using blkback::BackendRing;
using blkback::Device;
using blkback::FrontendRingKeys;
using blkback::VbdParams;
using blkif::Op;

constexpr uint64_t kDiskSectors = 2048;	// 1 MiB
constexpr uint32_t kRingRef = 1;
constexpr uint32_t kFirstPeerRef = 100;
constexpr unsigned kMaxPeerPages = 80;
constexpr int16_t kOkay = 0, kError = -1, kEopnotsupp = -2;
constexpr int16_t kNoAnswer = 0x7777;	// no blkif status

struct BackOptions {
	bool persistent = true;
	bool grant_copy = false;
};

// A connected ring: the fake disk, a Backend and Device as the control
// path would make them, the ring thread running, and the test as frontend.
class BackBench {
public:
	BackBench(struct kunit *t, const BackOptions &o) noexcept : test(t)
	{
		xbc_fake_gnttab_reset();
		if (xbc_fake_disk_create(kDiskSectors) != 0)
			return;
		disk_ = true;
		ring_page_ = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!ring_page_)
			return;
		xbc_fake_gnttab_peer_offer_page(kRingRef, ring_page_, false);
		kf_ = xbc_kunit_kfront_create(kapi_page_address(ring_page_), 0);
		if (!kf_)
			return;
		// Not probe(): the fake xenbus has no xenstore to advertise in.
		auto be = Backend::create(xbc_fake_xenbus_back());
		if (be.is_error())
			return;
		be_ = be.take();
		auto dev = Device::open(8, 16, false, false, this);
		if (dev.is_error())
			return;
		device_ = dev.take();

		VbdParams s = VbdParams::snapshot(1);
		s.grant_copy = o.grant_copy;
		FrontendRingKeys setup = {};
		setup.index = 0;
		setup.abi = blkif::Abi::kNative;
		setup.nr_pages = 1;
		setup.refs[0] = GrantRef(kRingRef);
		setup.port = EvtchnPort(7);
		setup.persistent = o.persistent;
		auto ring = BackendRing::create(*be_, s, setup);
		if (ring.is_error())
			return;
		ring_ = ring.take();
		irq_ = xbc_fake_evtchn_last_bound();
		ok_ = irq_ != nullptr && ring_->start("xbc_kt_ring", *device_).is_ok();
	}

	~BackBench() { finish(); }

	[[nodiscard]] bool ok() const noexcept { return ok_; }
	BackendRing &ring() noexcept { return *ring_; }

	// A page the frontend grants as the next ref (consecutive refs).
	uint32_t offer(bool readonly) noexcept
	{
		if (nr_pages_ == kMaxPeerPages)
			return 0;
		kapi_page *p = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!p)
			return 0;
		const uint32_t ref = kFirstPeerRef + nr_pages_;
		pages_[nr_pages_++] = p;
		xbc_fake_gnttab_peer_offer_page(ref, p, readonly);
		return ref;
	}
	// The granted bytes as the frontend sees them now.
	static unsigned char *bytes(uint32_t ref) noexcept
	{
		return static_cast<unsigned char *>(xbc_fake_gnttab_peer_view(ref));
	}

	bool push_rw(Op op, uint64_t id, uint64_t sector, uint32_t first_ref, unsigned n,
		     uint8_t first_sect = 0, uint8_t last_sect = 7) noexcept
	{
		xbc_kunit_rw_view rw = {};
		rw.operation = uint8_t(op);
		rw.nr_segments = uint8_t(n);
		rw.handle = 51712;
		rw.id = id;
		rw.sector = sector;
		for (unsigned i = 0; i < n && i < 11; i++) {
			rw.gref[i] = first_ref + i;
			rw.first_sect[i] = first_sect;
			rw.last_sect[i] = last_sect;
		}
		return xbc_kunit_kfront_queue_rw(kf_, &rw);
	}
	bool push_indirect(Op op, uint64_t id, uint64_t sector, uint16_t nr_segs,
			   uint32_t indirect_ref) noexcept
	{
		return xbc_kunit_kfront_queue_indirect(kf_, uint8_t(op), nr_segs, id, sector,
						       &indirect_ref, 1);
	}
	// Publishes; signals the backend if the ring protocol says so.
	void kick() noexcept
	{
		if (xbc_kunit_kfront_push(kf_))
			xbc_fake_evtchn_fire(irq_);
	}
	void lie_req_prod(uint32_t extra) noexcept
	{
		xbc_kunit_kfront_lie_req_prod(kf_, extra);
		xbc_fake_evtchn_fire(irq_);
	}
	// Collects up to n responses, waiting for them at most `polls` times
	// 10 ms (5 s by default).
	unsigned responses(uint64_t *ids, int16_t *status, unsigned n, unsigned polls = 500) noexcept
	{
		unsigned got = 0;
		for (unsigned waited = 0; got < n && waited < polls; waited++) {
			got += xbc_kunit_kfront_take_responses(kf_, ids + got, status + got, n - got);
			if (got < n)
				kapi_msleep(10);
		}
		return got;
	}
	// One read or write, pushed and answered: the answer's status.
	int16_t rw(Op op, uint64_t id, uint64_t sector, uint32_t first_ref, unsigned n,
		   uint8_t first_sect = 0, uint8_t last_sect = 7) noexcept
	{
		if (!XK_EXPECT(push_rw(op, id, sector, first_ref, n, first_sect, last_sect)))
			return kNoAnswer;
		kick();
		return answer(id);
	}
	// One request's answer: its status, or kNoAnswer if none came.
	int16_t answer(uint64_t id) noexcept
	{
		uint64_t got_id = 0;
		int16_t status = kNoAnswer;
		if (responses(&got_id, &status, 1) != 1 || !XK_EXPECT_EQ(got_id, id))
			return kNoAnswer;
		return status;
	}

	// Destroys the ring and everything else, then checks the books.
	void finish() noexcept
	{
		if (finished_)
			return;
		finished_ = true;
		ring_.reset();
		device_.reset();
		be_.reset();
		xbc_kunit_kfront_destroy(kf_);
		kf_ = nullptr;
		expect_no_xen_left(test);
		const xbc_fake_disk_stats d = disk_stats();
		XK_EXPECT_EQ(d.opens, 0);
		XK_EXPECT_EQ(d.bios_in_flight, 0);
		XK_EXPECT_EQ(xbc_fake_blkback_module_pins(), 0);
		for (unsigned i = 0; i < nr_pages_; i++)
			kapi_page_free(pages_[i]);
		nr_pages_ = 0;
		kapi_page_free(ring_page_);
		ring_page_ = nullptr;
		if (disk_)
			xbc_fake_disk_destroy();
		disk_ = false;
	}

	struct kunit *test;

private:
	bool ok_ = false;
	bool finished_ = false;
	bool disk_ = false;
	kapi_page *ring_page_ = nullptr;
	xbc_kunit_kfront *kf_ = nullptr;
	Box<Backend> be_;
	Box<Device> device_;
	Box<BackendRing> ring_;
	kapi_irq *irq_ = nullptr;
	kapi_page *pages_[kMaxPeerPages] = {};
	unsigned nr_pages_ = 0;
};

unsigned char pattern(uint64_t byte_on_disk, unsigned salt) noexcept
{
	return static_cast<unsigned char>((byte_on_disk * 7 + salt + (byte_on_disk >> 9)) & 0xff);
}

// Fills n consecutive refs' pages with what the disk should hold from `sector`.
void fill(uint32_t first_ref, unsigned n, uint64_t sector, unsigned salt) noexcept
{
	for (unsigned i = 0; i < n; i++) {
		unsigned char *b = BackBench::bytes(first_ref + i);
		for (unsigned j = 0; j < KAPI_PAGE_SIZE; j++)
			b[j] = pattern(sector * 512 + i * KAPI_PAGE_SIZE + j, salt);
	}
}

// Bytes [from, from + len) of the disk hold the pattern written from `sector`.
bool disk_holds(uint64_t sector, size_t len, unsigned salt) noexcept
{
	const unsigned char *d = xbc_fake_disk_data() + sector * 512;
	for (size_t j = 0; j < len; j++) {
		if (d[j] != pattern(sector * 512 + j, salt))
			return false;
	}
	return true;
}

// n consecutive refs' pages hold the disk's bytes from `sector`.
bool pages_hold_disk(uint32_t first_ref, unsigned n, uint64_t sector, unsigned offset = 0,
		     unsigned len = KAPI_PAGE_SIZE) noexcept
{
	const unsigned char *d = xbc_fake_disk_data() + sector * 512;
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *b = BackBench::bytes(first_ref + i);
		if (!b)
			return false;
		for (unsigned j = 0; j < len; j++) {
			if (b[offset + j] != d[size_t(i) * len + j])
				return false;
		}
	}
	return true;
}

bool disk_all_zero() noexcept
{
	const unsigned char *d = xbc_fake_disk_data();
	for (size_t j = 0; j < kDiskSectors * 512; j++) {
		if (d[j])
			return false;
	}
	return true;
}

// A write then a read back, each through the real thread, mapper and bios.
// A frontend grants a write's pages read-only, except with persistent
// grants (the backend keeps those mapped writable, as in-tree).
void write_read_back(BackBench &b, struct kunit *test, unsigned nr, uint64_t sector,
		     bool ro_writes) noexcept
{
	const uint32_t w = b.offer(ro_writes);
	for (unsigned i = 1; i < nr; i++)
		b.offer(ro_writes);
	fill(w, nr, sector, 3);
	XK_ASSERT_EQ(b.rw(Op::kWrite, 11, sector, w, nr), kOkay);
	XK_EXPECT(disk_holds(sector, nr * KAPI_PAGE_SIZE, 3));

	const uint32_t r = b.offer(false);
	for (unsigned i = 1; i < nr; i++)
		b.offer(false);
	XK_ASSERT_EQ(b.rw(Op::kRead, 12, sector, r, nr), kOkay);
	XK_EXPECT(pages_hold_disk(r, nr, sector));

	// Part of a page: sectors 2..5 of the segment, from one sector on.
	const uint32_t part = b.offer(false);
	XK_ASSERT_EQ(b.rw(Op::kRead, 13, sector + 1, part, 1, 2, 5), kOkay);
	XK_EXPECT(pages_hold_disk(part, 1, sector + 1, 2 * 512, 4 * 512));
	XK_EXPECT_EQ(BackBench::bytes(part)[0], 0);
	XK_EXPECT_EQ(BackBench::bytes(part)[6 * 512], 0);
}

} // namespace

// Persistent grants: the data pages stay mapped after the answers, and
// the teardown unmaps them all.
XBC_KUNIT_CASE(backend_rw_persistent)
{
	BackBench b(test, BackOptions{true, false});
	XK_ASSERT(b.ok());
	write_read_back(b, test, 3, 64, false);
	const xbc_fake_gnttab_stats g = gnttab_stats();
	XK_EXPECT_EQ(g.live_maps, 3 + 3 + 1);
	XK_EXPECT_EQ(g.unmap_ops, 0);
	XK_EXPECT_EQ(b.ring().io_stats().wr_req, 1);
	XK_EXPECT_EQ(b.ring().io_stats().rd_req, 2);
	b.finish();
}

// Without persistent grants, and with grant copy off: map, bio, unmap.
XBC_KUNIT_CASE(backend_rw_transient_maps)
{
	BackBench b(test, BackOptions{false, false});
	XK_ASSERT(b.ok());
	write_read_back(b, test, 11, 200, true);
	const xbc_fake_gnttab_stats g = gnttab_stats();
	XK_EXPECT_EQ(g.live_maps, 0);
	XK_EXPECT_EQ(g.map_ops, 11 + 11 + 1);
	XK_EXPECT_EQ(g.unmap_ops, g.map_ops);
	b.finish();
}

// Grant copy: the data moves by kapi_gnttab_copy, nothing is mapped.
XBC_KUNIT_CASE(backend_rw_grant_copy)
{
	BackBench b(test, BackOptions{false, true});
	XK_ASSERT(b.ok());
	write_read_back(b, test, 4, 300, true);
	const xbc_fake_gnttab_stats g = gnttab_stats();
	XK_EXPECT_EQ(g.map_ops, 0);
	XK_EXPECT(g.copy_ops >= 4 + 4 + 1);
	XK_EXPECT_EQ(g.copy_failures, 0);
	b.finish();
}

// An indirect write of 20 segments and its read back, transient maps: the
// descriptor page is mapped, read once and unmapped like the data.
XBC_KUNIT_CASE(backend_indirect)
{
	BackBench b(test, BackOptions{false, false});
	XK_ASSERT(b.ok());
	constexpr unsigned kSegs = 20;
	constexpr uint64_t kSector = 512;
	const uint32_t wdesc = b.offer(true);
	const uint32_t w = b.offer(true);
	for (unsigned i = 1; i < kSegs; i++)
		b.offer(true);
	xbc_kunit_kernel_blkif_put_indirect_segs(BackBench::bytes(wdesc), kSegs, w, 0, 7);
	fill(w, kSegs, kSector, 5);
	XK_ASSERT(b.push_indirect(Op::kWrite, 21, kSector, kSegs, wdesc));
	b.kick();
	XK_ASSERT_EQ(b.answer(21), kOkay);
	XK_EXPECT(disk_holds(kSector, kSegs * KAPI_PAGE_SIZE, 5));

	const uint32_t rdesc = b.offer(true);
	const uint32_t r = b.offer(false);
	for (unsigned i = 1; i < kSegs; i++)
		b.offer(false);
	xbc_kunit_kernel_blkif_put_indirect_segs(BackBench::bytes(rdesc), kSegs, r, 0, 7);
	XK_ASSERT(b.push_indirect(Op::kRead, 22, kSector, kSegs, rdesc));
	b.kick();
	XK_ASSERT_EQ(b.answer(22), kOkay);
	XK_EXPECT(pages_hold_disk(r, kSegs, kSector));

	const xbc_fake_gnttab_stats g = gnttab_stats();
	XK_EXPECT_EQ(g.live_maps, 0);
	XK_EXPECT_EQ(g.map_ops, 2 * (kSegs + 1));
	b.finish();
}

// Requests the backend must refuse: each answered with an error, no bio
// issued, nothing written, nothing left mapped. Then a producer index
// beyond the ring halts it.
XBC_KUNIT_CASE(backend_refuses_malformed)
{
	BackBench b(test, BackOptions{true, false});
	XK_ASSERT(b.ok());
	const uint32_t ro = b.offer(true);
	const uint32_t rw = b.offer(false);
	fill(ro, 1, 0, 9);
	fill(rw, 1, 0, 9);

	// Sectors backwards within the segment.
	XK_EXPECT_EQ(b.rw(Op::kWrite, 31, 0, rw, 1, 5, 2), kError);
	// Past the end of the disk.
	XK_EXPECT_EQ(b.rw(Op::kWrite, 32, kDiskSectors - 4, rw, 1), kError);
	// A read into a page granted read-only: the writable map fails.
	XK_EXPECT_EQ(b.rw(Op::kRead, 33, 0, ro, 1), kError);
	// A grant the frontend never offered.
	XK_EXPECT_EQ(b.rw(Op::kWrite, 34, 0, 4000, 1), kError);
	// An operation blkif does not know.
	XK_EXPECT_EQ(b.rw(Op(0xee), 35, 0, rw, 1), kEopnotsupp);

	XK_EXPECT_EQ(disk_stats().bios, 0);
	XK_EXPECT(disk_all_zero());
	const xbc_fake_gnttab_stats g = gnttab_stats();
	XK_EXPECT_EQ(g.live_maps, 0);
	XK_EXPECT(!b.ring().broken());

	// A producer a whole ring ahead of what it queued: halted, silent.
	b.lie_req_prod(b.ring().size() + 1);
	for (unsigned waited = 0; !b.ring().broken() && waited < 500; waited++)
		kapi_msleep(10);
	XK_EXPECT(b.ring().broken());
	uint64_t id;
	int16_t status;
	XK_EXPECT_EQ(b.responses(&id, &status, 1, 20), 0);
	b.finish();
}

} // namespace xbc::kunit
