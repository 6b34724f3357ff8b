// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: the whole fake xenstore and xenbus, one model with one
// lock.
// The fake Xen's xenstore and xenbus (kapi/xenbus.h): an in-memory tree,
// transactions that conflict like xenstored's, watches queued until the test
// pumps them, devices, and shared rings granted or mapped through the fake
// grant table (fake_xen.cpp). Host-only code.
#include <errno.h>
#include <string.h>

#include "support/fake_xen_state.hpp"
#include "support/kapi_host.hpp"
#include "support/page_arena.hpp"

namespace xbc::host {
namespace {

std::string join(const char *dir, const char *node)
{
	if (!node || !*node)
		return dir;
	return std::string(dir) + "/" + node;
}

// Is `path` at or below `top`?
bool under(const std::string &path, const std::string &top)
{
	return path.size() >= top.size() && path.compare(0, top.size(), top) == 0 &&
	       (path.size() == top.size() || path[top.size()] == '/');
}

// The in-tree limit on ring pages (XENBUS_MAX_RING_GRANTS).
constexpr unsigned kMaxRingGrants = 16;

} // namespace

void FakeXen::State::fire_watches(const std::string &changed)
{
	for (struct kapi_xenbus_watch *w : watches) {
		// A watch sees changes at or below its path, and the removal of
		// a parent of its path.
		if (under(changed, w->path) || under(w->path, changed))
			watch_events.emplace_back(w, changed);
	}
}

void FakeXen::State::store_write(const std::string &path, const std::string &value)
{
	store[path] = value;
	changed_at[path] = ++gen;
	fire_watches(path);
}

bool FakeXen::State::store_rm(const std::string &path)
{
	bool found = false;
	for (auto it = store.lower_bound(path); it != store.end() && under(it->first, path);) {
		changed_at[it->first] = gen + 1;
		it = store.erase(it);
		found = true;
	}
	if (found) {
		changed_at[path] = ++gen;
		fire_watches(path);
	}
	return found;
}

void FakeXen::xs_write(const std::string &path, const std::string &value) { s_->store_write(path, value); }

std::optional<std::string> FakeXen::xs_read(const std::string &path) const
{
	auto it = s_->store.find(path);
	if (it == s_->store.end())
		return std::nullopt;
	return it->second;
}

void FakeXen::xs_rm(const std::string &path) { s_->store_rm(path); }
void FakeXen::fail_next_commits(size_t n) noexcept { s_->fail_commits = n; }
void FakeXen::on_next_commit(std::function<void()> hook) { s_->commit_hook = std::move(hook); }
void FakeXen::fail_next_transaction_starts(size_t n, int err) noexcept
{
	s_->fail_starts = n;
	s_->fail_start_err = err;
}
size_t FakeXen::commits() const noexcept { return s_->n_commits; }
size_t FakeXen::commits_failed() const noexcept { return s_->n_commits_failed; }
size_t FakeXen::aborts() const noexcept { return s_->n_aborts; }

size_t FakeXen::run_watches(size_t max_events)
{
	State &s = *s_;
	size_t n = 0;
	while (!s.watch_events.empty()) {
		if (n == max_events) {
			s.violation("run_watches: more than max_events (a watch feeding itself?)");
			return n;
		}
		auto [w, path] = s.watch_events.front();
		s.watch_events.pop_front();
		w->fn(w->ctx, path.c_str());
		n++;
	}
	return n;
}

size_t FakeXen::pending_watch_events() const noexcept { return s_->watch_events.size(); }
size_t FakeXen::live_watches() const noexcept { return s_->watches.size(); }

kapi_xenbus_device *FakeXen::add_device(const std::string &nodename, const std::string &otherend,
					uint16_t domid, uint16_t otherend_id)
{
	s_->devices.push_back(std::unique_ptr<kapi_xenbus_device>(
		new kapi_xenbus_device{nodename, otherend, domid, otherend_id, 0, {}, {}}));
	return s_->devices.back().get();
}

void FakeXen::remove_device(kapi_xenbus_device *dev)
{
	auto &d = s_->devices;
	for (auto it = d.begin(); it != d.end(); ++it) {
		if (it->get() == dev) {
			d.erase(it);
			return;
		}
	}
}

VbdPair FakeXen::add_vbd_pair(uint16_t fe, uint16_t be, uint32_t devid)
{
	VbdPair p;
	p.front_path = "/local/domain/" + std::to_string(fe) + "/device/vbd/" + std::to_string(devid);
	p.back_path = "/local/domain/" + std::to_string(be) + "/backend/vbd/" + std::to_string(fe) + "/" +
		      std::to_string(devid);
	// What libxl writes before either driver probes.
	xs_write(p.front_path + "/backend", p.back_path);
	xs_write(p.front_path + "/backend-id", std::to_string(be));
	xs_write(p.front_path + "/virtual-device", std::to_string(devid));
	xs_write(p.front_path + "/device-type", "disk");
	xs_write(p.front_path + "/state", "1");
	xs_write(p.back_path + "/frontend", p.front_path);
	xs_write(p.back_path + "/frontend-id", std::to_string(fe));
	xs_write(p.back_path + "/online", "1");
	xs_write(p.back_path + "/removable", "0");
	xs_write(p.back_path + "/bootable", "1");
	xs_write(p.back_path + "/mode", "w");
	xs_write(p.back_path + "/type", "phy");
	xs_write(p.back_path + "/device-type", "disk");
	xs_write(p.back_path + "/dev", "xvda");
	xs_write(p.back_path + "/state", "1");
	p.front = add_device(p.front_path, p.back_path, fe, be);
	p.back = add_device(p.back_path, p.front_path, be, fe);
	return p;
}

int FakeXen::device_state(const kapi_xenbus_device *dev) const noexcept { return dev->state; }
std::vector<int> FakeXen::state_history(const kapi_xenbus_device *dev) const { return dev->history; }
const std::vector<FatalError> &FakeXen::fatal_errors(const kapi_xenbus_device *dev) const
{
	return dev->fatals;
}
size_t FakeXen::live_rings() const noexcept { return s_->ring_setups.size(); }
size_t FakeXen::live_ring_maps() const noexcept { return s_->ring_maps.size(); }

} // namespace xbc::host

