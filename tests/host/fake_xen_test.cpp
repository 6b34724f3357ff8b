// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: one test per rule the engine tests rely on.
// Tests of the fake Xen itself (tests/host/support/fake_xen.*): engine tests
// trust it to behave like Xen, so its sharing, failure and pumping rules are
// checked here first.
#include <errno.h>
#include <string.h>

#include <gtest/gtest.h>

#include "support/fake_xen.hpp"
#include "support/kapi_host.hpp"
#include "support/page_arena.hpp"

namespace xbc::host {
namespace {

constexpr uint16_t kFront = 1;
constexpr uint16_t kBack = 0;

unsigned char *bytes(kapi_page *p) { return static_cast<unsigned char *>(kapi_page_address(p)); }

// A frontend page granted to dom0 and a backend page to map it on.
struct GrantedPage {
	kapi_page *front = nullptr;
	kapi_page *back = nullptr;
	uint32_t ref = UINT32_MAX;

	explicit GrantedPage(bool readonly = false)
	{
		front = kapi_page_alloc(KAPI_GFP_KERNEL);
		EXPECT_NE(front, nullptr);
		EXPECT_EQ(kapi_gnttab_grant_page(kBack, front, readonly, &ref), 0);
		EXPECT_EQ(kapi_gnttab_alloc_pages(1, &back), 0);
	}
	kapi_grant_map map_op(bool readonly = false) const
	{
		kapi_grant_map op{};
		op.ref = ref;
		op.domid = kFront;
		op.readonly = readonly;
		op.page = back;
		return op;
	}
	void release()
	{
		EXPECT_TRUE(kapi_gnttab_try_end_access(ref));
		kapi_page_free(front);
		kapi_gnttab_free_pages(1, &back);
	}
};

void unmap(kapi_page *page, uint32_t handle, int16_t expect = gntst::kOkay)
{
	kapi_grant_unmap u{page, handle, 99};
	ASSERT_EQ(kapi_gnttab_unmap(&u, 1), 0);
	EXPECT_EQ(u.status, expect);
}

TEST(FakeGnttab, BackendWritesAreSeenByTheFrontendWithoutCopy)
{
	FakeXen fake;
	GrantedPage g;
	bytes(g.front)[10] = 0x5a;
	kapi_grant_map op = g.map_op();
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	ASSERT_EQ(op.status, gntst::kOkay);
	EXPECT_EQ(bytes(g.back)[10], 0x5a);	// frontend data visible to the backend
	memset(bytes(g.back) + 100, 0xc3, 200);
	EXPECT_EQ(bytes(g.front)[100], 0xc3);	// and the other way
	EXPECT_EQ(bytes(g.front)[299], 0xc3);
	EXPECT_EQ(fake.map_count(g.ref), 1u);
	unmap(g.back, op.handle);
	// Unmapped: the backend page is its own (zeroed) memory again.
	EXPECT_EQ(bytes(g.back)[100], 0);
	bytes(g.back)[100] = 1;
	EXPECT_EQ(bytes(g.front)[100], 0xc3);
	g.release();
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeGnttab, PersistentMappingStaysSharedAcrossManyWrites)
{
	FakeXen fake;
	GrantedPage g;
	kapi_grant_map op = g.map_op();
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	for (int round = 0; round < 50; round++) {
		bytes(g.front)[round] = static_cast<unsigned char>(round + 1);
		EXPECT_EQ(bytes(g.back)[round], round + 1);
		bytes(g.back)[4095 - round] = static_cast<unsigned char>(round);
		EXPECT_EQ(bytes(g.front)[4095 - round], round);
	}
	unmap(g.back, op.handle);
	g.release();
}

TEST(FakeGnttab, TryEndAccessFailsWhileMapped)
{
	FakeXen fake;
	GrantedPage g;
	kapi_grant_map op = g.map_op();
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	EXPECT_FALSE(kapi_gnttab_try_end_access(g.ref));
	EXPECT_TRUE(fake.is_granted(g.ref));
	EXPECT_EQ(fake.gnttab().try_end_refused, 1u);
	unmap(g.back, op.handle);
	g.release();
	EXPECT_FALSE(fake.is_granted(g.ref));
}

TEST(FakeGnttab, BadRefsFailOnlyTheirOwnOperation)
{
	FakeXen fake;
	GrantedPage a, b, ro(/*readonly=*/true);
	kapi_page *spare[2];
	ASSERT_EQ(kapi_gnttab_alloc_pages(2, spare), 0);
	kapi_grant_map ops[5] = {a.map_op(), b.map_op(), ro.map_op(/*readonly=*/false), ro.map_op(true),
				 a.map_op()};
	ops[1].ref = 7777;		// never granted
	ops[2].page = spare[0];		// write map of a read-only grant
	ops[3].page = spare[1];		// read-only map of it: fine
	ops[4].page = b.back;
	ops[4].domid = 5;		// wrong granting domain
	ASSERT_EQ(kapi_gnttab_map(ops, 5), 0);
	EXPECT_EQ(ops[0].status, gntst::kOkay);
	EXPECT_EQ(ops[1].status, gntst::kBadGntref);
	EXPECT_EQ(ops[2].status, gntst::kPermissionDenied);
	EXPECT_EQ(ops[3].status, gntst::kOkay);
	EXPECT_EQ(ops[4].status, gntst::kPermissionDenied);
	EXPECT_NE(ops[0].handle, ops[3].handle);
	const GnttabStats st = fake.gnttab();
	EXPECT_EQ(st.map_calls, 1u);
	EXPECT_EQ(st.map_ops, 5u);
	EXPECT_EQ(st.map_failures, 3u);
	EXPECT_EQ(st.live_mappings, 2u);

	// Unmap with one bad handle in the batch: only that one fails.
	kapi_grant_unmap un[3] = {{a.back, ops[0].handle, 9}, {b.back, 0xdead, 9}, {spare[1], ops[3].handle, 9}};
	ASSERT_EQ(kapi_gnttab_unmap(un, 3), 0);
	EXPECT_EQ(un[0].status, gntst::kOkay);
	EXPECT_EQ(un[1].status, gntst::kBadHandle);
	EXPECT_EQ(un[2].status, gntst::kOkay);
	EXPECT_EQ(fake.gnttab().unmap_failures, 1u);
	kapi_gnttab_free_pages(2, spare);
	a.release();
	b.release();
	ro.release();
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeGnttab, EndedRefIsABadRef)
{
	FakeXen fake;
	GrantedPage g;
	ASSERT_TRUE(kapi_gnttab_try_end_access(g.ref));
	kapi_grant_map op = g.map_op();
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	EXPECT_EQ(op.status, gntst::kBadGntref);
	kapi_page_free(g.front);
	kapi_gnttab_free_pages(1, &g.back);
}

TEST(FakeGnttab, InjectedMapFailureHitsChosenRefOnly)
{
	FakeXen fake;
	GrantedPage a, b;
	fake.fail_map(b.ref, gntst::kGeneralError, /*times=*/1);
	kapi_grant_map ops[2] = {a.map_op(), b.map_op()};
	ASSERT_EQ(kapi_gnttab_map(ops, 2), 0);
	EXPECT_EQ(ops[0].status, gntst::kOkay);
	EXPECT_EQ(ops[1].status, gntst::kGeneralError);
	kapi_grant_map again = b.map_op();
	ASSERT_EQ(kapi_gnttab_map(&again, 1), 0);	// one-shot: now it works
	EXPECT_EQ(again.status, gntst::kOkay);
	unmap(a.back, ops[0].handle);
	unmap(b.back, again.handle);
	a.release();
	b.release();
}

TEST(FakeGnttab, DeferredEndFreesThePageAtLastUnmap)
{
	FakeXen fake;
	GrantedPage g;
	kapi_grant_map op = g.map_op();
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	const size_t live_before = alloc_stats().live;
	kapi_gnttab_end_access_deferred(g.ref, g.front);
	EXPECT_EQ(fake.gnttab().deferred_pending, 1u);
	EXPECT_EQ(alloc_stats().live, live_before);	// page kept while mapped
	bytes(g.back)[0] = 7;				// still safe to touch
	kapi_grant_map late = g.map_op();
	kapi_page *other;
	ASSERT_EQ(kapi_gnttab_alloc_pages(1, &other), 0);
	late.page = other;
	ASSERT_EQ(kapi_gnttab_map(&late, 1), 0);
	EXPECT_EQ(late.status, gntst::kBadGntref);	// no new maps of an ended grant
	kapi_gnttab_free_pages(1, &other);
	unmap(g.back, op.handle);
	EXPECT_EQ(fake.gnttab().deferred_pending, 0u);
	EXPECT_EQ(fake.gnttab().deferred_freed, 1u);
	EXPECT_EQ(alloc_stats().live, live_before - 1);
	kapi_gnttab_free_pages(1, &g.back);
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeGnttab, ReadOnlyMappingIsReadOnly)
{
	FakeXen fake;
	GrantedPage g(/*readonly=*/true);
	bytes(g.front)[1] = 42;
	kapi_grant_map op = g.map_op(/*readonly=*/true);
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	ASSERT_EQ(op.status, gntst::kOkay);
	EXPECT_EQ(bytes(g.back)[1], 42);
	EXPECT_DEATH(bytes(g.back)[1] = 0, "");
	unmap(g.back, op.handle);
	g.release();
}

TEST(FakeGnttab, MisuseIsRecordedAsViolations)
{
	FakeXen fake;
	GrantedPage g;
	kapi_page *plain = kapi_page_alloc(KAPI_GFP_KERNEL);
	kapi_grant_map op = g.map_op();
	op.page = plain;			// not from gnttab_alloc_pages
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	EXPECT_EQ(op.status, gntst::kGeneralError);
	kapi_page_free(g.front);		// still granted!
	auto v = fake.take_violations();
	ASSERT_EQ(v.size(), 2u);
	EXPECT_NE(v[1].find("still granted"), std::string::npos);
	kapi_gnttab_end_access_deferred(g.ref, nullptr);
	kapi_page_free(plain);
	kapi_gnttab_free_pages(1, &g.back);
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeGnttab, GrantLimitGivesEnospcAndAllocFailuresAreInjected)
{
	FakeXen fake;
	fake.set_grant_limit(1);
	kapi_page *p = kapi_page_alloc(KAPI_GFP_KERNEL);
	uint32_t r1, r2;
	ASSERT_EQ(kapi_gnttab_grant_page(kBack, p, false, &r1), 0);
	EXPECT_EQ(r1, kFirstGrantRef);
	EXPECT_EQ(kapi_gnttab_grant_page(kBack, p, false, &r2), -ENOSPC);
	EXPECT_TRUE(kapi_gnttab_try_end_access(r1));
	kapi_page_free(p);

	kapi_page *pages[3];
	fail_allocs_after(2);
	EXPECT_EQ(kapi_gnttab_alloc_pages(3, pages), -ENOMEM);
	clear_alloc_failure();
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeGnttab, OversizedBatchIsRefusedWhole)
{
	FakeXen fake;
	kapi_grant_map ops[KAPI_GNTTAB_MAX_BATCH + 1] = {};
	EXPECT_EQ(kapi_gnttab_map(ops, KAPI_GNTTAB_MAX_BATCH + 1), -EINVAL);
	EXPECT_EQ(fake.gnttab().map_calls, 0u);
	EXPECT_EQ(fake.take_violations().size(), 1u);
}

// ---------------------------------------------------------------- evtchn

struct IrqCounter {
	int runs = 0;
	kapi_irq *self = nullptr;
	bool eoi = true;
	bool spurious = false;
	kapi_irq *notify_back = nullptr;
};

void on_irq(void *ctx) noexcept
{
	auto *c = static_cast<IrqCounter *>(ctx);
	c->runs++;
	if (c->notify_back) {
		kapi_evtchn_notify(c->notify_back);
		c->notify_back = nullptr;
	}
	if (c->eoi)
		kapi_evtchn_lateeoi(c->self, c->spurious);
}

TEST(FakeEvtchn, NotifyRunsThePeerOnlyWhenPumped)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	IrqCounter fe, be;
	uint32_t port;
	ASSERT_EQ(kapi_evtchn_alloc_bind(vbd.front, on_irq, &fe, "blkif-fe", &port, &fe.self), 0);
	EXPECT_FALSE(fake.irq(port).connected);
	ASSERT_EQ(kapi_evtchn_bind_interdomain(vbd.back, port, on_irq, &be, "blkif-be", &be.self), 0);
	EXPECT_TRUE(fake.irq(port).connected);

