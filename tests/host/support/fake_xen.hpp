// SPDX-License-Identifier: GPL-2.0-only
// A fake Xen for host tests: userspace implementations of the Xen-facing
// kapi headers (gnttab.h, evtchn.h, xenbus.h, block.h) that behave like the
// real thing closely enough for engine bugs to show:
//
//  - grant table: a frontend's granted page and the backend's mapping of it
//    are the same memory (see page_arena.hpp), read-only grants map
//    read-only (a write faults), ended or unknown refs fail their own op;
//  - event channels: a notify marks the peer pending; handlers run only when
//    the test pumps (run_pending_irqs), and stay masked until lateeoi;
//  - xenstore: an in-memory tree with transactions (conflicts and injected
//    -EAGAIN), watches delivered when pumped (run_watches), as xenwatch does;
//  - xenbus devices, shared rings (setup/teardown, map/unmap);
//  - block devices over in-memory disks, bios completed when pumped.
//
// Exactly one FakeXen is active at a time: construct it in the test (or a
// fixture); the kapi calls act on it. Its destructor fails the test if any
// grant, mapping, irq, watch, open disk, bio or recorded violation is left
// (see leftovers()), then cleans up. Engine misuse that real Xen/Linux would
// punish (freeing a granted page, mapping onto a page that is not from
// kapi_gnttab_alloc_pages, writing a read-only disk...) is recorded as a
// violation rather than crashing, so tests report it.
//
// Kernel-side allocations (pages, bound irqs, watches, bios, open bdevs,
// ring mappings) count in xbc::host::alloc_stats() and obey
// fail_allocs_after(), so for_each_alloc_failure() drives their error paths.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kapi/block.h"
#include "kapi/evtchn.h"
#include "kapi/gnttab.h"
#include "kapi/xenbus.h"

namespace xbc::host {

// GNTST_* (xen/interface/grant_table.h).
namespace gntst {
inline constexpr int16_t kOkay = 0;
inline constexpr int16_t kGeneralError = -1;
inline constexpr int16_t kBadDomain = -2;
inline constexpr int16_t kBadGntref = -3;
inline constexpr int16_t kBadHandle = -4;
inline constexpr int16_t kPermissionDenied = -8;
} // namespace gntst

// The first ref Linux hands out (GNTTAB_NR_RESERVED_ENTRIES).
inline constexpr uint32_t kFirstGrantRef = 8;

struct GnttabStats {
	size_t map_calls;	// kapi_gnttab_map hypercalls (+ ring maps)
	size_t map_ops;		// operations in them
	size_t map_failures;	// operations with status != okay
	size_t unmap_calls;
	size_t unmap_ops;
	size_t unmap_failures;
	size_t unmaps_deferred;	// async unmaps that found a page held
	size_t grants_made;	// kapi_gnttab_grant_page successes (+ ring pages)
	size_t live_grants;	// granted, not yet fully ended (incl. deferred)
	size_t live_mappings;	// mapped handles (kapi_gnttab_map + ring pages)
	size_t try_end_refused;	// try_end_access == false (still mapped)
	size_t deferred_pending;// ended deferred, still mapped by the peer
	size_t deferred_freed;	// pages released by the deferred path
	size_t copy_calls;	// kapi_gnttab_copy hypercalls
	size_t copy_ops;	// operations in them
	size_t copy_failures;	// operations with status != okay
	uint64_t bytes_copied_in;	// grant -> backend page
	uint64_t bytes_copied_out;	// backend page -> grant
	size_t free_callbacks_armed;	// kapi_gnttab_free_callback_arm that armed
	size_t free_callbacks_run;	// ... and that ran
};

struct IrqInfo {
	uint32_t port;
	std::string name;
	bool connected;		// has a bound peer
	bool pending;
	bool awaiting_eoi;	// handler ran, lateeoi not yet called
	size_t notifies_sent;	// kapi_evtchn_notify on this end
	size_t handler_runs;
	size_t eois;
	size_t spurious_eois;
};

struct FatalError {
	int err;
	std::string msg;
};

struct DiskSpec {
	uint64_t nr_sectors = 2048;		// 512-byte units
	uint32_t logical_block_size = 512;
	uint32_t physical_block_size = 512;
	bool write_cache = true;
	bool readonly = false;
	bool removable = false;
	bool cdrom = false;
	bool discard = false;
	bool secure_erase = false;
	uint32_t discard_granularity = 0;	// bytes
	uint32_t discard_alignment = 0;		// bytes
};

struct DiskStats {
	size_t opens;
	size_t bios_submitted;
	size_t bios_completed;
	size_t bios_failed;
	size_t reads, writes, flushes;	// by op (KAPI_BIO_FLUSH counts in flushes)
	size_t preflush, fua;		// by flag
	size_t discards, secure_erases;
	uint64_t bytes_read, bytes_written;
};

class FakeDisk {
public:
	// The disk's bytes; tests fill and check them directly.
	unsigned char *data() noexcept { return data_.data(); }
	uint64_t size_bytes() const noexcept { return data_.size(); }
	const DiskSpec &spec() const noexcept { return spec_; }
	// Online resize: the next query sees the new size.
	void resize(uint64_t nr_sectors);
	// The next n bios (and discards) fail with err.
	void fail_next_io(size_t n, int err = -5 /* -EIO */) noexcept;
	// Every bio touching this sector fails with -EIO until cleared.
	void fail_sector(uint64_t sector) { bad_sectors_.push_back(sector); }
	void clear_failures() noexcept;
	const DiskStats &stats() const noexcept { return stats_; }
	bool is_open() const noexcept { return open_count_ > 0; }

private:
	friend struct FakeXenAccess;
	DiskSpec spec_;
	std::vector<unsigned char> data_;
	std::vector<uint64_t> bad_sectors_;
	size_t fail_next_ = 0;
	int fail_err_ = -5;
	size_t open_count_ = 0;
	void *holder_ = nullptr;
	DiskStats stats_{};
	uint32_t major_ = 0, minor_ = 0;
};

// A frontend/backend vbd pair as the toolstack creates it.
struct VbdPair {
	kapi_xenbus_device *front;
	kapi_xenbus_device *back;
	std::string front_path;		// /local/domain/<fe>/device/vbd/<devid>
	std::string back_path;		// /local/domain/<be>/backend/vbd/<fe>/<devid>
};

enum class BioCompletion {
	kPumped,	// queued until complete_bios() (default)
	kInline,	// completed inside kapi_bio_submit
};

class FakeXen {
public:
	FakeXen();
	~FakeXen();
	FakeXen(const FakeXen &) = delete;
	FakeXen &operator=(const FakeXen &) = delete;

