// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: the fake's core, grant table and event channels share its
// state and checks.
// The fake Xen's core (activation, checks, pumping), its grant table
// (kapi/gnttab.h) and its event channels (kapi/evtchn.h). Host-only code.
// xenstore/xenbus live in fake_xenbus.cpp, block devices in fake_block.cpp.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "kapi/thread.h"
#include "support/fake_xen_state.hpp"
#include "support/kapi_host.hpp"
#include "support/page_arena.hpp"

namespace xbc::host {
namespace {

FakeXen::State *g_active;

// A freed page must not still be granted or hold a foreign mapping.
void check_page_free(void *page)
{
	if (!g_active)
		return;
	FakeXen::State &s = *g_active;
	for (const auto &[ref, g] : s.grants) {
		if (g.page == page) {
			s.violation("page " + std::to_string(reinterpret_cast<uintptr_t>(page)) +
				    " freed while still granted as ref " + std::to_string(ref));
			return;
		}
	}
	if (s.mapped_pages.count(page))
		s.violation("page freed while it holds a grant mapping");
}

} // namespace

FakeXen::State &active_fake(const char *caller)
{
	if (!g_active) {
		fprintf(stderr, "%s: no FakeXen is active in this test\n", caller);
		abort();
	}
	return *g_active;
}

void FakeXen::State::violation(const std::string &what)
{
	violations.push_back(what);
	if (getenv("XBC_HOST_LOG"))
		fprintf(stderr, "fake_xen violation: %s\n", what.c_str());
}

FakeXen::FakeXen() : s_(new State)
{
	s_->sleeps_at_start = sleeps_in_atomic();
	if (g_active) {
		fprintf(stderr, "FakeXen: only one may be active at a time\n");
		abort();
	}
	g_active = s_;
	arena::set_free_hook(check_page_free);
}

FakeXen::~FakeXen()
{
	const std::string left = leftovers();
	if (!left.empty())
		ADD_FAILURE() << "FakeXen left over at test end:\n" << left;
	State &s = *s_;
	// Clean up whatever the engine left so the next test starts fresh;
	// the engine's own allocations stay counted and the leak check names
	// them.
	for (auto &[vaddr, rm] : s.ring_maps)
		arena::unmap_contiguous(vaddr, rm.n);
	for (auto &[page, handle] : s.mapped_pages)
		arena::restore(page);
	for (auto &[vaddr, rs] : s.ring_setups)
		arena::unmap_contiguous(vaddr, rs.n);
	arena::set_free_hook(nullptr);
	for (auto &[ref, g] : s.grants) {
		if (g.ended && g.free_page)
			kapi_page_free(static_cast<kapi_page *>(g.page));
	}
	for (auto &[port, irq] : s.irqs)
		delete irq;
	for (struct kapi_xenbus_watch *w : s.watches)
		delete w;
	for (kapi_bdev *b : s.bdevs)
		delete b;
	for (kapi_bio *b : s.bios_alloced)
		delete b;
	g_active = nullptr;
	delete s_;
}

void FakeXen::set_granting_domid(uint16_t d) noexcept { s_->granting_domid = d; }
void FakeXen::set_mapping_domid(uint16_t d) noexcept { s_->mapping_domid = d; }

std::string FakeXen::leftovers() const
{
	const State &s = *s_;
	std::string out;
	auto add = [&out](size_t n, const char *what) {
		if (n)
			out += std::to_string(n) + " " + what + "\n";
	};
	add(s.grants.size(), "grant(s) not ended");
	add(s.mappings.size(), "grant mapping(s) not unmapped");
	add(s.irqs.size(), "irq(s) still bound");
	add(s.watches.size(), "watch(es) still registered");
	size_t refs = 0;
	for (const auto &d : s.devices)
		refs += d->refs > 0 ? size_t(d->refs) : 0;
	add(refs, "xenbus device reference(s) not put");
	add(s.ring_setups.size(), "frontend ring(s) not torn down");
	add(s.ring_maps.size(), "backend ring mapping(s) not unmapped");
	add(s.bdevs.size(), "block device(s) still open");
	add(s.bios_alloced.size(), "bio(s) not completed or put");
	add(s.txns.size(), "transaction(s) not ended");
	add(s.deferred_unmaps.size(), "asynchronous unmap(s) still waiting for a page hold");
	add(s.free_callbacks.size(), "grant free callback(s) still armed");
	add(sleeps_in_atomic() - s.sleeps_at_start,
	    "sleeping allocation(s) or mutex lock(s) in irq/bio-completion context");
	for (const std::string &v : s.violations)
		out += "violation: " + v + "\n";
	return out;
}

const std::vector<std::string> &FakeXen::violations() const noexcept { return s_->violations; }

std::vector<std::string> FakeXen::take_violations()
{
	std::vector<std::string> v;
	v.swap(s_->violations);
	return v;
}

size_t FakeXen::take_atomic_sleeps() noexcept
{
	const size_t n = sleeps_in_atomic() - s_->sleeps_at_start;
	s_->sleeps_at_start = sleeps_in_atomic();
	return n;
}

size_t FakeXen::run_until_idle(size_t max_rounds)
{
	size_t total = 0;
	for (size_t round = 0; round < max_rounds; round++) {
		const size_t n = run_watches() + run_pending_irqs() + complete_bios();
		if (!n)
			return total;
		total += n;
	}
	s_->violation("run_until_idle: still busy after max_rounds (livelock?)");
	return total;
}

// ------------------------------------------------------------------------
// Grant table

int FakeXen::State::grant(uint16_t granter, uint16_t grantee, void *page, bool readonly, uint32_t *ref)
{
	if (!arena::is_live_page(page)) {
		violation("grant of a page that is not a live kapi page");
		return -EINVAL;
	}
	if (grants.size() >= grant_limit)
		return -ENOSPC;
	uint32_t r;
	if (!free_refs.empty() && next_ref == UINT32_MAX) {
		r = free_refs.front();
		free_refs.pop_front();
	} else {
		// Fresh refs first, so a stale ref is not instantly reused.
		r = next_ref++;
	}
	grants[r] = Grant{page, granter, grantee, readonly, 0, false, false};
	gst.grants_made++;
	*ref = r;
	return 0;
}

void FakeXen::State::check_free_callbacks()
{
	const size_t free = grant_limit == SIZE_MAX ? SIZE_MAX : grant_limit - grants.size();
	// As gnttab's do_free_callbacks: each whose count is met runs once and
	// is disarmed first (it may arm itself again).
	std::vector<struct kapi_gnttab_free_callback *> due;
	for (auto it = free_callbacks.begin(); it != free_callbacks.end();) {
		if ((*it)->count <= free) {
			due.push_back(*it);
			it = free_callbacks.erase(it);
		} else {
			++it;
		}
	}
	for (struct kapi_gnttab_free_callback *cb : due) {
		gst.free_callbacks_run++;
		cb->fn(cb->ctx);
	}
}

void FakeXen::State::end_deferred(uint32_t ref, void *page)
{
	auto it = grants.find(ref);
	if (it == grants.end() || it->second.ended) {
		violation("end_access_deferred of ref " + std::to_string(ref) + ", which is not granted");
		return;
	}
	Grant &g = it->second;
	if (page && page != g.page)
		violation("end_access_deferred of ref " + std::to_string(ref) + " with another page");
	if (g.maps == 0) {
		grants.erase(it);
		free_refs.push_back(ref);
		if (page)
			kapi_page_free(static_cast<kapi_page *>(page));
		check_free_callbacks();
		return;
	}
	// The peer still maps it: the kernel keeps the page until it unmaps.
	g.ended = true;
	g.free_page = page != nullptr;
	gst.deferred_pending++;
}

int16_t FakeXen::State::map_one(uint32_t ref, uint16_t op_domid, uint16_t mapper, bool readonly,
				void *backend_page, uint32_t *handle)
{
	auto inj = map_failures.find(ref);
	if (inj != map_failures.end() && inj->second.times > 0) {
		if (inj->second.times != SIZE_MAX)
			inj->second.times--;
		return inj->second.status;
	}
	auto it = grants.find(ref);
	if (it == grants.end() || it->second.ended)
		return gntst::kBadGntref;
	Grant &g = it->second;
	if (g.granter != op_domid || g.grantee != mapper)
		return gntst::kPermissionDenied;
	if (g.readonly && !readonly)
		return gntst::kPermissionDenied;
	const uint32_t h = next_handle++;
	mappings[h] = Mapping{ref, backend_page, readonly};
	g.maps++;
	if (backend_page) {
		mapped_pages[backend_page] = h;
		arena::map_onto(backend_page, g.page, readonly);
	}
	*handle = h;
	return gntst::kOkay;
}

int16_t FakeXen::State::unmap_one(uint32_t handle, void *backend_page)
{
	auto it = mappings.find(handle);
	if (it == mappings.end())
		return gntst::kBadHandle;
	if (it->second.page != backend_page)
		return gntst::kGeneralError;
	const uint32_t ref = it->second.ref;
	if (backend_page) {
		mapped_pages.erase(backend_page);
		arena::restore(backend_page);
	}
	mappings.erase(it);
	Grant &g = grants.at(ref);
	g.maps--;
	if (g.maps == 0 && g.ended) {
		void *page = g.free_page ? g.page : nullptr;
		grants.erase(ref);
		free_refs.push_back(ref);
		gst.deferred_pending--;
		gst.deferred_freed++;
		if (page)
			kapi_page_free(static_cast<kapi_page *>(page));
		check_free_callbacks();
	}
	return gntst::kOkay;
}

int16_t FakeXen::State::copy_one(const kapi_grant_copy &op)
{
	auto inj = copy_failures.find(op.ref);
	if (inj != copy_failures.end() && inj->second.times > 0) {
		if (inj->second.times != SIZE_MAX)
			inj->second.times--;
		return inj->second.status;
	}
	if (!arena::is_live_page(op.page)) {
		violation("gnttab_copy with a page that is not a live kapi page");
		return gntst::kGeneralError;
	}
	if (mapped_pages.count(op.page) || foreign_pages.count(op.page)) {
		violation("gnttab_copy through a page meant for grant mappings");
		return gntst::kGeneralError;
	}
	auto it = grants.find(op.ref);
	if (it == grants.end() || it->second.ended)
		return gntst::kBadGntref;
	const Grant &g = it->second;
	if (g.granter != op.domid || g.grantee != mapping_domid)
		return gntst::kPermissionDenied;
	if (g.readonly && op.to_grant)
		return gntst::kPermissionDenied;
	unsigned char *ours = static_cast<unsigned char *>(kapi_page_address(op.page)) + op.offset;
	unsigned char *theirs = static_cast<unsigned char *>(g.page) + op.offset;
	if (op.to_grant)
		memcpy(theirs, ours, op.len);
	else
		memcpy(ours, theirs, op.len);
	return gntst::kOkay;
}

void FakeXen::fail_copy(uint32_t ref, int16_t status, size_t times)
{
	s_->copy_failures[ref] = State::MapFailure{status, times};
}

void FakeXen::fail_map(uint32_t ref, int16_t status, size_t times)
{
	s_->map_failures[ref] = State::MapFailure{status, times};
}

void FakeXen::clear_map_failures() { s_->map_failures.clear(); }
void FakeXen::fail_next_map_call(int err) noexcept { s_->next_map_call_err = err; }
void FakeXen::fail_next_unmap_call(int err) noexcept { s_->next_unmap_call_err = err; }
void FakeXen::set_grant_limit(size_t n) noexcept { s_->grant_limit = n; }

GnttabStats FakeXen::gnttab() const noexcept
{
	GnttabStats st = s_->gst;
	st.live_grants = s_->grants.size();
	st.live_mappings = s_->mappings.size();
	return st;
}

unsigned FakeXen::map_count(uint32_t ref) const
{
	auto it = s_->grants.find(ref);
	return it == s_->grants.end() ? 0 : it->second.maps;
}

bool FakeXen::is_granted(uint32_t ref) const
{
	auto it = s_->grants.find(ref);
	return it != s_->grants.end() && !it->second.ended;
}

bool FakeXen::grant_is_readonly(uint32_t ref) const
{
	auto it = s_->grants.find(ref);
	return it != s_->grants.end() && it->second.readonly;
}

void *FakeXen::granted_page(uint32_t ref) const
{
	auto it = s_->grants.find(ref);
	return it == s_->grants.end() ? nullptr : it->second.page;
}

// ------------------------------------------------------------------------
// Event channels

size_t FakeXen::run_pending_irqs(size_t max_runs)
{
	State &s = *s_;
	size_t runs = 0;
	for (;;) {
		kapi_irq *next = nullptr;
		for (auto &[port, irq] : s.irqs) {
			if (irq->pending && !irq->awaiting_eoi) {
				next = irq;
				break;
			}
		}
		if (!next)
			return runs;
		if (runs == max_runs) {
			s.violation("run_pending_irqs: more than max_runs handler runs (event storm?)");
			return runs;
		}
		// Delivered: masked until the handler (or its thread) calls lateeoi.
		next->pending = false;
		next->awaiting_eoi = true;
		next->handler_runs++;
		next->in_handler = true;
		const uint32_t port = next->port;
		const bool was_atomic = in_atomic_context();
		set_atomic_context(true);
		next->fn(next->ctx);
		set_atomic_context(was_atomic);
		auto again = s.irqs.find(port);
		if (again != s.irqs.end())
			again->second->in_handler = false;
		runs++;
	}
}

void FakeXen::raise(uint32_t port)
{
	auto it = s_->irqs.find(port);
	if (it == s_->irqs.end()) {
		s_->violation("raise on unbound port " + std::to_string(port));
		return;
	}
	it->second->pending = true;
}

IrqInfo FakeXen::irq(uint32_t port) const
{
	auto it = s_->irqs.find(port);
	if (it == s_->irqs.end())
		return IrqInfo{port, "", false, false, false, 0, 0, 0, 0};
	const kapi_irq &i = *it->second;
	return IrqInfo{i.port, i.name, i.peer != nullptr, i.pending, i.awaiting_eoi,
		       i.notifies_sent, i.handler_runs, i.eois, i.spurious_eois};
}

std::optional<uint32_t> FakeXen::port_by_name(const std::string &name) const
{
	for (const auto &[port, irq] : s_->irqs) {
		if (irq->name == name)
			return port;
	}
	return std::nullopt;
}

size_t FakeXen::bound_irqs() const noexcept { return s_->irqs.size(); }

} // namespace xbc::host

