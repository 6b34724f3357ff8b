// SPDX-License-Identifier: GPL-2.0-only
// A scripted blkif backend for the blkfront engine's host tests. It plays
// the dom0 side over the fake Xen exactly as blkback does on the wire:
// offers its keys and InitWait, maps the frontend's rings and binds its
// event channels, maps each segment's grant (read-only for writes unless
// persistent, kept mapped when persistent), moves data to and from an
// in-memory disk, and answers. Tests can hold responses, or write any
// response (hostile ones included) straight into the ring.
#pragma once

#include <string.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kapi/evtchn.h"
#include "kapi/gnttab.h"
#include "kapi/xenbus.h"
#include "support/fake_xen.hpp"
#include "xbc/blkif_ring.hpp"

namespace xbc::host {

struct BackendOptions {
	uint64_t sectors = 8192;		// 4 MiB
	uint32_t sector_size = 512;
	uint32_t physical_sector_size = 4096;
	uint32_t info = 0;
	bool persistent = true;			// feature-persistent offered
	uint32_t max_indirect_segments = 256;	// 0: key absent
	uint32_t max_ring_page_order = 4;
	uint32_t max_queues = 4;
	bool flush_cache = true;
	bool barrier = false;
	bool discard = true;
	bool discard_secure = false;
};

class ScriptedBackend {
public:
	struct Ring {
		ScriptedBackend *be = nullptr;
		unsigned index = 0;
		void *area = nullptr;
		unsigned pages = 0;
		kapi_irq *irq = nullptr;
		blkif::BlkifBackRing ring;
		std::vector<blkif::Request> held;	// answered later, in order
		bool kicked = false;
	};

	// The ring threads: handles every kicked ring. True if any was.
	bool pump()
	{
		bool any = false;
		for (auto &r : rings_) {
			if (!r->kicked)
				continue;
			r->kicked = false;
			any = true;
			process(*r);
		}
		return any;
	}

	ScriptedBackend(FakeXen &xen, const VbdPair &pair, BackendOptions o = BackendOptions())
		: xen_(xen), pair_(pair), o_(o), disk_(o.sectors * 512, 0)
	{
	}
	~ScriptedBackend() { disconnect(); }

	// blkback's probe: the offer keys, then InitWait.
	void offer()
	{
		const std::string &b = pair_.back_path;
		if (o_.max_indirect_segments)
			xen_.xs_write(b + "/feature-max-indirect-segments", std::to_string(o_.max_indirect_segments));
		xen_.xs_write(b + "/multi-queue-max-queues", std::to_string(o_.max_queues));
		xen_.xs_write(b + "/max-ring-page-order", std::to_string(o_.max_ring_page_order));
		xen_.xs_write(b + "/feature-persistent", o_.persistent ? "1" : "0");
		kapi_xenbus_switch_state(pair_.back, KAPI_XENBUS_INITWAIT);
	}

	std::string front_key(const std::string &k) const
	{
		auto v = xen_.xs_read(pair_.front_path + "/" + k);
		return v ? *v : std::string();
	}

	// blkback's connect: map every ring, bind, publish the disk, Connected.
	void connect()
	{
		persistent_used_ = o_.persistent && front_key("feature-persistent") == "1";
		const std::string nq = front_key("multi-queue-num-queues");
		const unsigned queues = nq.empty() ? 1 : unsigned(std::stoul(nq));
		const std::string order = front_key("ring-page-order");
		const unsigned pages = order.empty() ? 1 : 1u << std::stoul(order);
		for (unsigned q = 0; q < queues; q++) {
			const std::string prefix = queues > 1 ? "queue-" + std::to_string(q) + "/" : "";
			auto r = std::make_unique<Ring>();
			r->be = this;
			r->index = q;
			r->pages = pages;
			std::vector<uint32_t> refs;
			for (unsigned i = 0; i < pages; i++) {
				const std::string key = pages == 1 ? "ring-ref" : "ring-ref" + std::to_string(i);
				refs.push_back(uint32_t(std::stoul(front_key(prefix + key))));
			}
			ASSERT_EQ(kapi_xenbus_map_ring(pair_.back, refs.data(), pages, &r->area), 0);
			auto attached = blkif::BlkifBackRing::attach(blkif::Abi::kNative, r->area,
								     size_t(pages) * KAPI_PAGE_SIZE);
			ASSERT_TRUE(attached.is_ok());
			r->ring = attached.take();
			const uint32_t port = uint32_t(std::stoul(front_key(prefix + "event-channel")));
			ASSERT_EQ(kapi_evtchn_bind_interdomain(pair_.back, port, &ScriptedBackend::irq, r.get(),
							       "test-backend", &r->irq),
				  0);
			rings_.push_back(std::move(r));
		}
		publish_disk();
		kapi_xenbus_switch_state(pair_.back, KAPI_XENBUS_CONNECTED);
	}