	kapi_evtchn_notify(fe.self);
	EXPECT_EQ(be.runs, 0);			// nothing runs until pumped
	be.notify_back = be.self;		// backend answers on its end
	EXPECT_EQ(fake.run_pending_irqs(), 2u);
	EXPECT_EQ(be.runs, 1);
	EXPECT_EQ(fe.runs, 1);
	EXPECT_EQ(fake.irq(port).notifies_sent, 1u);

	// A kick with no work: the handler reports it spurious.
	be.spurious = true;
	fake.raise(*fake.port_by_name("blkif-be"));
	EXPECT_EQ(fake.run_pending_irqs(), 1u);
	const IrqInfo bi = fake.irq(*fake.port_by_name("blkif-be"));
	EXPECT_EQ(bi.eois, 2u);
	EXPECT_EQ(bi.spurious_eois, 1u);

	kapi_evtchn_unbind(be.self);
	EXPECT_FALSE(fake.irq(port).connected);
	kapi_evtchn_notify(fe.self);		// to nobody: lost, no crash
	kapi_evtchn_unbind(fe.self);
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeEvtchn, HandlerStaysMaskedUntilLateEoi)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	IrqCounter fe, be;
	be.eoi = false;				// like a backend that EOIs from its thread
	uint32_t port;
	ASSERT_EQ(kapi_evtchn_alloc_bind(vbd.front, on_irq, &fe, "fe", &port, &fe.self), 0);
	ASSERT_EQ(kapi_evtchn_bind_interdomain(vbd.back, port, on_irq, &be, "be", &be.self), 0);
	kapi_evtchn_notify(fe.self);
	EXPECT_EQ(fake.run_pending_irqs(), 1u);
	kapi_evtchn_notify(fe.self);
	EXPECT_EQ(fake.run_pending_irqs(), 0u);	// masked: awaiting EOI
	EXPECT_TRUE(fake.irq(*fake.port_by_name("be")).pending);
	kapi_evtchn_lateeoi(be.self, false);
	EXPECT_EQ(fake.run_pending_irqs(), 1u);	// the held event arrives now
	EXPECT_EQ(be.runs, 2);
	kapi_evtchn_lateeoi(be.self, false);
	kapi_evtchn_unbind(fe.self);
	kapi_evtchn_unbind(be.self);
}