using xbc::host::active_fake;
using xbc::host::FakeXen;
namespace gntst = xbc::host::gntst;
namespace arena = xbc::host::arena;

extern "C" {

// --- grant table, frontend side

int kapi_gnttab_grant_page(uint16_t domid, struct kapi_page *page, bool readonly, uint32_t *ref) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	return s.grant(s.granting_domid, domid, page, readonly, ref);
}

bool kapi_gnttab_try_end_access(uint32_t ref) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	auto it = s.grants.find(ref);
	if (it == s.grants.end() || it->second.ended) {
		s.violation("try_end_access of ref " + std::to_string(ref) + ", which is not granted");
		return false;
	}
	if (it->second.maps) {
		s.gst.try_end_refused++;
		return false;
	}
	s.grants.erase(it);
	s.free_refs.push_back(ref);
	s.check_free_callbacks();
	return true;
}

void kapi_gnttab_end_access_deferred(uint32_t ref, struct kapi_page *page) noexcept
{
	active_fake(__func__).end_deferred(ref, page);
}

struct kapi_gnttab_free_callback *kapi_gnttab_free_callback_create(enum kapi_gfp gfp) noexcept
{
	return static_cast<kapi_gnttab_free_callback *>(kapi_zalloc(sizeof(kapi_gnttab_free_callback), gfp));
}