	// --- domains: kapi_gnttab_grant_page grants as `granting` (default 1,
	// the frontend); kapi_gnttab_map maps as `mapping` (default 0, dom0).
	// Ring calls use their device's own domid.
	void set_granting_domid(uint16_t domid) noexcept;
	void set_mapping_domid(uint16_t domid) noexcept;

	// --- grant table
	// Every map of `ref` fails with `status` (next `times` maps, or always).
	void fail_map(uint32_t ref, int16_t status = gntst::kGeneralError, size_t times = SIZE_MAX);
	void clear_map_failures();
	// Every copy from or to `ref` fails with `status` (next `times`, or always).
	void fail_copy(uint32_t ref, int16_t status = gntst::kGeneralError, size_t times = SIZE_MAX);
	// The next kapi_gnttab_map runs every operation as usual (statuses and
	// handles are real) and then returns `err`: Linux's gnttab_map_refs
	// does so when the p2m update of one op fails after the hypercall
	// mapped the others (that op alone reports an error status).
	void fail_next_map_call(int err) noexcept;
	// The next kapi_gnttab_unmap runs every operation as usual and then
	// returns `err`, as gnttab_unmap_refs_sync does when a step after the
	// hypercall fails: each op's status still says whether it unmapped.
	void fail_next_unmap_call(int err) noexcept;
	// Someone else (a network stack, a stuck bio) takes a reference on
	// the backend page that maps `ref` now: the kernel's synchronous unmap
	// would wait for it without bound (a violation here), the asynchronous
	// one defers until the holds are dropped. False if `ref` has no mapping.
	bool hold_mapped_page(uint32_t ref);
	// Drops every hold; deferred unmaps are retried on the workqueue
	// (host::run_works()), as the kernel's delayed work does. Returns how
	// many were queued.
	size_t drop_page_holds();
	// Asynchronous unmaps waiting for a hold to be dropped.
	[[nodiscard]] size_t deferred_unmaps() const noexcept;
	// kapi_gnttab_grant_page returns -ENOSPC while this many grants are live.
	void set_grant_limit(size_t max_live_grants) noexcept;
	[[nodiscard]] GnttabStats gnttab() const noexcept;
	// How many live mappings `ref` has (0 if unknown).
	[[nodiscard]] unsigned map_count(uint32_t ref) const;
	[[nodiscard]] bool is_granted(uint32_t ref) const;
	[[nodiscard]] bool grant_is_readonly(uint32_t ref) const;
	// The frontend page behind a live grant, or nullptr.
	[[nodiscard]] void *granted_page(uint32_t ref) const;

