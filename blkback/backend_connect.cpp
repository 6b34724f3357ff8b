// SPDX-License-Identifier: GPL-2.0-only
// Backend: connecting to a frontend (mapping its rings, starting them) and
// the keys we publish (features, discard, sectors), as in-tree 6.1.
#include "backend.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"
#include "kapi/thread.h"
#include "xbc/xenstore.hpp"
#include "xbc/xs_value.hpp"

#include "backend_ring.hpp"
#include "platform.h"
#include "text.hpp"
#include "backend_detail.hpp"

namespace xbc::blkback {

using detail::kPathLen;
using detail::kValueLen;
using detail::write_uint;

// Reads what the frontend wrote for this connection and maps its rings.
// On error the device is marked failed (dev_fatal) and the caller
// disconnects whatever was set up.
Status Backend::connect_rings() noexcept
{
	const char *other = kapi_xenbus_otherend(dev_);
	settings_ = VbdParams::snapshot(xbc_blkback_online_cpus());

	negotiate::BackendFeatures use;
	negotiate::Refusal why;
	if (!negotiate::negotiate_backend(settings_.negotiation,
					  negotiate::read_frontend_keys(xs::Dir{other}), &use,
					  &why)) {
		fatal(why.err, why.reason);
		return Status::error(-why.err);
	}
	abi_ = use.abi;
	persistent_ = use.persistent;
	const uint32_t queues = use.nr_queues;
	const unsigned nr_pages = 1u << use.ring_page_order;
	const bool multi_ref = use.read_ring_page_keys;

	auto **rings = static_cast<BackendRing **>(
		kapi_zalloc(sizeof(BackendRing *) * queues, KAPI_GFP_KERNEL));
	if (!rings) {
		fatal(-err::kNoMem, "allocating rings");
		return Status::error(err::kNoMem);
	}
	rings_ = rings;

	for (unsigned i = 0; i < queues; i++) {
		xs::Path dir(other);
		if (queues > 1)
			dir.child("queue-").add_uint(i);
		if (dir.overflowed()) {
			fatal(-err::kInval, "frontend path too long");
			return Status::error(err::kInval);
		}

		FrontendRingKeys setup;
		zero_bytes(&setup, sizeof(setup));
		setup.index = i;
		setup.abi = abi_;
		setup.nr_pages = nr_pages;
		setup.persistent = persistent_;
		const xs::Key<uint32_t> port = xs::read<uint32_t>(dir, "event-channel");
		if (!port.is_valid()) {
			Text<kPathLen + 32> msg;
			msg.add("reading ").add(dir.c_str()).add("/event-channel");
			fatal(-err::kInval, msg.c_str());
			return Status::error(err::kInval);
		}
		setup.port = EvtchnPort(port.value);
		for (unsigned p = 0; p < nr_pages; p++) {
			xs::Path key("ring-ref");
			if (multi_ref)
				key.add_uint(p);
			const xs::Key<uint32_t> ref = xs::read<uint32_t>(dir, key);
			if (!ref.is_valid()) {
				Text<kPathLen + 32> msg;
				msg.add("reading ").add(dir.c_str()).add("/").add(key.c_str());
				fatal(-err::kInval, msg.c_str());
				return Status::error(err::kInval);
			}
			setup.refs[p] = GrantRef(ref.value);
		}

		auto ring = BackendRing::create(*this, settings_, setup);
		if (ring.is_error()) {
			Text<64> msg;
			msg.add("mapping ring-ref port ").add_uint(port.value);
			fatal(ring.status().code(), msg.c_str());
			return ring.status();
		}
		rings_[i] = ring.take().release();
		nr_rings_ = i + 1;
	}

	static_assert(kMaxRingPages <= 16);
	kapi_log(KAPI_LOG_INFO, "%s: using %u queues, protocol %d (%s) %s\n", kapi_xenbus_nodename(dev_),
		 nr_rings_, int(abi_), xs::protocol_name(abi_),
		 persistent_ ? "persistent grants" : "");
	return Status::ok();
}

// Connects once both halves are there: the frontend's rings and the
// hotplug script's device.
void Backend::try_connect() noexcept
{
	if (nr_rings_ == 0 || !device_.get() || state_ == KAPI_XENBUS_CONNECTED)
		return;
	write_connect_keys();
	if (state_ != KAPI_XENBUS_CONNECTED)
		return;

	// Thread names as in-tree: "<domid>.<dev>-<ring>".
	const auto devname = xs::read<xs::String<kValueLen>>(kapi_xenbus_nodename(dev_), "dev");
	if (!devname.is_valid()) {
		fatal(devname.error, "get blkback dev name");
		return;
	}
	const int sync = xbc_blkback_bdev_sync(device_->bdev());
	if (sync < 0) {
		fatal(sync, "block flush");
		return;
	}
	// As in-tree, a "/dev/" in the name is dropped with what precedes it.
	const char *shortname = text_after(devname.value.c_str(), "/dev/");
	for (unsigned i = 0; i < nr_rings_; i++) {
		Text<32> name;
		name.add_uint(kapi_xenbus_otherend_id(dev_)).add(".").add(shortname).add("-").add_uint(i);
		const Status st = rings_[i]->start(name.c_str(), *device_);
		if (st.is_error()) {
			fatal(st.code(), "start xenblkd");
			// Unlike in-tree, give the rings back at once.
			disconnect();
			return;
		}
	}
}

void Backend::write_discard_keys(kapi_xbt t, const negotiate::BackendConnectAdvert &a) noexcept
{
	const char *node = kapi_xenbus_nodename(dev_);
	// The toolstack may veto discard for this disk.
	if (!a.write_discard)
		return;
	if (a.write_discard_params) {
		if (write_uint(t, node, "discard-granularity", a.discard_granularity).is_error() ||
		    write_uint(t, node, "discard-alignment", a.discard_alignment).is_error() ||
		    write_uint(t, node, "discard-secure", a.discard_secure ? 1 : 0).is_error()) {
			kapi_log(KAPI_LOG_WARNING, "%s: writing discard keys failed\n", node);
			return;
		}
	}
	if (write_uint(t, node, "feature-discard", a.feature_discard ? 1 : 0).is_error())
		kapi_log(KAPI_LOG_WARNING, "%s: writing feature-discard failed\n", node);
}

// Everything the frontend needs to know about the device, in one
// transaction, then Connected (in-tree connect()).
void Backend::write_connect_keys() noexcept
{
	const char *node = kapi_xenbus_nodename(dev_);
	const Device &d = *device_;
	const negotiate::DiskCaps caps{d.flush_support(), d.discard(), d.discard_secure(),
				       d.info().discard_granularity, d.info().discard_alignment};
	const negotiate::BackendConnectAdvert advert = negotiate::backend_connect_advert(
		settings_.negotiation, caps,
		xs::read<bool>(node, "discard-enable"));
	Text<96> failed;	// the required key that could not be written
	const xs::TxResult tx = xs::transaction([&](kapi_xbt t) -> Status {
		// The optional features: failing to advertise one is fine.
		if (write_uint(t, node, "feature-flush-cache", advert.feature_flush_cache ? 1 : 0).is_error())
			kapi_log(KAPI_LOG_WARNING, "%s: writing feature-flush-cache failed\n", node);
		write_discard_keys(t, advert);
		if (write_uint(t, node, "feature-barrier", advert.feature_barrier ? 1 : 0).is_error())
			kapi_log(KAPI_LOG_WARNING, "%s: writing feature-barrier failed\n", node);

		struct {
			const char *key;
			uint64_t value;
			bool required;
		} const keys[] = {
			// Our capability (the snapshot), not what this
			// connection uses: the 2022 deadlock fix.
			{"feature-persistent", advert.feature_persistent ? 1u : 0u, true},
			{"sectors", d.capacity().raw(), true},
			{"info", d.vdisk_info(), true},
			{"sector-size", d.info().logical_block_size, true},
			{"physical-sector-size", d.info().physical_block_size, false},
		};
		for (const auto &k : keys) {
			const Status st = write_uint(t, node, k.key, k.value);
			if (st.is_ok())
				continue;
			Text<96> msg;
			msg.add("writing ").add(node).add("/").add(k.key);
			if (!k.required) {
				kapi_log(KAPI_LOG_WARNING, "%s failed (%d)\n", msg.c_str(), st.code());
				continue;
			}
			failed = msg;
			return st;
		}
		return Status::ok();
	});
	if (tx.is_error()) {
		if (tx.stage == xs::TxStage::kBody) {
			fatal(tx.status.code(), failed.c_str());
			return;
		}
		if (tx.stage == xs::TxStage::kStart) {
			fatal(tx.status.code(), "starting transaction");
			return;
		}
		// As in-tree: reported, and on to Connected all the same.
		fatal(tx.status.code(), "ending transaction");
	}
	switch_state(KAPI_XENBUS_CONNECTED);
	if (state_ != KAPI_XENBUS_CONNECTED)
		fatal(-err::kIo, "switching to Connected state");
}

void Backend::announce_resize(const Device &device) noexcept
{
	const char *node = kapi_xenbus_nodename(dev_);
	// Two rings may each have seen a different change (S0->S1, S1->S2);
	// unserialised, the one announcing S1 could commit last and leave
	// xenstore at S1 for good. So one announcement at a time, each
	// writing the live size rather than the one its ring saw.
	MutexGuard x(xs_lock_);
	// lock_'s state_, major_ and minor_ as the control path last
	// published them (ring_view_): this ring thread may not take lock_.
	const RingView view = ring_view_;
	if (view.removed)
		return;
	Sector written;
	kapi_log(KAPI_LOG_INFO, "VBD Resize: Domid: %d, Device: (%u, %u)\n",
		 int(kapi_xenbus_otherend_id(dev_)), view.major, view.minor);
	for (;;) {
		const xs::TxResult tx = xs::transaction([&](kapi_xbt t) -> Status {
			// Read again on every attempt: a retry may follow a resize.
			written = device.capacity();
			// Rewriting our state makes a connected frontend re-read sectors.
			Status st = write_uint(t, node, "sectors", written.raw());
			if (st.is_ok())
				st = write_uint(t, node, "state", unsigned(view.state));
			if (st.is_error())
				kapi_log(KAPI_LOG_WARNING, "Error writing new size\n");
			return st;
		});
		if (tx.is_error()) {
			if (tx.stage != xs::TxStage::kBody)
				kapi_log(KAPI_LOG_WARNING, "Error %s transaction\n",
					 tx.stage == xs::TxStage::kStart ? "starting" : "ending");
			return;
		}
		kapi_log(KAPI_LOG_INFO, "VBD Resize: new size %llu\n",
			 static_cast<unsigned long long>(written.raw()));
		// The device may have changed again while we wrote; the ring
		// that saw that change waits for us, but we are not sure to be
		// the last writer: write until what we wrote is still live.
		if (device.capacity() == written)
			return;
	}
}

void Backend::withdraw_flush_feature(bool barrier) noexcept
{
	const char *node = kapi_xenbus_nodename(dev_);
	const char *key = barrier ? "feature-barrier" : "feature-flush-cache";
	// A retiring ring of a removed vbd: its nodes are gone, and a write
	// would create them again.
	MutexGuard x(xs_lock_);
	if (ring_view_.removed)
		return;
	if (write_uint(KAPI_XBT_NIL, node, key, 0).is_error())
		kapi_log(KAPI_LOG_WARNING, "%s: withdrawing %s failed\n", node, key);
}

} // namespace xbc::blkback