void kapi_gnttab_free_callback_arm(struct kapi_gnttab_free_callback *cb, kapi_gnttab_free_fn fn,
				   void *ctx, uint16_t count) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	for (auto *armed : s.free_callbacks)
		if (armed == cb)
			return;	// already armed: unchanged (gnttab_request_free_callback)
	cb->fn = fn;
	cb->ctx = ctx;
	cb->count = count;
	s.gst.free_callbacks_armed++;
	s.free_callbacks.push_back(cb);
	s.check_free_callbacks();
}

void kapi_gnttab_free_callback_destroy(struct kapi_gnttab_free_callback *cb) noexcept
{
	if (!cb)
		return;
	FakeXen::State &s = active_fake(__func__);
	std::erase(s.free_callbacks, cb);
	kapi_free(cb);
}

// --- grant table, backend side

int kapi_gnttab_alloc_pages(unsigned int nr, struct kapi_page **pages) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	for (unsigned i = 0; i < nr; i++) {
		pages[i] = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!pages[i]) {
			while (i--) {
				s.foreign_pages.erase(pages[i]);
				kapi_page_free(pages[i]);
				pages[i] = nullptr;
			}
			return -ENOMEM;
		}
		s.foreign_pages.insert(pages[i]);
	}
	return 0;
}