	// --- event channels
	// Runs every pending, unmasked handler (a handler stays masked from its
	// run until lateeoi), repeating while handlers raise more events.
	// Returns the number of handler runs.
	size_t run_pending_irqs(size_t max_runs = 100000);
	// An event on `port` with no work behind it (a peer's empty kick).
	void raise(uint32_t port);
	[[nodiscard]] IrqInfo irq(uint32_t port) const;
	[[nodiscard]] std::optional<uint32_t> port_by_name(const std::string &name) const;
	[[nodiscard]] size_t bound_irqs() const noexcept;

	// --- xenstore (test side: no transaction; writes fire watches)
	void xs_write(const std::string &path, const std::string &value);
	[[nodiscard]] std::optional<std::string> xs_read(const std::string &path) const;
	void xs_rm(const std::string &path);
	// The next n transaction commits fail with -EAGAIN (their writes dropped).
	void fail_next_commits(size_t n) noexcept;
	// Runs `hook` once, inside the next transaction commit and before
	// xenstored's conflict check: what another writer did meanwhile.
	void on_next_commit(std::function<void()> hook);
	// The next n transaction starts fail with err.
	void fail_next_transaction_starts(size_t n, int err = -12 /* -ENOMEM */) noexcept;
	[[nodiscard]] size_t commits() const noexcept;
	[[nodiscard]] size_t commits_failed() const noexcept;	// -EAGAIN, injected or conflict
	[[nodiscard]] size_t aborts() const noexcept;
	// Delivers queued watch events (registration fires once, as in Linux).
	size_t run_watches(size_t max_events = 100000);
	[[nodiscard]] size_t pending_watch_events() const noexcept;
	[[nodiscard]] size_t live_watches() const noexcept;

	// --- xenbus devices: own node, peer's node, own and peer domid.
	kapi_xenbus_device *add_device(const std::string &nodename, const std::string &otherend,
				       uint16_t domid, uint16_t otherend_id);
	void remove_device(kapi_xenbus_device *dev);
	// Both ends of a vbd, with the toolstack's keys (state=1, backend,
	// backend-id, frontend, frontend-id, virtual-device, online, mode, ...).
	VbdPair add_vbd_pair(uint16_t front_domid = 1, uint16_t back_domid = 0, uint32_t devid = 51712);
	// What the device last switched itself to (0 until it switched).
	[[nodiscard]] int device_state(const kapi_xenbus_device *dev) const noexcept;
	[[nodiscard]] std::vector<int> state_history(const kapi_xenbus_device *dev) const;
	[[nodiscard]] const std::vector<FatalError> &fatal_errors(const kapi_xenbus_device *dev) const;
	// kapi_xenbus_setup_ring / kapi_xenbus_map_ring calls currently live.
	[[nodiscard]] size_t live_rings() const noexcept;
	[[nodiscard]] size_t live_ring_maps() const noexcept;

	// --- block devices
	FakeDisk &add_disk(uint32_t major, uint32_t minor, const DiskSpec &spec = DiskSpec());
	void set_bio_completion(BioCompletion mode) noexcept;
	// Completes queued bios, oldest first (or newest first with lifo, to
	// shake out order assumptions). Returns how many completed.
	size_t complete_bios(size_t max = SIZE_MAX, bool lifo = false);
	[[nodiscard]] size_t bios_in_flight() const noexcept;

	// --- everything: pumps watches, irqs and bios until nothing moves.
	size_t run_until_idle(size_t max_rounds = 10000);

	// --- checks
	// "" when no grant, mapping, irq, watch, ring, open disk, in-flight bio
	// or violation is left; otherwise one line per kind of leftover.
	[[nodiscard]] std::string leftovers() const;
	[[nodiscard]] const std::vector<std::string> &violations() const noexcept;
	// Returns and forgets the violations (for tests that provoke one).
	std::vector<std::string> take_violations();
	// Sleeping allocations / mutex locks made in irq or bio-completion
	// context since the fake started (or the last take); forgets them.
	size_t take_atomic_sleeps() noexcept;

	struct State;

private:
	State *s_;
};

} // namespace xbc::host