	void publish_disk()
	{
		const std::string &b = pair_.back_path;
		xen_.xs_write(b + "/sectors", std::to_string(o_.sectors));
		xen_.xs_write(b + "/info", std::to_string(o_.info));
		xen_.xs_write(b + "/sector-size", std::to_string(o_.sector_size));
		xen_.xs_write(b + "/physical-sector-size", std::to_string(o_.physical_sector_size));
		xen_.xs_write(b + "/feature-flush-cache", o_.flush_cache ? "1" : "0");
		xen_.xs_write(b + "/feature-barrier", o_.barrier ? "1" : "0");
		xen_.xs_write(b + "/feature-discard", o_.discard ? "1" : "0");
		if (o_.discard) {
			xen_.xs_write(b + "/discard-granularity", "4096");
			xen_.xs_write(b + "/discard-alignment", "0");
			xen_.xs_write(b + "/discard-secure", o_.discard_secure ? "1" : "0");
		}
	}

	// Unmaps everything and unbinds, as blkback's disconnect.
	void disconnect()
	{
		for (auto &kv : persistent_) {
			kapi_grant_unmap u{kv.second.page, kv.second.handle, 0};
			kapi_gnttab_unmap(&u, 1);
			kapi_gnttab_free_pages(1, &kv.second.page);
		}
		persistent_.clear();
		for (auto &r : rings_) {
			kapi_evtchn_unbind(r->irq);
			if (r->area)
				kapi_xenbus_unmap_ring(pair_.back, r->area);
		}
		rings_.clear();
	}

	// --- what the tests steer
	bool hold = false;			// queue requests instead of answering
	// Overrides the answer: return false to send nothing for this request.
	std::function<bool(const blkif::Request &, blkif::Response *)> rewrite;

	Ring &ring(unsigned i = 0) { return *rings_.at(i); }
	size_t nr_rings() const { return rings_.size(); }
	std::vector<uint8_t> &disk() { return disk_; }
	bool persistent_used() const { return persistent_used_; }
	size_t requests_seen() const { return requests_seen_; }
	size_t indirect_seen() const { return indirect_seen_; }
	size_t persistent_mapped() const { return persistent_.size(); }
	const std::vector<blkif::Request> &log() const { return log_; }

	// Answers every held request of ring i.
	void release(unsigned i = 0)
	{
		Ring &r = ring(i);
		auto held = std::move(r.held);
		r.held.clear();
		for (auto &req : held)
			answer(r, req, execute(req));
		if (r.ring.publish_responses())
			kapi_evtchn_notify(r.irq);
	}

	// Puts raw bytes in the next response slot and publishes (hostile tests).
	void push_raw_response(unsigned i, const blkif::Response &rsp)
	{
		Ring &r = ring(i);
		ASSERT_TRUE(r.ring.push_response(rsp).is_ok());
		if (r.ring.publish_responses())
			kapi_evtchn_notify(r.irq);
	}

	// Writes rsp_prod directly: a backend claiming responses it never made.
	void set_rsp_prod(unsigned i, uint32_t v)
	{
		auto *hdr = static_cast<SringHeader *>(ring(i).area);
		hdr->rsp_prod = v;
		kapi_evtchn_notify(ring(i).irq);
	}

	// Maps a gref as blkback would (for tests that keep a grant mapped).
	struct Mapping {
		kapi_page *page;
		uint32_t handle;
	};
	Mapping map(uint32_t gref, bool readonly)
	{
		Mapping m{nullptr, 0};
		EXPECT_EQ(kapi_gnttab_alloc_pages(1, &m.page), 0);
		kapi_grant_map op{gref, uint16_t(1), readonly, m.page, 0, 0};
		EXPECT_EQ(kapi_gnttab_map(&op, 1), 0);
		EXPECT_EQ(op.status, 0) << "map of gref " << gref;
		m.handle = op.handle;
		return m;
	}
	void unmap(Mapping m)
	{
		kapi_grant_unmap u{m.page, m.handle, 0};
		EXPECT_EQ(kapi_gnttab_unmap(&u, 1), 0);
		kapi_gnttab_free_pages(1, &m.page);
	}

private:
	// Hard-irq context: only note the kick; the work runs in pump(), as
	// blkback's ring thread does it.
	static void irq(void *ctx) noexcept
	{
		Ring *r = static_cast<Ring *>(ctx);
		r->kicked = true;
		kapi_evtchn_lateeoi(r->irq, false);
	}