TEST(FakeEvtchn, BindChecksThePortBelongsToThePeer)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	VbdPair other = fake.add_vbd_pair(/*front_domid=*/2, 0, 51728);
	IrqCounter fe, be;
	uint32_t port;
	ASSERT_EQ(kapi_evtchn_alloc_bind(vbd.front, on_irq, &fe, "fe", &port, &fe.self), 0);
	kapi_irq *wrong = nullptr;
	EXPECT_EQ(kapi_evtchn_bind_interdomain(other.back, port, on_irq, &be, "be", &wrong), -EINVAL);
	EXPECT_EQ(kapi_evtchn_bind_interdomain(vbd.back, 999, on_irq, &be, "be", &wrong), -EINVAL);
	ASSERT_EQ(kapi_evtchn_bind_interdomain(vbd.back, port, on_irq, &be, "be", &be.self), 0);
	EXPECT_EQ(kapi_evtchn_bind_interdomain(vbd.back, port, on_irq, &be, "be2", &wrong), -EINVAL);
	EXPECT_EQ(wrong, nullptr);
	kapi_evtchn_unbind(be.self);
	kapi_evtchn_unbind(fe.self);
}

// ---------------------------------------------------------------- xenstore

struct WatchLog {
	std::vector<std::string> paths;
};