void kapi_gnttab_free_pages(unsigned int nr, struct kapi_page **pages) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	for (unsigned i = 0; i < nr; i++) {
		if (!s.foreign_pages.erase(pages[i])) {
			s.violation("gnttab_free_pages of a page not from gnttab_alloc_pages");
			continue;
		}
		auto m = s.mapped_pages.find(pages[i]);
		if (m != s.mapped_pages.end()) {
			s.violation("gnttab_free_pages of a page that still holds a grant mapping");
			if (s.unmap_one(m->second, pages[i]) != gntst::kOkay)
				s.violation("internal: forced unmap failed");
		}
		kapi_page_free(pages[i]);
	}
}

int kapi_gnttab_map(struct kapi_grant_map *ops, unsigned int nr) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (nr > KAPI_GNTTAB_MAX_BATCH) {
		s.violation("gnttab_map batch larger than KAPI_GNTTAB_MAX_BATCH");
		return -EINVAL;
	}
	s.gst.map_calls++;
	for (unsigned i = 0; i < nr; i++) {
		kapi_grant_map &op = ops[i];
		s.gst.map_ops++;
		op.handle = UINT32_MAX;
		if (!s.foreign_pages.count(op.page)) {
			s.violation("gnttab_map onto a page not from gnttab_alloc_pages");
			op.status = gntst::kGeneralError;
		} else if (s.mapped_pages.count(op.page)) {
			s.violation("gnttab_map onto a page that already holds a mapping");
			op.status = gntst::kGeneralError;
		} else {
			op.status = s.map_one(op.ref, op.domid, s.mapping_domid, op.readonly, op.page,
					      &op.handle);
		}
		if (op.status != gntst::kOkay) {
			op.handle = UINT32_MAX;
			s.gst.map_failures++;
		}
	}
	const int err = s.next_map_call_err;
	s.next_map_call_err = 0;
	return err;
}