using xbc::host::active_fake;
using xbc::host::FakeXen;
namespace arena = xbc::host::arena;
namespace gntst = xbc::host::gntst;

// The watch type's name is also a function's: give the type a plain name.
using WatchObj = struct kapi_xenbus_watch;

extern "C" {

const char *kapi_xenbus_nodename(const struct kapi_xenbus_device *dev) noexcept { return dev->nodename.c_str(); }
void kapi_xenbus_device_get(struct kapi_xenbus_device *dev) noexcept { dev->refs++; }
void kapi_xenbus_device_put(struct kapi_xenbus_device *dev) noexcept
{
	if (--dev->refs < 0)
		active_fake(__func__).violation("xenbus device put without get");
}
const char *kapi_xenbus_otherend(const struct kapi_xenbus_device *dev) noexcept { return dev->otherend.c_str(); }
uint16_t kapi_xenbus_otherend_id(const struct kapi_xenbus_device *dev) noexcept { return dev->otherend_id; }

int kapi_xenbus_switch_state(struct kapi_xenbus_device *dev, enum kapi_xenbus_state state) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	// Like xenbus_switch_state: switching to the current state is a no-op.
	if (dev->state == state)
		return 0;
	s.store_write(dev->nodename + "/state", std::to_string(static_cast<int>(state)));
	dev->state = state;
	dev->history.push_back(state);
	return 0;
}

void kapi_xenbus_dev_fatal(struct kapi_xenbus_device *dev, int err, const char *msg) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	dev->fatals.push_back(xbc::host::FatalError{err, msg ? msg : ""});
	// xenbus_dev_fatal: "<-err> <msg>" under error/<nodename>, then Closing.
	s.store_write("error/" + dev->nodename + "/error", std::to_string(-err) + " " + (msg ? msg : ""));
	if (kapi_xenbus_switch_state(dev, KAPI_XENBUS_CLOSING) != 0)
		s.violation("internal: switch_state failed");
}

int kapi_xenbus_transaction_start(kapi_xbt *t) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (s.fail_starts) {
		s.fail_starts--;
		return s.fail_start_err;
	}
	const uint32_t id = s.next_txn++;
	s.txns[id] = FakeXen::State::Txn{s.store, s.gen, {}, {}};
	*t = id;
	return 0;
}

