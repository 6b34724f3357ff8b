// SPDX-License-Identifier: GPL-2.0-only
// A test bench for the blkback engine: the fake Xen, a fake disk, the vbd
// the toolstack would create, and a minimal frontend written with the
// shared core (FrontRing, blkif encoders, grants) that talks to the
// Backend exactly as a domU would. Tests step everything by hand: watches,
// irqs, the ring thread's run_once(), bio completion.
#pragma once

#include <string.h>

#include <deque>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "blkback/backend.hpp"
#include "blkback/backend_ring.hpp"
#include "kapi/gnttab.h"
#include "kapi/memory.h"
#include "support/fake_blkback.hpp"
#include "support/fake_thread.hpp"
#include "support/fake_xen.hpp"
#include "support/kapi_host.hpp"
#include "xbc/blkif_ring.hpp"

namespace xbc::test {

using blkif::Op;
using blkif::RspStatus;
using blkback::Backend;
using blkback::BackendRing;

inline constexpr uint32_t kMajor = 8;
inline constexpr uint32_t kMinor = 16;

// One page the frontend grants to the backend for data.
struct FrontPage {
	kapi_page *page = nullptr;
	uint32_t ref = 0;
	bool readonly = false;
	unsigned char *bytes() const { return static_cast<unsigned char *>(kapi_page_address(page)); }
};

struct FrontendOptions {
	bool persistent = true;		// feature-persistent key
	int ring_page_order = -1;	// -1: no key, single "ring-ref"
	unsigned queues = 1;		// >1 writes multi-queue-num-queues + queue-N/
	const char *protocol = "x86_64-abi"; // nullptr: no key
};

class Bench {
public:
	explicit Bench(const host::DiskSpec &spec = host::DiskSpec()) : disk_(&xen.add_disk(kMajor, kMinor, spec))
	{
		host::reset_blkback_params();
		pair = xen.add_vbd_pair(1, 0, 51712);
	}

	~Bench()
	{
		host::set_wait_hook(nullptr, nullptr);
		be.reset();
		for (auto &q : queues_) {
			kapi_evtchn_unbind(q.irq);
			if (q.area)
				kapi_xenbus_teardown_ring(&q.area, q.nr_pages, q.refs);
		}
		for (auto &p : pages_) {
			if (!kapi_gnttab_try_end_access(p.ref))
				ADD_FAILURE() << "frontend page still mapped by the backend: ref " << p.ref;
			kapi_page_free(p.page);
		}
	}

	host::FakeDisk &disk() { return *disk_; }

	// --- control path ------------------------------------------------

	void probe()
	{
		auto r = Backend::probe(pair.back);
		ASSERT_TRUE(r.is_ok()) << r.status().code();
		be = r.take();
		xen.run_watches();
	}

	void hotplug(const char *mode = "w", const char *physical = "8:10")
	{
		xen.xs_write(pair.back_path + "/mode", mode);
		xen.xs_write(pair.back_path + "/physical-device", physical);
		xen.run_watches();
	}

	std::string back_key(const std::string &k) { return xen.xs_read(pair.back_path + "/" + k).value_or("<none>"); }
	std::string front_dir(unsigned q) const
	{
		return opts_.queues > 1 ? pair.front_path + "/queue-" + std::to_string(q) : pair.front_path;
	}

	// Sets up the frontend's rings and keys, then says Initialised.
	void frontend_init(const FrontendOptions &o = FrontendOptions())
	{
		frontend_prepare(o);
		frontend_state(KAPI_XENBUS_INITIALISED);
	}

	// The frontend's rings, event channels and keys, without the state.
	void frontend_prepare(const FrontendOptions &o = FrontendOptions())
	{
		opts_ = o;
		const unsigned nr_pages = o.ring_page_order < 0 ? 1u : 1u << o.ring_page_order;
		queues_.resize(o.queues);
		for (unsigned q = 0; q < o.queues; q++) {
			Queue &fq = queues_[q];
			fq.nr_pages = nr_pages;
			ASSERT_EQ(kapi_xenbus_setup_ring(pair.front, nr_pages, &fq.area, fq.refs), 0);
			auto ring = blkif::NativeFrontRing::init(fq.area, nr_pages * KAPI_PAGE_SIZE);
			ASSERT_TRUE(ring.is_ok());
			fq.ring = ring.take();
			ASSERT_EQ(kapi_evtchn_alloc_bind(pair.front, &Bench::front_irq, this, "fe", &fq.port, &fq.irq), 0);
			const std::string dir = front_dir(q);
			if (o.ring_page_order < 0) {
				xen.xs_write(dir + "/ring-ref", std::to_string(fq.refs[0]));
			} else {
				for (unsigned i = 0; i < nr_pages; i++)
					xen.xs_write(dir + "/ring-ref" + std::to_string(i), std::to_string(fq.refs[i]));
			}
			xen.xs_write(dir + "/event-channel", std::to_string(fq.port));
		}
		if (o.ring_page_order >= 0)
			xen.xs_write(pair.front_path + "/ring-page-order", std::to_string(o.ring_page_order));
		if (o.queues > 1)
			xen.xs_write(pair.front_path + "/multi-queue-num-queues", std::to_string(o.queues));
		if (o.protocol)
			xen.xs_write(pair.front_path + "/protocol", o.protocol);
		xen.xs_write(pair.front_path + "/feature-persistent", o.persistent ? "1" : "0");
	}