int FakeXen::State::unmap_batch(struct kapi_grant_unmap *ops, unsigned int nr)
{
	gst.unmap_calls++;
	for (unsigned i = 0; i < nr; i++) {
		gst.unmap_ops++;
		ops[i].status = unmap_one(ops[i].handle, ops[i].page);
		if (ops[i].status != gntst::kOkay)
			gst.unmap_failures++;
	}
	const int err = next_unmap_call_err;
	next_unmap_call_err = 0;
	return err;
}

bool FakeXen::State::any_held(const struct kapi_grant_unmap *ops, unsigned int nr) const
{
	for (unsigned i = 0; i < nr; i++) {
		if (page_holds.count(ops[i].page))
			return true;
	}
	return false;
}

int kapi_gnttab_unmap(struct kapi_grant_unmap *ops, unsigned int nr) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (nr > KAPI_GNTTAB_MAX_BATCH) {
		s.violation("gnttab_unmap batch larger than KAPI_GNTTAB_MAX_BATCH");
		return -EINVAL;
	}
	// gnttab_unmap_refs_sync would sleep here until the holder lets go:
	// for ever, for a stuck one.
	if (s.any_held(ops, nr))
		s.violation("synchronous unmap of a page someone else holds: waits without bound");
	return s.unmap_batch(ops, nr);
}

