// SPDX-License-Identifier: GPL-2.0-only
// Device naming and minor numbers for the frontend's disks, exactly as the
// in-tree xen-blkfront lays them out, so `xl` vdev names and udev paths keep
// working: major 202 ("xvd"), 16 minors per disk for xvda..xvdp and the
// emulated IDE/SCSI majors, 256 per disk in the extended scheme (bit 28 of
// virtual-device set). A partition vdev (minor not on a disk boundary) gets
// one minor and a name with the partition number ("xvda1").
//
// Pure functions of the virtual-device number, plus the registry of minors
// in use, which the driver keeps once for all its disks.
#pragma once

#include "xbc/sync.hpp"
#include "xbc/list.hpp"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"

namespace xbc::blkfront {

inline constexpr uint32_t kXenVbdMajor = 202;
inline constexpr uint32_t kPartsPerDisk = 16;
inline constexpr uint32_t kPartsPerExtDisk = 256;
inline constexpr uint32_t kMinorBits = 20;	// MINORBITS
inline constexpr size_t kDiskNameLen = 32;	// DISK_NAME_LEN

struct VdevLayout {
	uint32_t first_minor;
	uint32_t minors;		// 16/256 for a whole disk, 1 for a partition
	char name[kDiskNameLen];
};

// -ENODEV for a vdev the in-tree driver refuses (unknown major, beyond the
// extended range, minor out of range).
[[nodiscard]] Result<VdevLayout> layout_for_vdev(uint32_t vdevice) noexcept;

// The `virtual-device` value as in-tree reads it (%i): decimal, or hex with
// 0x. Anything else, or a value above 2^31 - 1, is -EINVAL.
[[nodiscard]] Result<uint32_t> parse_vdevice(const char *text) noexcept;

// The device handle: the last path component of our node ("device/vbd/51712"),
// truncated to blkif_vdev_t (16 bits) as in-tree does.
[[nodiscard]] uint16_t handle_from_nodename(const char *nodename) noexcept;

// A reserved range of minors; lives inside the disk that holds it.
struct MinorRange {
	uint32_t first = 0;
	uint32_t count = 0;
	ListNode node;
};

// All minor ranges in use by this driver's disks. reserve() refuses a range
// that overlaps one already held (-EBUSY), as the in-tree bitmap does.
// Thread-safe: probes of several vbds may run at once.
class MinorRegistry : Pinned {
public:
	static Result<Box<MinorRegistry>> create() noexcept;
	~MinorRegistry();

	[[nodiscard]] Status reserve(MinorRange &range, uint32_t first, uint32_t count) noexcept;
	// A range that is not reserved is ignored.
	void release(MinorRange &range) noexcept;
	[[nodiscard]] size_t size() noexcept
	{
		return ranges_.with([](auto &ranges) { return ranges.size(); });
	}

	explicit MinorRegistry(IrqSpinLock lock) noexcept : ranges_(move(lock)) {}

private:
	Guarded<List<MinorRange, &MinorRange::node>, IrqSpinLock> ranges_;
};

} // namespace xbc::blkfront
