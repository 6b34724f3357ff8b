// SPDX-License-Identifier: GPL-2.0-only
// Internal state of the fake Xen, shared by its subsystem files
// (fake_xen.cpp: core, grant table, event channels; fake_xenbus.cpp:
// xenstore, devices, rings; fake_block.cpp: disks and bios). Not for tests:
// they use fake_xen.hpp.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/fake_xen.hpp"

// The opaque kapi handles, as the fake sees them.
struct kapi_irq {
	uint32_t port;
	uint16_t domid;		// our domain
	uint16_t remote_domid;	// who may bind the other end
	kapi_irq_fn fn;
	void *ctx;
	std::string name;
	kapi_irq *peer;
	bool pending;
	bool awaiting_eoi;
	bool in_handler;
	size_t notifies_sent, handler_runs, eois, spurious_eois;
};

struct kapi_xenbus_device {
	std::string nodename;
	std::string otherend;
	uint16_t domid;
	uint16_t otherend_id;
	int state;
	std::vector<int> history;
	std::vector<xbc::host::FatalError> fatals;
	int refs = 0;	// kapi_xenbus_device_get minus put
};

struct kapi_xenbus_watch {
	std::string path;
	kapi_xenbus_watch_fn fn;
	void *ctx;
};

struct kapi_bdev {
	xbc::host::FakeDisk *disk;
	bool readonly;
	void *holder;
};

struct kapi_bio {
	kapi_bdev *bdev;
	kapi_bio_op op;
	unsigned int flags;
	uint64_t sector;
	unsigned int nr_vecs;
	struct Vec {
		void *page;
		unsigned int len, offset;
	};
	std::vector<Vec> vecs;
	kapi_bio_done_fn done;
	void *ctx;
};

struct kapi_gnttab_free_callback {
	kapi_gnttab_free_fn fn;
	void *ctx;
	size_t count;
};

namespace xbc::host {

struct FakeXenAccess;	// befriended by FakeDisk

struct FakeXen::State {
	std::vector<std::string> violations;
	size_t sleeps_at_start = 0;

	// --- grant table
	struct Grant {
		void *page;
		uint16_t granter, grantee;
		bool readonly;
		unsigned maps;
		bool ended;		// end_access_deferred while mapped
		bool free_page;		// ... and the page is ours to free then
	};
	struct Mapping {
		uint32_t ref;
		void *page;		// backend page (nullptr for ring mappings)
		bool readonly;
	};
	struct MapFailure {
		int16_t status;
		size_t times;
	};
	uint16_t granting_domid = 1;
	uint16_t mapping_domid = 0;
	size_t grant_limit = SIZE_MAX;
	int next_map_call_err = 0;	// fail_next_map_call
	int next_unmap_call_err = 0;	// fail_next_unmap_call
	uint32_t next_ref = kFirstGrantRef;
	std::deque<uint32_t> free_refs;
	// Armed kapi_gnttab_free_callback handles, in arming order.
	std::vector<struct kapi_gnttab_free_callback *> free_callbacks;
	// A ref came free: run the armed callbacks whose count is met.
	void check_free_callbacks();
	std::map<uint32_t, Grant> grants;
	uint32_t next_handle = 0;	// Xen's handles start at 0: a valid value
	std::map<uint32_t, Mapping> mappings;
	std::map<void *, uint32_t> mapped_pages;	// backend page -> handle
	std::set<void *> foreign_pages;		// from kapi_gnttab_alloc_pages
	std::map<uint32_t, MapFailure> map_failures;
	std::map<uint32_t, MapFailure> copy_failures;	// fail_copy
	// Extra references on backend pages (hold_mapped_page): what a
	// network stack or a stuck bio keeps after the I/O completed.
	std::map<void *, unsigned> page_holds;
	std::vector<kapi_unmap_async *> deferred_unmaps;	// waiting for holds
	GnttabStats gst{};

	// --- event channels
	uint32_t next_port = 1;
	std::map<uint32_t, kapi_irq *> irqs;