void on_watch(void *ctx, const char *path) noexcept { static_cast<WatchLog *>(ctx)->paths.push_back(path); }

TEST(FakeXenstore, ReadWriteRmAndTheE2bigBound)
{
	FakeXen fake;
	ASSERT_EQ(kapi_xenbus_write(KAPI_XBT_NIL, "/a/b", "c", "hello"), 0);
	char buf[6];
	EXPECT_EQ(kapi_xenbus_read(KAPI_XBT_NIL, "/a/b", "c", buf, sizeof(buf)), 5);
	EXPECT_STREQ(buf, "hello");
	EXPECT_EQ(kapi_xenbus_read(KAPI_XBT_NIL, "/a/b", "c", buf, 5), -E2BIG);	// no room for NUL
	EXPECT_EQ(kapi_xenbus_read(KAPI_XBT_NIL, "/a/b/c", "", buf, sizeof(buf)), 5);
	EXPECT_EQ(kapi_xenbus_read(KAPI_XBT_NIL, "/a/b", "missing", buf, sizeof(buf)), -ENOENT);
	EXPECT_EQ(kapi_xenbus_rm(KAPI_XBT_NIL, "/a", ""), 0);		// recursive
	EXPECT_FALSE(fake.xs_read("/a/b/c"));
	EXPECT_EQ(kapi_xenbus_rm(KAPI_XBT_NIL, "/a", ""), -ENOENT);
}

TEST(FakeXenstore, WatchesFireOnRegistrationAndChangesWhenPumped)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	WatchLog log;
	struct kapi_xenbus_watch *w;
	ASSERT_EQ(kapi_xenbus_watch(vbd.back, (vbd.front_path + "/state").c_str(), on_watch, &log, &w), 0);
	EXPECT_TRUE(log.paths.empty());
	EXPECT_EQ(fake.run_watches(), 1u);			// the initial event
	fake.xs_write(vbd.front_path + "/state", "3");
	fake.xs_write(vbd.front_path + "/other", "x");		// not watched
	EXPECT_EQ(fake.pending_watch_events(), 1u);
	EXPECT_EQ(fake.run_watches(), 1u);
	ASSERT_EQ(log.paths.size(), 2u);
	EXPECT_EQ(log.paths[1], vbd.front_path + "/state");
	EXPECT_EQ(fake.xs_read(vbd.front_path + "/state"), "3");
	fake.xs_rm(vbd.front_path);				// parent removed: fires too
	EXPECT_EQ(fake.run_watches(), 1u);
	EXPECT_FALSE(fake.xs_read(vbd.front_path + "/state"));
	fake.xs_write(vbd.front_path + "/state", "4");
	kapi_xenbus_unwatch(w);					// drops its queued events
	EXPECT_EQ(fake.run_watches(), 0u);
	EXPECT_EQ(fake.leftovers(), "");
}

