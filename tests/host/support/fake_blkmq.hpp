// SPDX-License-Identifier: GPL-2.0-only
// Test side of the fake block layer (fake_blkmq.cpp), which implements
// kapi/blkmq.h for host tests: requests a test builds and dispatches to the
// engine's queue_rq, the disks the engine creates, and xen-blkfront's module
// parameters (blkfront/params.h) as settable values.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

#include "kapi/blkmq.h"

// The opaque request of kapi/blkmq.h, as the fake models it.
struct kapi_blk_request {
	struct Piece {
		kapi_page *page;
		unsigned int offset;
		unsigned int len;
	};
	kapi_blk_rq_info info{};
	std::vector<Piece> pieces;
	bool started = false;
	int completions = 0;	// more than 1 is a bug the test must see
	int err = 0;
	int requeues = 0;
	bool bios_detached = false;	// ended empty; its bios wait for resubmit
};

namespace xbc::host {

// A request over pages the test owns (kapi_page_alloc'd, so the fake grant
// table can share them). The pages are freed with the request unless the
// engine handed one to the deferred end-access path (kapi_blk_page_get).
class TestRequest {
public:
	// `bytes` of data starting at `offset` in the first page, spread over
	// as many pages as needed, each piece within one page.
	static TestRequest rw(kapi_blk_op op, uint64_t sector, uint32_t bytes, uint32_t offset = 0,
			      unsigned flags = 0);
	// Explicit pieces, e.g. to test coalescing or odd layouts.
	static TestRequest pieces(kapi_blk_op op, uint64_t sector,
				  const std::vector<std::pair<uint32_t, uint32_t>> &offset_len,
				  bool share_page = false);
	static TestRequest no_data(kapi_blk_op op, uint64_t sector = 0, uint32_t nr_sectors = 0);
	TestRequest(TestRequest &&o) noexcept;
	TestRequest &operator=(TestRequest &&o) noexcept = delete;
	TestRequest(const TestRequest &) = delete;
	~TestRequest();

	kapi_blk_request *get() { return rq_; }
	kapi_blk_request *operator->() { return rq_; }
	// The request's data as one byte string (pieces concatenated).
	std::vector<uint8_t> data() const;
	void fill(const std::vector<uint8_t> &bytes);
	bool done() const { return rq_->completions > 0; }

private:
	TestRequest() = default;
	kapi_blk_request *rq_ = nullptr;
	std::vector<kapi_page *> pages_;
};

// The one disk the engine created last (nullptr if none is alive).
struct FakeDiskState {
	kapi_blkmq_config cfg{};
	kapi_blkmq_ops ops{};
	void *ctx = nullptr;
	bool added = false;
	bool dead = false;
	bool quiesced = false;
	bool flush_disabled = false;
	bool discard_disabled = false;
	uint64_t capacity = 0;
	size_t capacity_changes = 0;
	size_t stops = 0;
	size_t hw_stops = 0;	// kapi_blkmq_stop_hw_queue
	size_t restarts = 0;
	size_t requeue_kicks = 0;
	size_t requeued_unkicked = 0;	// on blk-mq's requeue list, not yet kicked
	size_t bios_pending = 0;	// requests whose bios were detached
	size_t bios_resubmitted = 0;
};

class FakeBlkmq {
public:
	// The live disk, or nullptr.
	static FakeDiskState *disk();
	static size_t disks_alive();
	static size_t disks_created();
	// Dispatches as blk-mq would (start, then queue_rq on hardware queue
	// `hwq`); returns queue_rq's answer.
	static int dispatch(kapi_blk_request *rq, unsigned int hwq = 0);
	static void set_online_cpus(unsigned int n);
	// Runs inside kapi_blkmq_disk_del (del_gendisk), as whatever else
	// the kernel runs while del_gendisk waits for I/O.
	static void on_disk_del(std::function<void()> fn);
	// Runs right after put_disk: what another CPU may still be doing.
	static void on_disk_put(std::function<void()> fn);
	// An HVM guest (kapi_xen_hvm_domain), with emulated disks not unplugged.
	static void set_hvm(bool hvm, bool legacy_disks = false);
	static size_t double_completions();
	static size_t pages_held();
	static void reset();
};

// xen-blkfront's module parameters, as blkfront/params.h reads them.
struct BlkfrontParams {
	unsigned int max_indirect_segments = 32;
	unsigned int max_queues = 4;
	int max_ring_page_order = 0;
	bool trusted = true;
	bool feature_persistent = true;
};
BlkfrontParams &blkfront_params();

} // namespace xbc::host
