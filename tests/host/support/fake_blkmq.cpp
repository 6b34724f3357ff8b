// SPDX-License-Identifier: GPL-2.0-only
// Fake block layer for host tests: kapi/blkmq.h over plain structs, plus
// blkfront/params.h. Disks are counted kapi allocations, so a leaked disk
// fails the test like any leak.
#include "support/fake_blkmq.hpp"

#include <string.h>

#include <map>
#include <memory>
#include <utility>

#include <gtest/gtest.h>

#include "blkfront/params.h"
#include "kapi/memory.h"

struct kapi_blkmq_disk {
	xbc::host::FakeDiskState state;
	void *token = nullptr;	// a kapi allocation: a disk never put leaks
	bool deleted = false;	// del_gendisk ran
	bool put = false;	// put_disk ran: the kernel's memory is gone
};

namespace xbc::host {

namespace {

struct Globals {
	kapi_blkmq_disk *disk = nullptr;
	size_t alive = 0;
	size_t created = 0;
	unsigned cpus = 4;
	bool hvm = false;
	std::function<void()> on_disk_del;
	std::function<void()> on_disk_put;
	// Put disks stay readable, so a late queue op is reported, not a UAF.
	std::vector<std::unique_ptr<kapi_blkmq_disk>> graveyard;
	bool legacy_disks = false;
	size_t double_completions = 0;
	std::map<kapi_page *, int> holds;
	BlkfrontParams params;
};

Globals &g()
{
	static Globals globals;
	return globals;
}

} // namespace

BlkfrontParams &blkfront_params() { return g().params; }
FakeDiskState *FakeBlkmq::disk() { return g().disk ? &g().disk->state : nullptr; }
size_t FakeBlkmq::disks_alive() { return g().alive; }
size_t FakeBlkmq::disks_created() { return g().created; }
void FakeBlkmq::set_online_cpus(unsigned int n) { g().cpus = n; }
void FakeBlkmq::on_disk_del(std::function<void()> fn) { g().on_disk_del = std::move(fn); }
void FakeBlkmq::on_disk_put(std::function<void()> fn) { g().on_disk_put = std::move(fn); }
void FakeBlkmq::set_hvm(bool hvm, bool legacy_disks)
{
	g().hvm = hvm;
	g().legacy_disks = legacy_disks;
}
size_t FakeBlkmq::double_completions() { return g().double_completions; }

size_t FakeBlkmq::pages_held()
{
	size_t n = 0;
	for (auto &kv : g().holds)
		n += kv.second;
	return n;
}

void FakeBlkmq::reset()
{
	g().cpus = 4;
	g().hvm = false;
	g().on_disk_del = nullptr;
	g().on_disk_put = nullptr;
	g().graveyard.clear();
	g().legacy_disks = false;
	g().created = 0;
	g().double_completions = 0;
	g().params = BlkfrontParams();
}

int FakeBlkmq::dispatch(kapi_blk_request *rq, unsigned int hwq)
{
	FakeDiskState *d = disk();
	if (!d)
		return -19; // -ENODEV
	rq->started = true;
	return d->ops.queue_rq(d->ctx, hwq, rq);
}

// --- TestRequest

TestRequest TestRequest::rw(kapi_blk_op op, uint64_t sector, uint32_t bytes, uint32_t offset,
			    unsigned flags)
{
	std::vector<std::pair<uint32_t, uint32_t>> pieces;
	uint32_t left = bytes;
	uint32_t off = offset;
	while (left) {
		const uint32_t len = std::min(left, KAPI_PAGE_SIZE - off);
		pieces.push_back({off, len});
		left -= len;
		off = 0;
	}
	TestRequest r = TestRequest::pieces(op, sector, pieces);
	r.rq_->info.flags = flags;
	return r;
}

TestRequest TestRequest::pieces(kapi_blk_op op, uint64_t sector,
				const std::vector<std::pair<uint32_t, uint32_t>> &offset_len,
				bool share_page)
{
	TestRequest r;
	r.rq_ = new kapi_blk_request;
	r.rq_->info.op = op;
	r.rq_->info.sector = sector;
	uint64_t bytes = 0;
	for (size_t i = 0; i < offset_len.size(); i++) {
		kapi_page *page;
		if (share_page && !r.pages_.empty()) {
			page = r.pages_.back();
		} else {
			page = kapi_page_alloc(KAPI_GFP_KERNEL);
			r.pages_.push_back(page);
		}
		r.rq_->pieces.push_back({page, offset_len[i].first, offset_len[i].second});
		bytes += offset_len[i].second;
	}
	r.rq_->info.nr_sectors = static_cast<uint32_t>(bytes / 512);
	r.rq_->info.nr_phys_segments = static_cast<uint32_t>(offset_len.size());
	return r;
}

TestRequest TestRequest::no_data(kapi_blk_op op, uint64_t sector, uint32_t nr_sectors)
{
	TestRequest r;
	r.rq_ = new kapi_blk_request;
	r.rq_->info.op = op;
	r.rq_->info.sector = sector;
	r.rq_->info.nr_sectors = nr_sectors;
	return r;
}

TestRequest::TestRequest(TestRequest &&o) noexcept : rq_(o.rq_), pages_(std::move(o.pages_))
{
	o.rq_ = nullptr;
	o.pages_.clear();
}

TestRequest::~TestRequest()
{
	for (kapi_page *p : pages_) {
		auto it = g().holds.find(p);
		if (it != g().holds.end() && it->second > 0) {
			// The deferred end-access path owns (and frees) it now.
			if (--it->second == 0)
				g().holds.erase(it);
			continue;
		}
		kapi_page_free(p);
	}
	delete rq_;
}

std::vector<uint8_t> TestRequest::data() const
{
	std::vector<uint8_t> out;
	for (auto &piece : rq_->pieces) {
		auto *base = static_cast<uint8_t *>(kapi_page_address(piece.page)) + piece.offset;
		out.insert(out.end(), base, base + piece.len);
	}
	return out;
}

void TestRequest::fill(const std::vector<uint8_t> &bytes)
{
	size_t at = 0;
	for (auto &piece : rq_->pieces) {
		auto *base = static_cast<uint8_t *>(kapi_page_address(piece.page)) + piece.offset;
		for (unsigned i = 0; i < piece.len && at < bytes.size(); i++)
			base[i] = bytes[at++];
	}
}

} // namespace xbc::host

