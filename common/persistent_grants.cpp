// SPDX-License-Identifier: GPL-2.0-only
// The backend's persistent-grant tree and its LRU rule: see
// xbc/persistent_grants.hpp.
#include "xbc/persistent_grants.hpp"

#include "kapi/log.h"
#include "kapi/sync.h"
#include "xbc/jiffies.hpp"

namespace xbc {

PersistentGrants::PersistentGrants(const PersistentGrantsConfig &cfg) noexcept
	: cfg_(cfg), timeout_jiffies_(jiffies_from_seconds(cfg.unused_timeout_s))
{
}

PersistentGrants::~PersistentGrants()
{
	// Entries still here would leak their mappings; the tree's and list's
	// own destructors report and unlink, we report the count.
	if (!XBC_CHECK(tree_.empty()))
		idle_.clear();
}

PersistentGrants::Lookup PersistentGrants::acquire(GrantRef ref, PersistentGrant **out) noexcept
{
	*out = nullptr;
	PersistentGrant *g = tree_.find(ref);
	if (!g) {
		misses_++;
		return Lookup::kMiss;
	}
	if (g->in_use_) {
		in_use_refused_++;
		kapi_log_ratelimited(KAPI_LOG_WARNING, "xbc: grant %u requested while in use\n", ref.raw());
		return Lookup::kInUse;
	}
	idle_.remove(*g);
	g->in_use_ = true;
	in_use_++;
	hits_++;
	*out = g;
	return Lookup::kHit;
}

Status PersistentGrants::add(GrantRef ref, struct kapi_page *page, GrantHandle handle, Gfp gfp,
			     PersistentGrant **out) noexcept
{
	*out = nullptr;
	if (!has_room()) {
		note_overflow();
		return Status::error(err::kBusy);
	}
	if (PersistentGrant *holder = tree_.find(ref)) {
		// Checked before allocating: a hostile peer may repeat grefs often.
		in_use_refused_++;
		*out = holder;
		return Status::error(err::kExist);
	}
	Box<PersistentGrant> g = create<PersistentGrant>(gfp, ref, page, handle);
	if (g.is_null())
		return Status::error(err::kNoMem);
	if (!XBC_CHECK(tree_.insert_or_find(*g)))
		return Status::error(err::kExist);
	in_use_++;
	added_++;
	*out = g.release();
	return Status::ok();
}

void PersistentGrants::release(PersistentGrant &g) noexcept
{
	if (!XBC_CHECK(g.in_use_))
		return;
	g.in_use_ = false;
	g.last_used_ = kapi_jiffies();
	in_use_--;
	idle_.push_back(g);
}

void PersistentGrants::evict(PersistentGrant &g, VictimList &victims) noexcept
{
	idle_.remove(g);
	tree_.erase(g);
	victims.push_back(g);
	evictions_++;
}

uint32_t PersistentGrants::select_victims(VictimList &victims, unsigned long now) noexcept
{
	const uint32_t n = size();
	const uint32_t cap = cfg_.max_grants;
	uint32_t num_clean = 0;
	if (n > cap || (n == cap && overflow_)) {
		num_clean = (cap / 100) * kLruPercentClean + (n - cap);
		num_clean = min(n, num_clean);
	}

	uint32_t total = 0;
	// Pass 1: everything idle for the timeout. The idle list is in release
	// order, so the timed-out entries are a prefix of it.
	if (timeout_jiffies_ != 0) {
		while (PersistentGrant *g = idle_.front()) {
			if (now - g->last_used_ < timeout_jiffies_)
				break;
			evict(*g, victims);
			total++;
		}
	}
	// Pass 2: least recently used idle entries up to num_clean.
	while (total < num_clean) {
		PersistentGrant *g = idle_.front();
		if (!g)
			break;	// the rest are in use
		evict(*g, victims);
		total++;
	}
	if (total > 0)
		overflow_ = false;
	return total;
}

uint32_t PersistentGrants::take_all_idle(VictimList &victims) noexcept
{
	uint32_t total = 0;
	while (PersistentGrant *g = idle_.pop_front()) {
		tree_.erase(*g);
		victims.push_back(*g);
		total++;
	}
	return total;
}

void PersistentGrants::destroy(PersistentGrant *g) noexcept
{
	Box<PersistentGrant>::adopt(g).reset();
}

PersistentGrantsStats PersistentGrants::stats() const noexcept
{
	return {hits_, misses_, in_use_refused_, added_, evictions_, size(), in_use_};
}

bool PersistentGrants::check() const noexcept
{
	if (!tree_.check().ok)
		return false;
	uint32_t busy = 0;
	for (PersistentGrant &g : tree_) {
		if (g.in_use_ == g.lru_node_.is_linked())
			return false;	// idle <=> on the idle list
		busy += g.in_use_ ? 1 : 0;
	}
	return busy == in_use_ && idle_.size() + in_use_ == tree_.size();
}

} // namespace xbc