	bool process(Ring &r)
	{
		bool any = false;
		for (;;) {
			auto n = r.ring.pending_requests();
			EXPECT_TRUE(n.is_ok());
			if (n.is_error())
				return any;
			blkif::Limits limits{Sector(o_.sectors), uint16_t(o_.max_indirect_segments)};
			blkif::Decoded d;
			while (r.ring.pop_request(limits, &d)) {
				any = true;
				requests_seen_++;
				EXPECT_TRUE(d.ok()) << "frontend sent a bad request, error " << int(d.error);
				log_.push_back(d.request);
				if (hold)
					r.held.push_back(d.request);
				else
					answer(r, d.request, execute(d.request));
			}
			if (r.ring.publish_responses())
				kapi_evtchn_notify(r.irq);
			auto more = r.ring.final_check_for_requests();
			if (more.is_error() || !more.value())
				return any;
		}
	}

	void answer(Ring &r, const blkif::Request &req, blkif::RspStatus status)
	{
		blkif::Response rsp{req.id, req.data_op, status};
		if (rewrite && !rewrite(req, &rsp))
			return;
		EXPECT_TRUE(r.ring.push_response(rsp).is_ok());
	}

	// Maps, copies, unmaps (or keeps) each grant; returns the status.
	blkif::RspStatus execute(const blkif::Request &req)
	{
		if (req.data_op == blkif::Op::kDiscard) {
			const uint64_t at = req.sector.bytes(), len = req.nr_sectors.bytes();
			if (at + len <= disk_.size())
				memset(disk_.data() + at, 0, len);
			return blkif::RspStatus::kOkay;
		}
		std::vector<blkif::Segment> segs;
		if (req.is_indirect()) {
			indirect_seen_++;
			std::vector<Mapping> maps;
			std::vector<const void *> copies;
			std::vector<std::vector<uint8_t>> bufs(req.indirect.nr_pages);
			for (unsigned i = 0; i < req.indirect.nr_pages; i++) {
				Mapping m = grab(req.indirect.grefs[i].raw(), true);
				bufs[i].assign(static_cast<uint8_t *>(kapi_page_address(m.page)),
					       static_cast<uint8_t *>(kapi_page_address(m.page)) + KAPI_PAGE_SIZE);
				copies.push_back(bufs[i].data());
				drop(req.indirect.grefs[i].raw(), m);
			}
			segs.resize(req.indirect.nr_segments);
			auto total = blkif::decode_indirect_segments(req, copies.data(), copies.size(), segs.data(),
								     segs.size(), Sector(o_.sectors));
			EXPECT_TRUE(total.is_ok());
			if (total.is_error())
				return blkif::RspStatus::kError;
		} else {
			segs.assign(req.segments, req.segments + req.nr_segments);
		}
		const bool write = req.data_op != blkif::Op::kRead;
		uint64_t pos = req.sector.bytes();
		for (const blkif::Segment &s : segs) {
			Mapping m = grab(s.gref.raw(), write && !persistent_used_);
			auto *page = static_cast<uint8_t *>(kapi_page_address(m.page)) + s.offset_bytes();
			if (pos + s.length_bytes() > disk_.size())
				return blkif::RspStatus::kError;
			if (write)
				memcpy(disk_.data() + pos, page, s.length_bytes());
			else
				memcpy(page, disk_.data() + pos, s.length_bytes());
			pos += s.length_bytes();
			drop(s.gref.raw(), m);
		}
		return blkif::RspStatus::kOkay;
	}

	Mapping grab(uint32_t gref, bool readonly)
	{
		if (persistent_used_) {
			auto it = persistent_.find(gref);
			if (it != persistent_.end())
				return it->second;
			Mapping m = map(gref, false);
			persistent_[gref] = m;
			return m;
		}
		return map(gref, readonly);
	}

	void drop(uint32_t gref, Mapping m)
	{
		if (persistent_used_ && persistent_.count(gref))
			return;
		unmap(m);
	}

	FakeXen &xen_;
	VbdPair pair_;
	BackendOptions o_;
	std::vector<uint8_t> disk_;
	std::vector<std::unique_ptr<Ring>> rings_;
	std::map<uint32_t, Mapping> persistent_;
	bool persistent_used_ = false;
	size_t requests_seen_ = 0;
	size_t indirect_seen_ = 0;
	std::vector<blkif::Request> log_;
};

} // namespace xbc::host
