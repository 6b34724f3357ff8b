// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_types: the strong types, Result and Box from
// common/include/xbc/ on the real kernel allocator. The host tests cover the
// same API with a malloc-backed kapi; here the point is kmalloc itself:
// alignment of over-aligned objects, zeroing, and KASAN watching every byte.
#include "xbc_kunit.hpp"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc::kunit {
namespace {

// Hides a value from the optimiser, so checks run on the target, not in g++.
template <typename T> T opaque(T v) noexcept
{
	asm volatile("" : "+r"(v));
	return v;
}

// Counts live instances through a pointer the test owns (no globals).
class Tracked {
public:
	Tracked(int *alive, int value) noexcept : alive_(alive), value_(value) { ++*alive_; }
	~Tracked() { --*alive_; }
	Tracked(const Tracked &) = delete;
	Tracked &operator=(const Tracked &) = delete;
	int value() const noexcept { return value_; }

private:
	int *alive_;
	int value_;
};

struct alignas(64) Aligned64 {
	uint8_t bytes[64];
};
struct alignas(256) Aligned256 {
	uint8_t bytes[300]; // sizeof is 512: size above its alignment
};
struct alignas(4096) AlignedPage {
	uint8_t bytes[4096];
};

Result<uint32_t> parse_even(uint32_t v) noexcept
{
	if (v & 1)
		return Status::error(err::kInval);
	return v;
}

Result<uint32_t> half_of_even(uint32_t v) noexcept
{
	const uint32_t even = XBC_TRY(parse_even(v));
	return even / 2;
}

Status check_nonzero(uint32_t v) noexcept
{
	return v ? Status::ok() : Status::error(err::kRange);
}

Status chain(uint32_t v) noexcept
{
	XBC_TRY_STATUS(check_nonzero(v));
	return Status::ok();
}

// Allocates `count` objects of T, checks each address and writes every byte
// (KASAN reports if the kmalloc block is smaller than sizeof(T)).
template <typename T> bool aligned_batch(struct kunit *test, unsigned count) noexcept
{
	bool ok = true;
	for (unsigned i = 0; i < count; i++) {
		Box<T> box = create<T>(Gfp::kKernel);
		if (!XK_EXPECT(!box.is_null()))
			return false;
		const auto addr = reinterpret_cast<uintptr_t>(box.get());
		ok &= XK_EXPECT_EQ(addr % alignof(T), 0);
		__builtin_memset(box.get(), 0xa5, sizeof(T));
		ok &= XK_EXPECT_EQ(box->bytes[sizeof(T) - 1], 0xa5);
	}
	return ok;
}

} // namespace
} // namespace xbc::kunit

using namespace xbc;
using namespace xbc::kunit;

XBC_KUNIT_CASE(types_strong_ids)
{
	const GrantRef none;
	XK_EXPECT(!none.is_valid());
	XK_EXPECT_EQ(none.raw(), 0xffffffffu);
	XK_EXPECT(GrantRef(opaque(0u)).is_valid());
	XK_EXPECT(GrantRef(opaque(7u)) < GrantRef(opaque(8u)));
	XK_EXPECT(GrantHandle(opaque(3u)) == GrantHandle(3));
	XK_EXPECT_EQ(DomId::invalid().raw(), 0x7ff4);
	XK_EXPECT(!DomId(opaque<uint16_t>(0x7ff4)).is_valid());
	XK_EXPECT(DomId(opaque<uint16_t>(0)).is_valid());
	XK_EXPECT(!EvtchnPort(opaque(0u)).is_valid());
	static_assert(sizeof(GrantRef) == 4 && sizeof(DomId) == 2 && sizeof(RingIdx) == 4);
}

XBC_KUNIT_CASE(types_sector_and_ring_index)
{
	const Sector capacity(opaque<uint64_t>(1000));
	XK_EXPECT(Sector(opaque<uint64_t>(990)).range_within(Sector(10), capacity));
	XK_EXPECT(!Sector(opaque<uint64_t>(991)).range_within(Sector(10), capacity));
	// A start near 2^64 must not wrap into range.
	XK_EXPECT(!Sector(opaque<uint64_t>(~0ull - 1)).range_within(Sector(4), Sector(~0ull)));
	Sector sum;
	XK_EXPECT(!Sector(opaque<uint64_t>(~0ull)).checked_add(Sector(1), &sum));
	XK_EXPECT_EQ(Sector(opaque<uint64_t>(3)).bytes(), 1536);
	XK_EXPECT_EQ(Sector::from_bytes_floor(opaque<uint64_t>(1023)).raw(), 1);

	RingIdx prod(opaque(0xfffffffeu));
	const RingIdx cons = prod;
	prod += 5;
	XK_EXPECT_EQ(prod.raw(), 3u);
	XK_EXPECT_EQ(cons.distance_to(prod), 5u);
	XK_EXPECT_EQ(cons.slot(32), 30u);
	XK_EXPECT_EQ(prod.slot(32), 3u);
}

