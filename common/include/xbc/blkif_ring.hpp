// SPDX-License-Identifier: GPL-2.0-only
// The blkif rings: xbc/ring.hpp's templates instantiated with the blkif
// slot types of xbc/blkif.hpp. The frontend always speaks the native
// layout. The backend learns the layout from the frontend's "protocol" key
// at connect time, so BlkifBackRing picks the instantiation at run time and
// hands out decoded requests: the engine never touches a wire struct.
#pragma once

#include "xbc/blkif.hpp"
#include "xbc/ring.hpp"

namespace xbc::blkif {

template <typename L> using LayoutBackRing = BackRing<typename L::RequestSlot, typename L::Response>;
template <typename L> using LayoutFrontRing = FrontRing<typename L::RequestSlot, typename L::Response>;

using NativeFrontRing = LayoutFrontRing<wire::NativeLayout>;

static_assert(LayoutBackRing<wire::NativeLayout>::kEntrySize == KAPI_BLKIF_NATIVE_ENTRY_SIZE);
static_assert(LayoutBackRing<wire::X86_32Layout>::kEntrySize == KAPI_BLKIF_X86_32_ENTRY_SIZE);
static_assert(LayoutBackRing<wire::X86_64Layout>::kEntrySize == KAPI_BLKIF_X86_64_ENTRY_SIZE);

// Frontend: encode `req` (native layout) and push it. -ENOSPC when full,
// -EINVAL for a shape the wire cannot carry.
[[nodiscard]] inline Status push_native_request(NativeFrontRing &ring, const Request &req) noexcept
{
	wire::NativeLayout::RequestSlot slot;
	XBC_TRY_STATUS(encode_request(Abi::kNative, req, &slot));
	return ring.push_request(slot);
}

// Frontend: the next response, copied out once.
[[nodiscard]] inline bool pop_native_response(NativeFrontRing &ring, Response *out) noexcept
{
	wire::NativeLayout::Response raw;
	if (!ring.pop_response(&raw))
		return false;
	*out = decode_response(Abi::kNative, &raw);
	return true;
}

// Backend ring of any of the three layouts.
class BlkifBackRing {
	// Runs `f` on the instantiation of the negotiated layout. Defined
	// first: the members below deduce their return types from it.
	template <typename F> auto with(F &&f) noexcept
	{
		switch (abi_) {
		case Abi::kX86_32:
			return f(x86_32_);
		case Abi::kX86_64:
			return f(x86_64_);
		case Abi::kNative:
			break;
		}
		return f(native_);
	}
	template <typename F> auto with(F &&f) const noexcept
	{
		switch (abi_) {
		case Abi::kX86_32:
			return f(x86_32_);
		case Abi::kX86_64:
			return f(x86_64_);
		case Abi::kNative:
			break;
		}
		return f(native_);
	}


public:
	BlkifBackRing() noexcept = default;

	[[nodiscard]] static Result<BlkifBackRing> attach(Abi abi, void *area, size_t bytes,
							  RingIdx start = RingIdx(0)) noexcept
	{
		BlkifBackRing r;
		r.abi_ = abi;
		switch (abi) {
		case Abi::kX86_32:
			r.x86_32_ = XBC_TRY(LayoutBackRing<wire::X86_32Layout>::attach(area, bytes, start));
			break;
		case Abi::kX86_64:
			r.x86_64_ = XBC_TRY(LayoutBackRing<wire::X86_64Layout>::attach(area, bytes, start));
			break;
		case Abi::kNative:
			r.native_ = XBC_TRY(LayoutBackRing<wire::NativeLayout>::attach(area, bytes, start));
			break;
		}
		return r;
	}

	Abi abi() const noexcept { return abi_; }
	uint32_t size() const noexcept
	{
		return with([](auto &r) { return r.size(); });
	}

	// See BackRing::pending_requests(): -EPROTO means the ring is broken.
	[[nodiscard]] Result<uint32_t> pending_requests() noexcept
	{
		return with([](auto &r) { return r.pending_requests(); });
	}

	// Copies the next request out once and decodes it against `limits`.
	// False when none is pending. A rejected request still comes back
	// (out->ok() false) so it can be answered.
	[[nodiscard]] bool pop_request(const Limits &limits, Decoded *out) noexcept
	{
		const Abi abi = abi_;
		return with([&](auto &r) {
			typename RemoveRefT<decltype(r)>::Entry e;
			if (!r.pop_request(&e.req))
				return false;
			*out = decode_request(abi, &e.req, limits);
			return true;
		});
	}

	// Encodes `rsp` in the ring's layout into the next response slot.
	[[nodiscard]] Status push_response(const Response &rsp) noexcept
	{
		const Abi abi = abi_;
		return with([&](auto &r) {
			typename RemoveRefT<decltype(r)>::Entry e;
			encode_response(abi, rsp, &e.rsp);
			return r.push_response(e.rsp);
		});
	}

	[[nodiscard]] bool publish_responses() noexcept
	{
		return with([](auto &r) { return r.publish_responses(); });
	}

#ifdef XBC_HOSTILE
	// Test-only: see BackRing::forge_responses.
	void forge_responses(uint32_t extra, const Response *rsp) noexcept
	{
		const Abi abi = abi_;
		with([&](auto &r) {
			typename RemoveRefT<decltype(r)>::Entry e;
			if (rsp)
				encode_response(abi, *rsp, &e.rsp);
			r.forge_responses(extra, rsp ? &e.rsp : nullptr);
			return true;
		});
	}
#endif

	[[nodiscard]] Result<bool> final_check_for_requests() noexcept
	{
		return with([](auto &r) { return r.final_check_for_requests(); });
	}

private:
	Abi abi_ = Abi::kNative;
	// Only the one matching abi_ is attached.
	LayoutBackRing<wire::NativeLayout> native_;
	LayoutBackRing<wire::X86_32Layout> x86_32_;
	LayoutBackRing<wire::X86_64Layout> x86_64_;
};

} // namespace xbc::blkif