	// --- xenstore
	struct Txn {
		std::map<std::string, std::string> view;
		uint64_t start_gen;
		std::set<std::string> touched;
		// Replayed on commit: (path, value) or (path, nullopt) for rm.
		std::vector<std::pair<std::string, std::optional<std::string>>> ops;
	};
	std::map<std::string, std::string> store;
	std::map<std::string, uint64_t> changed_at;	// path -> generation
	uint64_t gen = 1;
	uint32_t next_txn = 1;
	std::map<uint32_t, Txn> txns;
	size_t fail_commits = 0;
	std::function<void()> commit_hook;	// on_next_commit
	size_t fail_starts = 0;
	int fail_start_err = -12;
	size_t n_commits = 0, n_commits_failed = 0, n_aborts = 0;
	std::set<struct kapi_xenbus_watch *> watches;
	std::deque<std::pair<struct kapi_xenbus_watch *, std::string>> watch_events;
	std::vector<std::unique_ptr<kapi_xenbus_device>> devices;

	struct RingSetup {
		unsigned n;
		std::vector<void *> pages;
	};
	std::map<void *, RingSetup> ring_setups;	// frontend alias -> pages
	struct RingMap {
		unsigned n;
		std::vector<uint32_t> handles;
	};
	std::map<void *, RingMap> ring_maps;		// backend alias -> handles

	// --- block
	std::map<std::pair<uint32_t, uint32_t>, std::unique_ptr<FakeDisk>> disks;
	std::set<kapi_bdev *> bdevs;
	std::set<kapi_bio *> bios_alloced;
	std::deque<kapi_bio *> bio_queue;
	BioCompletion completion = BioCompletion::kPumped;

	void violation(const std::string &what);

	// Grant-table internals the xenbus and block parts share.
	int grant(uint16_t granter, uint16_t grantee, void *page, bool readonly, uint32_t *ref);
	void end_deferred(uint32_t ref, void *page_or_null);
	int16_t map_one(uint32_t ref, uint16_t granter_domid, uint16_t mapper_domid, bool readonly,
			void *backend_page, uint32_t *handle);
	int16_t unmap_one(uint32_t handle, void *backend_page);
	// One unmap batch as gnttab_unmap_refs runs it: statuses, stats, and
	// the injected call error.
	int unmap_batch(struct kapi_grant_unmap *ops, unsigned int nr);
	[[nodiscard]] bool any_held(const struct kapi_grant_unmap *ops, unsigned int nr) const;
	int16_t copy_one(const kapi_grant_copy &op);
	// Writes to the live store, recording the change and queueing watches.
	void store_write(const std::string &path, const std::string &value);
	bool store_rm(const std::string &path);
	void fire_watches(const std::string &changed);
	// Completes one bio (data copied, done called, bio freed).
	void complete_bio(kapi_bio *bio);
};

// The active fake; aborts with a message when a kapi call comes without one.
FakeXen::State &active_fake(const char *caller);

// Gives the fake's files access to FakeDisk internals.
struct FakeXenAccess {
	static DiskSpec &spec(FakeDisk &d) { return d.spec_; }
	static std::vector<unsigned char> &data(FakeDisk &d) { return d.data_; }
	static DiskStats &stats(FakeDisk &d) { return d.stats_; }
	static size_t &open_count(FakeDisk &d) { return d.open_count_; }
	static void *&holder(FakeDisk &d) { return d.holder_; }
	static std::vector<uint64_t> &bad_sectors(FakeDisk &d) { return d.bad_sectors_; }
	// Consumes one injected failure: 0 if none.
	static int take_failure(FakeDisk &d)
	{
		if (!d.fail_next_)
			return 0;
		d.fail_next_--;
		return d.fail_err_;
	}
	static void set_id(FakeDisk &d, uint32_t major, uint32_t minor)
	{
		d.major_ = major;
		d.minor_ = minor;
	}
};

} // namespace xbc::host