// The retry loop every engine writes around a transaction.
int write_two_keys(const char *dir, int *attempts)
{
	for (;;) {
		(*attempts)++;
		kapi_xbt t;
		int rc = kapi_xenbus_transaction_start(&t);
		if (rc)
			return rc;
		if ((rc = kapi_xenbus_write(t, dir, "ring-ref", "8")) ||
		    (rc = kapi_xenbus_write(t, dir, "event-channel", "3"))) {
			(void)kapi_xenbus_transaction_end(t, true);
			return rc;
		}
		rc = kapi_xenbus_transaction_end(t, false);
		if (rc != -EAGAIN)
			return rc;
	}
}

TEST(FakeXenstore, TransactionRetriesOnEagainAndCommitsOnce)
{
	FakeXen fake;
	WatchLog log;
	struct kapi_xenbus_watch *w;
	ASSERT_EQ(kapi_xenbus_watch(nullptr, "/fe", on_watch, &log, &w), 0);
	fake.run_watches();
	fake.fail_next_commits(2);
	int attempts = 0;
	EXPECT_EQ(write_two_keys("/fe", &attempts), 0);
	EXPECT_EQ(attempts, 3);
	EXPECT_EQ(fake.commits_failed(), 2u);
	EXPECT_EQ(fake.commits(), 1u);
	EXPECT_EQ(*fake.xs_read("/fe/ring-ref"), "8");
	EXPECT_EQ(fake.run_watches(), 2u);	// only the committed writes fired
	kapi_xenbus_unwatch(w);
}

TEST(FakeXenstore, TransactionIsIsolatedAbortDiscardsAndConflictsFail)
{
	FakeXen fake;
	fake.xs_write("/k", "old");
	kapi_xbt t;
	ASSERT_EQ(kapi_xenbus_transaction_start(&t), 0);
	ASSERT_EQ(kapi_xenbus_write(t, "/k", "", "new"), 0);
	char buf[8];
	EXPECT_EQ(kapi_xenbus_read(t, "/k", "", buf, sizeof(buf)), 3);
	EXPECT_STREQ(buf, "new");
	EXPECT_EQ(*fake.xs_read("/k"), "old");		// not visible outside yet
	ASSERT_EQ(kapi_xenbus_transaction_end(t, true), 0);
	EXPECT_EQ(*fake.xs_read("/k"), "old");
	EXPECT_EQ(fake.aborts(), 1u);

	ASSERT_EQ(kapi_xenbus_transaction_start(&t), 0);
	EXPECT_EQ(kapi_xenbus_read(t, "/k", "", buf, sizeof(buf)), 3);
	fake.xs_write("/k", "racer");			// someone else changes it
	ASSERT_EQ(kapi_xenbus_write(t, "/other", "", "v"), 0);
	EXPECT_EQ(kapi_xenbus_transaction_end(t, false), -EAGAIN);
	EXPECT_FALSE(fake.xs_read("/other"));

	fake.fail_next_transaction_starts(1);
	EXPECT_EQ(kapi_xenbus_transaction_start(&t), -ENOMEM);
}

TEST(FakeXenbus, SwitchStateAndDevFatal)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	EXPECT_EQ(fake.xs_read(vbd.back_path + "/state"), "1");
	ASSERT_EQ(kapi_xenbus_switch_state(vbd.back, KAPI_XENBUS_INITWAIT), 0);
	ASSERT_EQ(kapi_xenbus_switch_state(vbd.back, KAPI_XENBUS_INITWAIT), 0);	// no-op
	EXPECT_EQ(fake.xs_read(vbd.back_path + "/state"), "2");
	EXPECT_EQ(fake.state_history(vbd.back).size(), 1u);
	kapi_xenbus_dev_fatal(vbd.back, -ENOSYS, "guest asked for too much");
	ASSERT_EQ(fake.fatal_errors(vbd.back).size(), 1u);
	EXPECT_EQ(fake.fatal_errors(vbd.back)[0].err, -ENOSYS);
	EXPECT_EQ(fake.device_state(vbd.back), KAPI_XENBUS_CLOSING);
	EXPECT_EQ(*fake.xs_read("error/" + vbd.back_path + "/error"), "38 guest asked for too much");
	EXPECT_STREQ(kapi_xenbus_otherend(vbd.front), vbd.back_path.c_str());
	EXPECT_EQ(kapi_xenbus_otherend_id(vbd.back), 1);
}