// gnttab_unmap_refs_async: unmaps at once unless a page is held; then the
// kernel's delayed work retries (here: queued by drop_page_holds()).
struct kapi_unmap_async {
	unsigned capacity;
	kapi_work *retry;
	struct kapi_grant_unmap *ops;
	unsigned nr;
	kapi_unmap_done_fn done;
	void *ctx;
};

namespace {

void unmap_async_now(kapi_unmap_async *u)
{
	const int err = active_fake(__func__).unmap_batch(u->ops, u->nr);
	u->done(u->ctx, err);
}

void unmap_async_retry(void *ctx) noexcept
{
	auto *u = static_cast<kapi_unmap_async *>(ctx);
	FakeXen::State &s = active_fake(__func__);
	if (s.any_held(u->ops, u->nr))
		return;	// still held: a later drop queues it again
	s.deferred_unmaps.erase(std::remove(s.deferred_unmaps.begin(), s.deferred_unmaps.end(), u),
				s.deferred_unmaps.end());
	unmap_async_now(u);
}

} // namespace

struct kapi_unmap_async *kapi_gnttab_unmap_async_create(unsigned int capacity, enum kapi_gfp gfp) noexcept
{
	auto *u = static_cast<kapi_unmap_async *>(kapi_zalloc(sizeof(kapi_unmap_async), gfp));
	if (!u)
		return nullptr;
	u->capacity = capacity;
	u->retry = kapi_work_create(&unmap_async_retry, u, gfp);
	if (!u->retry) {
		kapi_free(u);
		return nullptr;
	}
	return u;
}

void kapi_gnttab_unmap_async_destroy(struct kapi_unmap_async *u) noexcept
{
	if (!u)
		return;
	FakeXen::State &s = active_fake(__func__);
	if (std::find(s.deferred_unmaps.begin(), s.deferred_unmaps.end(), u) != s.deferred_unmaps.end())
		s.violation("asynchronous unmap destroyed while in flight");
	kapi_work_destroy(u->retry);
	kapi_free(u);
}

int kapi_gnttab_unmap_async(struct kapi_unmap_async *u, struct kapi_grant_unmap *ops, unsigned int nr,
			    kapi_unmap_done_fn done, void *ctx) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (nr > u->capacity)
		return -EINVAL;
	u->ops = ops;
	u->nr = nr;
	u->done = done;
	u->ctx = ctx;
	for (unsigned i = 0; i < nr; i++)
		ops[i].status = gntst::kGeneralError;
	if (s.any_held(ops, nr)) {
		s.gst.unmaps_deferred++;
		s.deferred_unmaps.push_back(u);
		return 0;
	}
	unmap_async_now(u);
	return 0;
}

bool FakeXen::hold_mapped_page(uint32_t ref)
{
	for (const auto &[handle, m] : s_->mappings) {
		if (m.ref == ref && m.page) {
			s_->page_holds[m.page]++;
			return true;
		}
	}
	return false;
}

