// SPDX-License-Identifier: GPL-2.0-only
// One registration for "grant references came back" (in-tree: the
// gnttab_free_callback each blkfront ring owns). Owning it cancels it: once
// the owner is destroyed the callback neither runs nor is running, so it can
// never reach a freed ring.
//
// The callback runs under the grant table's lock with irqs off, from any
// context that ends a grant (our own irq handler, holding the ring lock,
// included): it must take no lock of ours, only queue work.
#pragma once

#include "kapi/gnttab.h"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"

namespace xbc {

class GrantFreeCallback {
public:
	GrantFreeCallback() noexcept = default;
	GrantFreeCallback(GrantFreeCallback &&o) noexcept : h_(o.h_) { o.h_ = nullptr; }
	GrantFreeCallback &operator=(GrantFreeCallback &&o) noexcept
	{
		if (this != &o) {
			kapi_gnttab_free_callback_destroy(h_);
			h_ = o.h_;
			o.h_ = nullptr;
		}
		return *this;
	}
	GrantFreeCallback(const GrantFreeCallback &) = delete;
	GrantFreeCallback &operator=(const GrantFreeCallback &) = delete;
	~GrantFreeCallback() { kapi_gnttab_free_callback_destroy(h_); }

	[[nodiscard]] static Result<GrantFreeCallback> create(Gfp gfp) noexcept
	{
		GrantFreeCallback cb;
		cb.h_ = kapi_gnttab_free_callback_create(to_kapi(gfp));
		if (!cb.h_)
			return Status::error(err::kNoMem);
		return cb;
	}

	// fn(ctx) runs once when `count` refs are free (at once if they are).
	// Arming while armed keeps the first arming: one registration per owner.
	void arm(kapi_gnttab_free_fn fn, void *ctx, uint16_t count) noexcept
	{
		kapi_gnttab_free_callback_arm(h_, fn, ctx, count);
	}

private:
	struct kapi_gnttab_free_callback *h_ = nullptr;
};

} // namespace xbc