int kapi_xenbus_transaction_end(kapi_xbt t, bool abort) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	auto it = s.txns.find(t);
	if (it == s.txns.end()) {
		s.violation("transaction_end of an unknown transaction");
		return -EINVAL;
	}
	FakeXen::State::Txn txn = std::move(it->second);
	s.txns.erase(it);
	if (abort) {
		s.n_aborts++;
		return 0;
	}
	if (s.commit_hook) {
		// Taken out first: the hook may commit transactions itself.
		std::function<void()> hook = std::move(s.commit_hook);
		s.commit_hook = nullptr;
		hook();
	}
	bool conflict = false;
	if (s.fail_commits) {
		s.fail_commits--;
		conflict = true;
	}
	// xenstored: EAGAIN if anything we touched changed since we started.
	for (const std::string &p : txn.touched) {
		auto c = s.changed_at.find(p);
		if (c != s.changed_at.end() && c->second > txn.start_gen)
			conflict = true;
	}
	if (conflict) {
		s.n_commits_failed++;
		return -EAGAIN;
	}
	for (auto &[path, value] : txn.ops) {
		if (value)
			s.store_write(path, *value);
		else
			s.store_rm(path);
	}
	s.n_commits++;
	return 0;
}

int kapi_xenbus_read(kapi_xbt t, const char *dir, const char *node, char *buf, size_t len) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	const std::string path = xbc::host::join(dir, node);
	const std::map<std::string, std::string> *tree = &s.store;
	if (t != KAPI_XBT_NIL) {
		auto it = s.txns.find(t);
		if (it == s.txns.end()) {
			s.violation("read in an unknown transaction");
			return -EINVAL;
		}
		it->second.touched.insert(path);
		tree = &it->second.view;
	}
	auto v = tree->find(path);
	if (v == tree->end())
		return -ENOENT;
	if (v->second.size() + 1 > len)
		return -E2BIG;
	memcpy(buf, v->second.c_str(), v->second.size() + 1);
	return static_cast<int>(v->second.size());
}

int kapi_xenbus_write(kapi_xbt t, const char *dir, const char *node, const char *value) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	const std::string path = xbc::host::join(dir, node);
	if (t == KAPI_XBT_NIL) {
		s.store_write(path, value);
		return 0;
	}
	auto it = s.txns.find(t);
	if (it == s.txns.end()) {
		s.violation("write in an unknown transaction");
		return -EINVAL;
	}
	it->second.touched.insert(path);
	it->second.view[path] = value;
	it->second.ops.emplace_back(path, std::string(value));
	return 0;
}

int kapi_xenbus_rm(kapi_xbt t, const char *dir, const char *node) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	const std::string path = xbc::host::join(dir, node);
	if (t == KAPI_XBT_NIL)
		return s.store_rm(path) ? 0 : -ENOENT;
	auto it = s.txns.find(t);
	if (it == s.txns.end()) {
		s.violation("rm in an unknown transaction");
		return -EINVAL;
	}
	auto &view = it->second.view;
	bool found = false;
	for (auto v = view.lower_bound(path); v != view.end() && xbc::host::under(v->first, path);) {
		v = view.erase(v);
		found = true;
	}
	if (!found)
		return -ENOENT;
	it->second.touched.insert(path);
	it->second.ops.emplace_back(path, std::nullopt);
	return 0;
}

int kapi_xenbus_watch(struct kapi_xenbus_device *, const char *path, kapi_xenbus_watch_fn fn, void *ctx,
		      struct kapi_xenbus_watch **out) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	*out = nullptr;
	if (!xbc::host::take_alloc())
		return -ENOMEM;
	auto *w = new WatchObj{path, fn, ctx};
	s.watches.insert(w);
	// xenstored fires every new watch once.
	s.watch_events.emplace_back(w, path);
	*out = w;
	return 0;
}

void kapi_xenbus_unwatch(struct kapi_xenbus_watch *watch) noexcept
{
	if (!watch)
		return;
	FakeXen::State &s = active_fake(__func__);
	if (!s.watches.erase(watch)) {
		s.violation("unwatch of a watch that is not registered");
		return;
	}
	auto &q = s.watch_events;
	for (auto it = q.begin(); it != q.end();)
		it = it->first == watch ? q.erase(it) : it + 1;
	delete watch;
	xbc::host::release_alloc();
}

