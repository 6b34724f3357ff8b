// SPDX-License-Identifier: GPL-2.0-only
// The physical block device behind one vbd: opened once the hotplug script
// names it (physical-device, mode), shared read-only by the vbd's rings.
// Only its capacity changes (online resize): read live, and the size last
// announced to the frontend is atomic.
#pragma once

#include "kapi/block.h"
#include "xbc/handle.hpp"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"
#include "xbc/sync.hpp"
#include "xbc/types.hpp"

namespace xbc::blkback {

// An open block device, closed by its owner.
using BlockDevice = Owned<struct kapi_bdev, kapi_bdev_close>;

class Device : Pinned {
public:
	// Opens major:minor (read-only if `readonly`). -ENOENT if it cannot
	// be opened, as in-tree reports it.
	[[nodiscard]] static Result<Box<Device>> open(uint32_t major, uint32_t minor, bool readonly,
						      bool cdrom, void *holder) noexcept;

	kapi_bdev *bdev() const noexcept { return bdev_; }
	const kapi_bdev_info &info() const noexcept { return info_; }
	bool readonly() const noexcept { return readonly_; }

	// The xenstore "info" bits: VDISK_CDROM / REMOVABLE / READONLY.
	uint32_t vdisk_info() const noexcept;
	// Discard and secure erase as the device offers them.
	bool discard() const noexcept { return info_.discard; }
	bool discard_secure() const noexcept { return info_.secure_erase; }
	// Flush and barrier make sense only with a volatile write cache.
	bool flush_support() const noexcept { return info_.write_cache; }
	// Requests must be aligned to the logical block size: this many
	// 512-byte sectors minus one, as a mask.
	uint64_t sector_align_mask() const noexcept { return align_mask_; }

	// The live size every request is checked against (512-byte
	// sectors), read from the device each time: any ring may be the
	// first to serve a request after an online resize.
	Sector capacity() const noexcept { return Sector(kapi_bdev_nr_sectors(bdev_)); }
	// True (and *now set) when the live size differs from the one last
	// announced; exactly one caller sees each change, whichever ring
	// asks first.
	[[nodiscard]] bool take_resize(Sector *now) noexcept;

private:
	// Only open() builds one, from an open device (xbc::create
	// placement-constructs it).
	template <typename T, typename... Args> friend Box<T> xbc::create(Gfp, Args &&...) noexcept;
	Device(BlockDevice bdev, const kapi_bdev_info &info, bool readonly, bool cdrom) noexcept;

	BlockDevice bdev_;
	kapi_bdev_info info_;
	bool readonly_;
	bool cdrom_;
	uint64_t align_mask_;
	Atomic<uint64_t> announced_;	// the size the frontend was last told
};

} // namespace xbc::blkback