TEST(FakeXenbus, RingSetupAndMapShareMemoryAcrossPages)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	void *front = nullptr, *back = nullptr;
	uint32_t grefs[4];
	ASSERT_EQ(kapi_xenbus_setup_ring(vbd.front, 4, &front, grefs), 0);
	auto *f = static_cast<unsigned char *>(front);
	EXPECT_EQ(f[3 * 4096 + 17], 0);	// zeroed
	f[0] = 1;
	f[3 * 4096 + 17] = 2;
	ASSERT_EQ(kapi_xenbus_map_ring(vbd.back, grefs, 4, &back), 0);
	auto *b = static_cast<unsigned char *>(back);
	EXPECT_EQ(b[0], 1);
	EXPECT_EQ(b[3 * 4096 + 17], 2);
	b[2 * 4096 + 5] = 9;
	EXPECT_EQ(f[2 * 4096 + 5], 9);
	EXPECT_FALSE(kapi_gnttab_try_end_access(grefs[1]));	// the backend maps it
	EXPECT_EQ(fake.gnttab().live_mappings, 4u);
	kapi_xenbus_unmap_ring(vbd.back, back);
	kapi_xenbus_teardown_ring(&front, 4, grefs);
	EXPECT_EQ(front, nullptr);
	EXPECT_EQ(grefs[0], UINT32_MAX);
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeXenbus, MapRingWithABadGrefFailsCleanlyAsLinux)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	void *front, *back = reinterpret_cast<void *>(1);
	uint32_t grefs[2];
	ASSERT_EQ(kapi_xenbus_setup_ring(vbd.front, 2, &front, grefs), 0);
	const uint32_t bad[2] = {grefs[0], 4242};
	EXPECT_EQ(kapi_xenbus_map_ring(vbd.back, bad, 2, &back), -ENOENT);
	EXPECT_EQ(back, nullptr);
	EXPECT_EQ(fake.gnttab().live_mappings, 0u);	// the good one was undone
	ASSERT_EQ(fake.fatal_errors(vbd.back).size(), 1u);
	EXPECT_EQ(fake.device_state(vbd.back), KAPI_XENBUS_CLOSING);
	const uint32_t too_many[17] = {};
	EXPECT_EQ(kapi_xenbus_map_ring(vbd.back, too_many, 17, &back), -EINVAL);
	kapi_xenbus_teardown_ring(&front, 2, grefs);
}

TEST(FakeXenbus, TeardownWhileMappedKeepsPagesUntilUnmap)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	void *front, *back;
	uint32_t grefs[1];
	ASSERT_EQ(kapi_xenbus_setup_ring(vbd.front, 1, &front, grefs), 0);
	ASSERT_EQ(kapi_xenbus_map_ring(vbd.back, grefs, 1, &back), 0);
	const size_t live = alloc_stats().live;
	kapi_xenbus_teardown_ring(&front, 1, grefs);
	EXPECT_EQ(fake.gnttab().deferred_pending, 1u);
	static_cast<unsigned char *>(back)[0] = 1;	// backend memory still valid
	kapi_xenbus_unmap_ring(vbd.back, back);
	EXPECT_EQ(alloc_stats().live, live - 2);	// ring page + map_ring's node
	EXPECT_EQ(fake.gnttab().deferred_freed, 1u);
}

TEST(FakeXenbus, SetupRingUnderAllocationFailureLeaksNothing)
{
	const size_t n = for_each_alloc_failure([](bool expect_success) {
		FakeXen fake;
		VbdPair vbd = fake.add_vbd_pair();
		void *front;
		uint32_t grefs[3];
		const int rc = kapi_xenbus_setup_ring(vbd.front, 3, &front, grefs);
		EXPECT_EQ(rc == 0, expect_success);
		if (rc == 0)
			kapi_xenbus_teardown_ring(&front, 3, grefs);
		else
			EXPECT_EQ(grefs[2], UINT32_MAX);
	});
	EXPECT_EQ(n, 3u);
}

// ---------------------------------------------------------------- block

struct BioResult {
	int calls = 0;
	int err = 1;
};

void on_bio(void *ctx, int err) noexcept
{
	auto *r = static_cast<BioResult *>(ctx);
	r->calls++;
	r->err = err;
}