size_t FakeXen::drop_page_holds()
{
	s_->page_holds.clear();
	for (kapi_unmap_async *u : s_->deferred_unmaps)
		kapi_work_queue(u->retry);
	return s_->deferred_unmaps.size();
}

size_t FakeXen::deferred_unmaps() const noexcept { return s_->deferred_unmaps.size(); }

// Xen's GNTTABOP_copy as seen from the backend: the local side is one of
// our ordinary pages, the remote side a live grant from the op's domain to
// the mapping domain; a read-only grant refuses to be written.
int kapi_gnttab_copy(struct kapi_grant_copy *ops, unsigned int nr) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (nr > KAPI_GNTTAB_MAX_BATCH) {
		s.violation("gnttab_copy batch larger than KAPI_GNTTAB_MAX_BATCH");
		return -EINVAL;
	}
	for (unsigned i = 0; i < nr; i++) {
		if (unsigned(ops[i].offset) + ops[i].len > KAPI_PAGE_SIZE) {
			s.violation("gnttab_copy range crosses a page");
			return -EINVAL;
		}
	}
	s.gst.copy_calls++;
	for (unsigned i = 0; i < nr; i++) {
		kapi_grant_copy &op = ops[i];
		s.gst.copy_ops++;
		op.status = s.copy_one(op);
		if (op.status != gntst::kOkay)
			s.gst.copy_failures++;
		else if (op.to_grant)
			s.gst.bytes_copied_out += op.len;
		else
			s.gst.bytes_copied_in += op.len;
	}
	return 0;
}

// --- event channels

int kapi_evtchn_alloc_bind(struct kapi_xenbus_device *dev, kapi_irq_fn fn, void *ctx, const char *name,
			   uint32_t *port, struct kapi_irq **out) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	*out = nullptr;
	if (!xbc::host::take_alloc())
		return -ENOMEM;
	auto *irq = new kapi_irq{s.next_port++, dev->domid, dev->otherend_id, fn, ctx, name ? name : "",
				 nullptr, false, false, false, 0, 0, 0, 0};
	s.irqs[irq->port] = irq;
	*port = irq->port;
	*out = irq;
	return 0;
}

int kapi_evtchn_bind_interdomain(struct kapi_xenbus_device *dev, uint32_t remote_port, kapi_irq_fn fn,
				 void *ctx, const char *name, struct kapi_irq **out) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	*out = nullptr;
	auto it = s.irqs.find(remote_port);
	// Xen: the remote port must be unbound and offered to our domain.
	if (it == s.irqs.end() || it->second->peer || it->second->domid != dev->otherend_id ||
	    it->second->remote_domid != dev->domid)
		return -EINVAL;
	if (!xbc::host::take_alloc())
		return -ENOMEM;
	auto *irq = new kapi_irq{s.next_port++, dev->domid, dev->otherend_id, fn, ctx, name ? name : "",
				 it->second, false, false, false, 0, 0, 0, 0};
	it->second->peer = irq;
	s.irqs[irq->port] = irq;
	*out = irq;
	return 0;
}

void kapi_evtchn_unbind(struct kapi_irq *irq) noexcept
{
	if (!irq)
		return;
	FakeXen::State &s = active_fake(__func__);
	if (!s.irqs.erase(irq->port)) {
		s.violation("unbind of an irq that is not bound");
		return;
	}
	if (irq->in_handler)
		s.violation("irq unbound from its own handler (deadlocks in Linux)");
	if (irq->peer)
		irq->peer->peer = nullptr;	// the other end becomes unbound
	delete irq;
	xbc::host::release_alloc();
}

void kapi_evtchn_notify(struct kapi_irq *irq) noexcept
{
	active_fake(__func__);
	irq->notifies_sent++;
	if (irq->peer)
		irq->peer->pending = true;
}

void kapi_evtchn_lateeoi(struct kapi_irq *irq, bool spurious) noexcept
{
	active_fake(__func__);
	irq->eois++;
	if (spurious)
		irq->spurious_eois++;
	irq->awaiting_eoi = false;
}

} // extern "C"