using xbc::host::g;

namespace {

// Every queue op goes through here: after put_disk the kernel's queue and
// tag set are freed memory (the UAF of an irq still bound at remove).
kapi_blkmq_disk *live(kapi_blkmq_disk *disk, const char *op)
{
	if (disk && disk->put)
		ADD_FAILURE() << op << " on a disk after put_disk: use after free";
	return disk;
}

} // namespace

extern "C" {

// --- requests

void kapi_blk_rq_get_info(struct kapi_blk_request *rq, struct kapi_blk_rq_info *info) noexcept
{
	*info = rq->info;
}

int kapi_blk_rq_for_each_segment(struct kapi_blk_request *rq, kapi_blk_segment_fn fn, void *ctx) noexcept
{
	for (auto &p : rq->pieces) {
		const int rc = fn(ctx, p.page, p.offset, p.len);
		if (rc)
			return rc;
	}
	return 0;
}

void kapi_blk_rq_complete(struct kapi_blk_request *rq, int err) noexcept
{
	if (rq->completions++)
		g().double_completions++;
	rq->err = err;
}

void kapi_blk_rq_requeue(struct kapi_blk_request *rq) noexcept
{
	rq->requeues++;
	rq->started = false;
	if (g().disk)
		g().disk->state.requeued_unkicked++;
}

void kapi_blk_rq_detach_bios(struct kapi_blkmq_disk *disk, struct kapi_blk_request *rq) noexcept
{
	live(disk, "detach_bios");
	rq->bios_detached = true;
	disk->state.bios_pending++;
	kapi_blk_rq_complete(rq, 0);	// ended empty, as blk_mq_end_request
}

void kapi_blkmq_resubmit_bios(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "resubmit_bios");
	disk->state.bios_resubmitted += disk->state.bios_pending;
	disk->state.bios_pending = 0;
}

void kapi_blk_page_get(struct kapi_page *page) noexcept
{
	g().holds[page]++;
}

// --- disks

int kapi_blkmq_disk_alloc(const struct kapi_blkmq_config *cfg, const struct kapi_blkmq_ops *ops,
			  void *ctx, struct kapi_blkmq_disk **out) noexcept
{
	if (!cfg->nr_hw_queues || !cfg->queue_depth || !cfg->logical_block_size)
		return -22;
	void *token = kapi_zalloc(1, KAPI_GFP_KERNEL);
	if (!token)
		return -12;
	auto *d = new kapi_blkmq_disk;
	d->token = token;
	d->state.cfg = *cfg;
	d->state.ops = *ops;
	d->state.ctx = ctx;
	d->state.capacity = cfg->capacity;
	g().disk = d;
	g().alive++;
	g().created++;
	*out = d;
	return 0;
}