XBC_KUNIT_CASE(types_result_propagation)
{
	auto good = half_of_even(opaque(10u));
	XK_ASSERT(good.is_ok());
	XK_EXPECT_EQ(good.value(), 5u);

	auto bad = half_of_even(opaque(7u));
	XK_EXPECT(bad.is_error());
	XK_EXPECT_EQ(bad.status().code(), -err::kInval);

	XK_EXPECT(chain(opaque(1u)).is_ok());
	XK_EXPECT_EQ(chain(opaque(0u)).code(), -err::kRange);

	// An error built from OK is refused, not a valueless success.
	Result<uint32_t> bogus(Status::ok());
	XK_EXPECT(bogus.is_error());
	XK_EXPECT_EQ(Status::error(opaque(-5)).code(), -err::kInval);
}

XBC_KUNIT_CASE(box_create_and_destroy)
{
	int alive = 0;
	{
		Box<Tracked> a = create<Tracked>(Gfp::kKernel, &alive, 41);
		XK_ASSERT(!a.is_null());
		XK_EXPECT_EQ(alive, 1);
		XK_EXPECT_EQ(a->value(), 41);

		Box<Tracked> b = move(a);
		XK_EXPECT(a.is_null());
		XK_EXPECT_EQ(alive, 1);

		Box<Tracked> c = create<Tracked>(Gfp::kAtomic, &alive, 7);
		XK_ASSERT(!c.is_null());
		XK_EXPECT_EQ(alive, 2);
		c = move(b); // destroys the 7, keeps the 41
		XK_EXPECT_EQ(alive, 1);
		XK_EXPECT_EQ(c->value(), 41);

		// Result carries a move-only owner out of a factory.
		Result<Box<Tracked>> made(create<Tracked>(Gfp::kNoIo, &alive, 3));
		XK_ASSERT(made.is_ok());
		Box<Tracked> taken = made.take();
		XK_EXPECT_EQ(taken->value(), 3);
		XK_EXPECT_EQ(alive, 2);
	}
	XK_EXPECT_EQ(alive, 0);
}

XBC_KUNIT_CASE(box_over_aligned)
{
	XK_EXPECT(aligned_batch<Aligned64>(test, 32));
	XK_EXPECT(aligned_batch<Aligned256>(test, 32));
	XK_EXPECT(aligned_batch<AlignedPage>(test, 8));
	// Beyond a page, or a page-aligned object larger than a page: refused.
	XK_EXPECT_EQ(alloc_size_for(opaque<size_t>(16), 8192), 0);
	XK_EXPECT_EQ(alloc_size_for(opaque<size_t>(8192), 4096), 0);
	XK_EXPECT_EQ(alloc_size_for(opaque<size_t>(300), 256), 512);
}

XBC_KUNIT_CASE(box_array_zeroed_and_bounded)
{
	// Dirty some kmalloc-1k blocks first so zeroing is not luck.
	for (int i = 0; i < 8; i++) {
		void *p = kapi_malloc(1024, KAPI_GFP_KERNEL);
		XK_ASSERT(p != nullptr);
		__builtin_memset(p, 0xff, 1024);
		kapi_free(p);
	}
	auto arr = BoxArray<uint64_t>::create(opaque<size_t>(128), Gfp::kKernel);
	XK_ASSERT(!arr.is_null());
	XK_EXPECT_EQ(arr.size(), 128);
	uint64_t seen = 0;
	for (size_t i = 0; i < arr.size(); i++)
		seen |= arr[i];
	XK_EXPECT_EQ(seen, 0);
	arr[127] = 1; // the last element is inside the block (KASAN checks)

	XK_EXPECT(BoxArray<uint64_t>::create(opaque<size_t>(0), Gfp::kKernel).is_null());
	// n * sizeof(T) overflows: refused before kmalloc sees it.
	XK_EXPECT(BoxArray<uint64_t>::create(opaque<size_t>(~size_t(0) / 4), Gfp::kKernel).is_null());
}
