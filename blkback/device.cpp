// SPDX-License-Identifier: GPL-2.0-only
// The vbd's physical block device (see device.hpp).
#include "device.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"

namespace xbc::blkback {

Result<Box<Device>> Device::open(uint32_t major, uint32_t minor, bool readonly, bool cdrom,
				 void *holder) noexcept
{
	// Opened first and moved in: a failed allocation closes it again.
	BlockDevice bdev;
	const int rc = kapi_bdev_open(major, minor, readonly, holder, bdev.out());
	if (rc < 0) {
		kapi_log(KAPI_LOG_WARNING, "device %x:%x could not be opened (%d)\n", major, minor, rc);
		return Status::error(err::kNoEnt);
	}
	kapi_bdev_info info;
	zero_bytes(&info, sizeof(info));
	kapi_bdev_query(bdev, &info);
	auto dev = create<Device>(Gfp::kKernel, move(bdev), info, readonly, cdrom);
	if (dev.is_null())
		return Status::error(err::kNoMem);
	return move(dev);
}

Device::Device(BlockDevice bdev, const kapi_bdev_info &info, bool readonly, bool cdrom) noexcept
	: bdev_(move(bdev)), info_(info), readonly_(readonly), cdrom_(cdrom), announced_(info.nr_sectors)
{
	// A logical block size below 512 or not a power of two would make no
	// sense; treat it as 512 rather than trust it into a mask.
	const uint32_t lbs = info.logical_block_size;
	const bool sane = lbs >= Sector::kBytes && (lbs & (lbs - 1)) == 0;
	align_mask_ = sane ? (lbs >> Sector::kShift) - 1 : 0;
}

uint32_t Device::vdisk_info() const noexcept
{
	uint32_t bits = 0;
	if (cdrom_ || info_.cdrom)
		bits |= KAPI_VDISK_CDROM;
	if (info_.removable)
		bits |= KAPI_VDISK_REMOVABLE;
	if (readonly_)
		bits |= KAPI_VDISK_READONLY;
	return bits;
}

bool Device::take_resize(Sector *now) noexcept
{
	const uint64_t live = kapi_bdev_nr_sectors(bdev_);
	if (live == announced_.load_relaxed())
		return false;
	// Rings race here: only the one that swaps the value announces it.
	if (announced_.exchange(live) == live)
		return false;
	*now = Sector(live);
	return true;
}

} // namespace xbc::blkback