	// The frontend switches state; xenbus tells the backend.
	bool frontend_state(kapi_xenbus_state s, bool online = true)
	{
		xen.xs_write(pair.front_path + "/state", std::to_string(int(s)));
		const bool unregister = be->frontend_changed(s, online);
		xen.run_watches();
		return unregister;
	}

	// probe + hotplug + frontend: the usual way to Connected.
	void connect(const FrontendOptions &o = FrontendOptions())
	{
		probe();
		hotplug();
		frontend_init(o);
		ASSERT_EQ(be->state(), KAPI_XENBUS_CONNECTED);
	}

	BackendRing &ring(unsigned q = 0) { return *be->ring(q); }

	// --- data path ---------------------------------------------------

	FrontPage &grant_page(bool readonly = false)
	{
		FrontPage p;
		p.page = kapi_page_alloc(KAPI_GFP_KERNEL);
		EXPECT_NE(p.page, nullptr);
		p.readonly = readonly;
		EXPECT_EQ(kapi_gnttab_grant_page(0, p.page, readonly, &p.ref), 0);
		pages_.push_back(p);
		return pages_.back();
	}

	// Pushes a request slot of raw bytes (for hostile shapes), or an
	// encoded Request; publishes and kicks the backend if it asked.
	void push_raw(const void *slot, unsigned q = 0)
	{
		blkif::wire::NativeLayout::RequestSlot s;
		memcpy(&s, slot, sizeof(s));
		ASSERT_TRUE(queues_[q].ring.push_request(s).is_ok());
		if (queues_[q].ring.publish_requests())
			kapi_evtchn_notify(queues_[q].irq);
	}
	void push(const blkif::Request &req, unsigned q = 0)
	{
		blkif::wire::NativeLayout::RequestSlot s;
		ASSERT_TRUE(blkif::encode_request(blkif::Abi::kNative, req, &s).is_ok());
		push_raw(&s, q);
	}

	blkif::Request rw(Op op, uint64_t id, uint64_t sector, const std::vector<blkif::Segment> &segs)
	{
		return blkif::make_rw(op, blkif::RequestId(id), blkif::Vdev(51712), Sector(sector), segs.data(),
				      uint8_t(segs.size()));
	}
	static blkif::Segment seg(const FrontPage &p, uint8_t first = 0, uint8_t last = 7)
	{
		return blkif::Segment{GrantRef(p.ref), first, last};
	}

	// Runs the backend until quiet: irqs, ring passes, bio completions.
	void pump(unsigned q = 0)
	{
		for (int i = 0; i < 50; i++) {
			const size_t irqs = xen.run_pending_irqs();
			ring(q).run_once();
			const size_t bios = xen.complete_bios();
			if (irqs == 0 && bios == 0 && ring(q).in_flight() == 0) {
				ring(q).run_once();
				return;
			}
		}
		ADD_FAILURE() << "backend did not go quiet";
	}

	std::vector<blkif::Response> responses(unsigned q = 0)
	{
		std::vector<blkif::Response> out;
		auto n = queues_[q].ring.pending_responses();
		EXPECT_TRUE(n.is_ok());
		blkif::Response r;
		while (blkif::pop_native_response(queues_[q].ring, &r))
			out.push_back(r);
		return out;
	}

	// One request in, one response out.
	blkif::Response roundtrip(const blkif::Request &req, unsigned q = 0)
	{
		push(req, q);
		pump(q);
		auto rs = responses(q);
		EXPECT_EQ(rs.size(), 1u);
		return rs.empty() ? blkif::Response{} : rs[0];
	}

	struct Queue {
		void *area = nullptr;
		unsigned nr_pages = 1;
		uint32_t refs[16] = {};
		kapi_irq *irq = nullptr;
		uint32_t port = 0;
		blkif::NativeFrontRing ring;
	};
	Queue &queue(unsigned q = 0) { return queues_[q]; }

	host::FakeXen xen;
	host::VbdPair pair;
	Box<Backend> be;

private:
	static void front_irq(void *) noexcept {}

	host::FakeDisk *disk_;
	FrontendOptions opts_;
	std::vector<Queue> queues_;
	std::deque<FrontPage> pages_;	// stable addresses: tests hold references
};

} // namespace xbc::test