int kapi_xenbus_setup_ring(struct kapi_xenbus_device *dev, unsigned int nr_pages, void **vaddr,
			   uint32_t *grefs) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	*vaddr = nullptr;
	for (unsigned i = 0; i < nr_pages; i++)
		grefs[i] = UINT32_MAX;
	if (nr_pages == 0 || nr_pages > xbc::host::kMaxRingGrants) {
		s.violation("setup_ring with a bad page count");
		return -EINVAL;
	}
	std::vector<void *> pages;
	for (unsigned i = 0; i < nr_pages; i++) {
		void *p = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!p) {
			for (void *q : pages)
				kapi_page_free(static_cast<kapi_page *>(q));
			return -ENOMEM;
		}
		pages.push_back(p);
	}
	std::vector<uint32_t> refs(nr_pages);
	for (unsigned i = 0; i < nr_pages; i++) {
		const int rc = s.grant(dev->domid, dev->otherend_id, pages[i], false, &refs[i]);
		if (rc) {
			for (unsigned j = 0; j < i; j++)
				s.end_deferred(refs[j], nullptr);
			for (void *q : pages)
				kapi_page_free(static_cast<kapi_page *>(q));
			return rc;
		}
	}
	void *alias = arena::map_contiguous(pages.data(), nr_pages, false);
	if (!alias) {
		s.violation("internal: map_contiguous failed");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nr_pages; i++)
		grefs[i] = refs[i];
	s.ring_setups[alias] = FakeXen::State::RingSetup{nr_pages, pages};
	*vaddr = alias;
	return 0;
}

void kapi_xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, uint32_t *grefs) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	std::vector<void *> pages;
	if (*vaddr) {
		auto it = s.ring_setups.find(*vaddr);
		if (it == s.ring_setups.end() || it->second.n != nr_pages) {
			s.violation("teardown_ring of a ring that setup_ring did not make");
			return;
		}
		pages = it->second.pages;
		arena::unmap_contiguous(*vaddr, nr_pages);
		s.ring_setups.erase(it);
	}
	for (unsigned i = 0; i < nr_pages; i++) {
		if (grefs[i] != UINT32_MAX) {
			// Kept alive until the peer unmaps: the fake is kinder
			// than Linux here, and counts it (deferred_pending).
			s.end_deferred(grefs[i], i < pages.size() ? pages[i] : nullptr);
			grefs[i] = UINT32_MAX;
		} else if (i < pages.size()) {
			kapi_page_free(static_cast<kapi_page *>(pages[i]));
		}
	}
	*vaddr = nullptr;
}

int kapi_xenbus_map_ring(struct kapi_xenbus_device *dev, const uint32_t *grefs, unsigned int nr_grefs,
			 void **vaddr) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	*vaddr = nullptr;
	if (nr_grefs == 0 || nr_grefs > xbc::host::kMaxRingGrants)
		return -EINVAL;
	if (!xbc::host::take_alloc())
		return -ENOMEM;
	s.gst.map_calls++;
	std::vector<uint32_t> handles;
	std::vector<void *> frontend_pages;
	for (unsigned i = 0; i < nr_grefs; i++) {
		s.gst.map_ops++;
		uint32_t h;
		const int16_t st = s.map_one(grefs[i], dev->otherend_id, dev->domid, false, nullptr, &h);
		if (st != gntst::kOkay) {
			s.gst.map_failures++;
			// As __xenbus_map_ring: report, undo, -ENOENT.
			const std::string msg = "mapping in shared page " + std::to_string(grefs[i]) +
						" from domain " + std::to_string(dev->otherend_id);
			kapi_xenbus_dev_fatal(dev, st, msg.c_str());
			for (uint32_t done : handles) {
				s.gst.unmap_ops++;
				if (s.unmap_one(done, nullptr) != gntst::kOkay)
					s.violation("internal: ring unmap failed");
			}
			xbc::host::release_alloc();
			return -ENOENT;
		}
		handles.push_back(h);
		frontend_pages.push_back(s.grants.at(grefs[i]).page);
	}
	void *alias = arena::map_contiguous(frontend_pages.data(), nr_grefs, false);
	if (!alias) {
		s.violation("internal: map_contiguous failed");
		return -ENOMEM;
	}
	s.ring_maps[alias] = FakeXen::State::RingMap{nr_grefs, handles};
	*vaddr = alias;
	return 0;
}

void kapi_xenbus_unmap_ring(struct kapi_xenbus_device *, void *vaddr) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	auto it = s.ring_maps.find(vaddr);
	if (it == s.ring_maps.end()) {
		s.violation("unmap_ring of an address map_ring did not return");
		return;
	}
	s.gst.unmap_calls++;
	for (uint32_t h : it->second.handles) {
		s.gst.unmap_ops++;
		if (s.unmap_one(h, nullptr) != gntst::kOkay)
			s.violation("internal: ring unmap failed");
	}
	arena::unmap_contiguous(vaddr, it->second.n);
	s.ring_maps.erase(it);
	xbc::host::release_alloc();
}

} // extern "C"