int kapi_blkmq_disk_add(struct kapi_blkmq_disk *disk, struct kapi_xenbus_device *) noexcept
{
	live(disk, "device_add_disk")->state.added = true;
	return 0;
}

void kapi_blkmq_disk_del(struct kapi_blkmq_disk *disk) noexcept
{
	if (!live(disk, "del_gendisk"))
		return;
	EXPECT_FALSE(disk->deleted) << "del_gendisk twice";
	if (g().on_disk_del) {
		auto fn = std::move(g().on_disk_del);
		g().on_disk_del = nullptr;
		fn();
	}
	EXPECT_FALSE(disk->state.quiesced) << "disk freed while quiesced: del_gendisk would hang";
	EXPECT_EQ(disk->state.requeued_unkicked, 0u)
		<< "requeued requests never kicked: del_gendisk would hang";
	disk->deleted = true;
}

void kapi_blkmq_disk_put(struct kapi_blkmq_disk *disk) noexcept
{
	if (!live(disk, "put_disk"))
		return;
	if (g().disk == disk)
		g().disk = nullptr;
	g().alive--;
	disk->put = true;
	kapi_free(disk->token);
	disk->token = nullptr;
	g().graveyard.emplace_back(disk);
	if (g().on_disk_put) {
		auto fn = std::move(g().on_disk_put);
		g().on_disk_put = nullptr;
		fn();	// what other CPUs still do after put_disk returned
	}
}

void kapi_blkmq_set_capacity(struct kapi_blkmq_disk *disk, uint64_t sectors) noexcept
{
	live(disk, "set_capacity");
	disk->state.capacity = sectors;
	disk->state.capacity_changes++;
}

int kapi_blkmq_set_max_segments(struct kapi_blkmq_disk *disk, unsigned int max_segments,
				unsigned int max_hw_sectors) noexcept
{
	live(disk, "set_max_segments");
	disk->state.cfg.max_segments = max_segments;
	disk->state.cfg.max_hw_sectors = max_hw_sectors;
	return 0;
}

void kapi_blkmq_mark_dead(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "mark_dead");
	disk->state.dead = true;
	disk->state.capacity = 0;
}

void kapi_blkmq_disable_flush(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "disable_flush");
	if (disk)
		disk->state.flush_disabled = true;
}

void kapi_blkmq_disable_discard(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "disable_discard");
	if (disk)
		disk->state.discard_disabled = true;
}

void kapi_blkmq_stop_queues(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "stop_queues");
	disk->state.stops++;
}

void kapi_blkmq_stop_hw_queue(struct kapi_blkmq_disk *disk, unsigned int) noexcept
{
	live(disk, "stop_hw_queue");
	if (disk)
		disk->state.hw_stops++;
}

void kapi_blkmq_quiesce(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "quiesce");
	disk->state.quiesced = true;
}

void kapi_blkmq_unquiesce(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "unquiesce");
	disk->state.quiesced = false;
}

void kapi_blkmq_start_stopped_queues(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "start_stopped_queues");
	if (disk)
		disk->state.restarts++;
}

void kapi_blkmq_kick_requeue(struct kapi_blkmq_disk *disk) noexcept
{
	live(disk, "kick_requeue");
	disk->state.requeue_kicks++;
	disk->state.requeued_unkicked = 0;
}

unsigned int kapi_num_online_cpus(void) noexcept { return g().cpus; }
bool kapi_xen_hvm_with_legacy_disks(void) noexcept { return g().hvm && g().legacy_disks; }
bool kapi_xen_hvm_domain(void) noexcept { return g().hvm; }

void kapi_xenbus_frontend_closed(struct kapi_xenbus_device *dev) noexcept
{
	kapi_xenbus_switch_state(dev, KAPI_XENBUS_CLOSED);
}

// --- blkfront/params.h

unsigned int xbc_blkfront_param_max_indirect_segments(void) noexcept { return g().params.max_indirect_segments; }
unsigned int xbc_blkfront_param_max_queues(void) noexcept { return g().params.max_queues; }
int xbc_blkfront_param_max_ring_page_order(void) noexcept { return g().params.max_ring_page_order; }
bool xbc_blkfront_param_trusted(void) noexcept { return g().params.trusted; }
bool xbc_blkfront_param_feature_persistent(void) noexcept { return g().params.feature_persistent; }

} // extern "C"