TEST(FakeBlock, OpenQueryAndExclusiveHolder)
{
	FakeXen fake;
	DiskSpec spec;
	spec.nr_sectors = 4096;
	spec.physical_block_size = 4096;
	spec.discard = true;
	spec.discard_granularity = 4096;
	fake.add_disk(8, 16, spec);
	kapi_bdev *bd, *other;
	int holder_a, holder_b;
	EXPECT_EQ(kapi_bdev_open(8, 17, false, &holder_a, &bd), -ENXIO);
	ASSERT_EQ(kapi_bdev_open(8, 16, false, &holder_a, &bd), 0);
	EXPECT_EQ(kapi_bdev_open(8, 16, false, &holder_b, &other), -EBUSY);
	kapi_bdev_info info;
	kapi_bdev_query(bd, &info);
	EXPECT_EQ(info.nr_sectors, 4096u);
	EXPECT_EQ(info.physical_block_size, 4096u);
	EXPECT_TRUE(info.discard);
	EXPECT_TRUE(info.write_cache);
	EXPECT_FALSE(info.readonly);
	kapi_bdev_close(bd);

	DiskSpec ro;
	ro.readonly = true;
	ro.cdrom = true;
	fake.add_disk(11, 0, ro);
	EXPECT_EQ(kapi_bdev_open(11, 0, false, &holder_a, &bd), -EACCES);
	ASSERT_EQ(kapi_bdev_open(11, 0, true, &holder_a, &bd), 0);
	kapi_bdev_query(bd, &info);
	EXPECT_TRUE(info.cdrom);
	EXPECT_TRUE(info.readonly);
	kapi_bdev_close(bd);
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeBlock, BiosMoveDataThroughGrantMappingsWhenPumped)
{
	FakeXen fake;
	FakeDisk &disk = fake.add_disk(1, 0);
	memset(disk.data() + 512 * 8, 0xab, 4096);
	kapi_bdev *bd;
	ASSERT_EQ(kapi_bdev_open(1, 0, false, &fake, &bd), 0);
	GrantedPage g;
	kapi_grant_map op = g.map_op();
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);

	// Read sectors 8..15 into the backend page: lands in the frontend's page.
	BioResult r;
	kapi_bio *bio = kapi_bio_alloc(bd, KAPI_BIO_READ, 0, 8, 1, on_bio, &r);
	ASSERT_NE(bio, nullptr);
	ASSERT_TRUE(kapi_bio_add_page(bio, g.back, 4096, 0));
	EXPECT_FALSE(kapi_bio_add_page(bio, g.back, 512, 0));	// full
	kapi_bio_submit(bio);
	EXPECT_EQ(r.calls, 0);
	EXPECT_EQ(fake.bios_in_flight(), 1u);
	EXPECT_EQ(fake.complete_bios(), 1u);
	EXPECT_EQ(r.err, 0);
	EXPECT_EQ(bytes(g.front)[4095], 0xab);

	// Write the frontend's data at sector 0, inline completion.
	fake.set_bio_completion(BioCompletion::kInline);
	memset(bytes(g.front) + 512, 0x11, 512);
	BioResult w;
	bio = kapi_bio_alloc(bd, KAPI_BIO_WRITE, KAPI_BIO_FLAG_FUA, 0, 1, on_bio, &w);
	ASSERT_TRUE(kapi_bio_add_page(bio, g.back, 512, 512));
	kapi_bio_submit(bio);
	EXPECT_EQ(w.err, 0);
	EXPECT_EQ(disk.data()[0], 0x11);
	EXPECT_EQ(disk.stats().fua, 1u);
	EXPECT_EQ(disk.stats().bios_submitted, 2u);

	unmap(g.back, op.handle);
	g.release();
	kapi_bdev_close(bd);
	EXPECT_EQ(fake.leftovers(), "");
}

TEST(FakeBlock, ErrorsPastEndMisalignedInjectedAndDiscard)
{
	FakeXen fake;
	DiskSpec spec;
	spec.nr_sectors = 64;
	spec.logical_block_size = 4096;
	spec.discard = true;
	FakeDisk &disk = fake.add_disk(1, 0, spec);
	memset(disk.data(), 0xff, disk.size_bytes());
	kapi_bdev *bd;
	ASSERT_EQ(kapi_bdev_open(1, 0, false, &fake, &bd), 0);
	kapi_page *page = kapi_page_alloc(KAPI_GFP_KERNEL);
	auto submit = [&](uint64_t sector, unsigned len) {
		BioResult r;
		kapi_bio *bio = kapi_bio_alloc(bd, KAPI_BIO_READ, 0, sector, 1, on_bio, &r);
		EXPECT_TRUE(kapi_bio_add_page(bio, page, len, 0));
		kapi_bio_submit(bio);
		fake.complete_bios();
		EXPECT_EQ(r.calls, 1);
		return r.err;
	};
	EXPECT_EQ(submit(56, 4096), 0);
	EXPECT_EQ(submit(64, 4096), -EIO);		// past the end
	EXPECT_EQ(submit(~0ull - 3, 4096), -EIO);	// wraps
	EXPECT_EQ(submit(1, 4096), -EIO);		// not 4K aligned
	EXPECT_EQ(submit(0, 512), -EIO);		// shorter than a block
	disk.fail_next_io(1);
	EXPECT_EQ(submit(0, 4096), -EIO);
	EXPECT_EQ(submit(0, 4096), 0);
	disk.fail_sector(9);
	EXPECT_EQ(submit(8, 4096), -EIO);
	disk.clear_failures();

	EXPECT_EQ(kapi_bdev_discard(bd, 8, 8, false, KAPI_GFP_KERNEL), 0);
	EXPECT_EQ(disk.data()[8 * 512], 0);
	EXPECT_EQ(disk.data()[16 * 512], 0xff);
	EXPECT_EQ(kapi_bdev_discard(bd, 8, 8, true, KAPI_GFP_KERNEL), -EOPNOTSUPP);
	EXPECT_EQ(kapi_bdev_discard(bd, 4, 8, false, KAPI_GFP_KERNEL), -EINVAL);
	EXPECT_EQ(kapi_bdev_discard(bd, 64, 8, false, KAPI_GFP_KERNEL), -EIO);
	EXPECT_EQ(disk.stats().discards, 1u);

	fail_allocs_after(0);
	EXPECT_EQ(kapi_bio_alloc(bd, KAPI_BIO_FLUSH, 0, 0, 0, on_bio, nullptr), nullptr);
	clear_alloc_failure();
	BioResult f;
	kapi_bio *flush = kapi_bio_alloc(bd, KAPI_BIO_FLUSH, KAPI_BIO_FLAG_PREFLUSH, 0, 0, on_bio, &f);
	kapi_bio_submit(flush);
	EXPECT_EQ(fake.run_until_idle(), 1u);
	EXPECT_EQ(f.err, 0);
	EXPECT_EQ(disk.stats().flushes, 1u);
	kapi_page_free(page);
	kapi_bdev_close(bd);
}

TEST(FakeBlock, ReadIntoReadOnlyMappingIsAViolation)
{
	FakeXen fake;
	fake.add_disk(1, 0);
	kapi_bdev *bd;
	ASSERT_EQ(kapi_bdev_open(1, 0, false, &fake, &bd), 0);
	GrantedPage g(/*readonly=*/true);
	kapi_grant_map op = g.map_op(true);
	ASSERT_EQ(kapi_gnttab_map(&op, 1), 0);
	BioResult r;
	kapi_bio *bio = kapi_bio_alloc(bd, KAPI_BIO_READ, 0, 0, 1, on_bio, &r);
	ASSERT_TRUE(kapi_bio_add_page(bio, g.back, 4096, 0));
	kapi_bio_submit(bio);
	fake.complete_bios();
	EXPECT_EQ(r.err, -EIO);
	EXPECT_EQ(fake.take_violations().size(), 1u);
	unmap(g.back, op.handle);
	g.release();
	kapi_bdev_close(bd);
}

} // namespace
} // namespace xbc::host

namespace xbc::host {
namespace {

struct SleepyHandler {
	kapi_irq *self = nullptr;
};

void sleepy_irq(void *ctx) noexcept
{
	auto *h = static_cast<SleepyHandler *>(ctx);
	kapi_free(kapi_malloc(16, KAPI_GFP_KERNEL));	// a bug in hard irq
	kapi_free(kapi_malloc(16, KAPI_GFP_ATOMIC));	// fine
	kapi_evtchn_lateeoi(h->self, false);
}

TEST(FakeEvtchn, SleepingAllocationInAHandlerIsReported)
{
	FakeXen fake;
	VbdPair vbd = fake.add_vbd_pair();
	SleepyHandler fe, be;
	uint32_t port;
	ASSERT_EQ(kapi_evtchn_alloc_bind(vbd.front, sleepy_irq, &fe, "fe", &port, &fe.self), 0);
	ASSERT_EQ(kapi_evtchn_bind_interdomain(vbd.back, port, sleepy_irq, &be, "be", &be.self), 0);
	kapi_evtchn_notify(fe.self);
	EXPECT_EQ(fake.run_pending_irqs(), 1u);
	EXPECT_NE(fake.leftovers().find("1 sleeping allocation"), std::string::npos) << fake.leftovers();
	kapi_free(kapi_malloc(16, KAPI_GFP_KERNEL));	// process context again: fine
	EXPECT_EQ(fake.take_atomic_sleeps(), 1u);
	kapi_evtchn_unbind(fe.self);
	kapi_evtchn_unbind(be.self);
	EXPECT_EQ(fake.leftovers(), "");
}

} // namespace
} // namespace xbc::host
