// SPDX-License-Identifier: GPL-2.0-only
// The fake Xen's block devices (kapi/block.h): in-memory disks registered by
// the test under a major:minor, bios that copy between the disk and page
// memory (through any grant mapping, so the frontend's pages are the ones
// read and written), completed when the test pumps them or inline. Checks
// what the block layer would refuse: I/O past the end, misaligned to the
// logical block size, writes to a read-only open, reads into a page mapped
// read-only. Host-only code.
#include <errno.h>
#include <string.h>

#include "support/fake_xen_state.hpp"
#include "support/kapi_host.hpp"
#include "support/page_arena.hpp"

namespace xbc::host {

using Access = FakeXenAccess;

void FakeDisk::resize(uint64_t nr_sectors) { data_.resize(nr_sectors * 512); }

void FakeDisk::fail_next_io(size_t n, int err) noexcept
{
	fail_next_ = n;
	fail_err_ = err;
}

void FakeDisk::clear_failures() noexcept
{
	fail_next_ = 0;
	bad_sectors_.clear();
}

FakeDisk &FakeXen::add_disk(uint32_t major, uint32_t minor, const DiskSpec &spec)
{
	auto d = std::make_unique<FakeDisk>();
	Access::spec(*d) = spec;
	Access::data(*d).assign(spec.nr_sectors * 512, 0);
	Access::set_id(*d, major, minor);
	auto &slot = s_->disks[{major, minor}];
	slot = std::move(d);
	return *slot;
}

void FakeXen::set_bio_completion(BioCompletion mode) noexcept { s_->completion = mode; }

size_t FakeXen::complete_bios(size_t max, bool lifo)
{
	size_t n = 0;
	while (n < max && !s_->bio_queue.empty()) {
		kapi_bio *bio;
		if (lifo) {
			bio = s_->bio_queue.back();
			s_->bio_queue.pop_back();
		} else {
			bio = s_->bio_queue.front();
			s_->bio_queue.pop_front();
		}
		s_->complete_bio(bio);
		n++;
	}
	return n;
}

size_t FakeXen::bios_in_flight() const noexcept { return s_->bio_queue.size(); }

void FakeXen::State::complete_bio(kapi_bio *bio)
{
	FakeDisk &disk = *bio->bdev->disk;
	DiskStats &st = Access::stats(disk);
	std::vector<unsigned char> &bytes = Access::data(disk);
	const DiskSpec &spec = Access::spec(disk);
	uint64_t total = 0;
	for (const auto &v : bio->vecs)
		total += v.len;
	const uint64_t capacity = bytes.size() / 512;
	const bool in_range = bio->sector <= capacity && total / 512 <= capacity - bio->sector;
	const uint64_t pos = in_range ? bio->sector * 512 : 0;
	int err = Access::take_failure(disk);

	if (bio->flags & KAPI_BIO_FLAG_PREFLUSH)
		st.preflush++;
	if (bio->flags & KAPI_BIO_FLAG_FUA)
		st.fua++;
	if (bio->op == KAPI_BIO_FLUSH) {
		st.flushes++;
		if (total)
			violation("flush bio carrying data");
	} else if (!err) {
		const bool write = bio->op == KAPI_BIO_WRITE;
		const uint32_t lbs = spec.logical_block_size;
		if (total == 0) {
			violation("read/write bio with no data");
			err = -EIO;
		} else if (!in_range) {
			err = -EIO;	// bio_check_eod
		} else if (pos % lbs || total % lbs) {
			err = -EIO;	// not a whole number of logical blocks
		} else if (write && bio->bdev->readonly) {
			violation("write bio to a block device opened read-only");
			err = -EIO;
		}
		for (uint64_t bad : Access::bad_sectors(disk)) {
			if (!err && bad >= bio->sector && bad < bio->sector + total / 512)
				err = -EIO;
		}
		if (!err && !write) {
			for (const auto &v : bio->vecs) {
				auto m = mapped_pages.find(v.page);
				if (m != mapped_pages.end() && mappings.at(m->second).readonly) {
					violation("read bio into a page mapped read-only");
					err = -EIO;
				}
			}
		}
		if (!err) {
			uint64_t at = pos;
			for (const auto &v : bio->vecs) {
				auto *mem = static_cast<unsigned char *>(v.page) + v.offset;
				if (write)
					memcpy(bytes.data() + at, mem, v.len);
				else
					memcpy(mem, bytes.data() + at, v.len);
				at += v.len;
			}
			if (write) {
				st.writes++;
				st.bytes_written += total;
			} else {
				st.reads++;
				st.bytes_read += total;
			}
		}
	}
	st.bios_completed++;
	if (err)
		st.bios_failed++;
	bios_alloced.erase(bio);
	kapi_bio_done_fn done = bio->done;
	void *ctx = bio->ctx;
	delete bio;
	release_alloc();
	const bool was_atomic = in_atomic_context();
	set_atomic_context(true);	// bi_end_io runs in irq/softirq context
	done(ctx, err);
	set_atomic_context(was_atomic);
}

} // namespace xbc::host

using xbc::host::active_fake;
using xbc::host::FakeXen;
using Access = xbc::host::FakeXenAccess;

extern "C" {

int kapi_bdev_open(uint32_t major, uint32_t minor, bool readonly, void *holder, struct kapi_bdev **out) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	*out = nullptr;
	auto it = s.disks.find({major, minor});
	if (it == s.disks.end())
		return -ENXIO;
	xbc::host::FakeDisk &d = *it->second;
	if (!readonly && Access::spec(d).readonly)
		return -EACCES;
	if (Access::open_count(d) && Access::holder(d) != holder)
		return -EBUSY;	// another exclusive opener
	if (!xbc::host::take_alloc())
		return -ENOMEM;
	Access::open_count(d)++;
	Access::holder(d) = holder;
	Access::stats(d).opens++;
	auto *b = new kapi_bdev{&d, readonly, holder};
	s.bdevs.insert(b);
	*out = b;
	return 0;
}

void kapi_bdev_close(struct kapi_bdev *bdev) noexcept
{
	if (!bdev)
		return;
	FakeXen::State &s = active_fake(__func__);
	if (!s.bdevs.erase(bdev)) {
		s.violation("close of a block device that is not open");
		return;
	}
	for (kapi_bio *b : s.bios_alloced) {
		if (b->bdev == bdev)
			s.violation("block device closed with a bio in flight");
	}
	Access::open_count(*bdev->disk)--;
	delete bdev;
	xbc::host::release_alloc();
}

uint64_t kapi_bdev_nr_sectors(struct kapi_bdev *bdev) noexcept
{
	active_fake(__func__);
	return Access::data(*bdev->disk).size() / 512;
}

void kapi_bdev_query(struct kapi_bdev *bdev, struct kapi_bdev_info *info) noexcept
{
	active_fake(__func__);
	xbc::host::FakeDisk &d = *bdev->disk;
	const xbc::host::DiskSpec &sp = Access::spec(d);
	*info = kapi_bdev_info{};
	info->nr_sectors = Access::data(d).size() / 512;
	info->logical_block_size = sp.logical_block_size;
	info->physical_block_size = sp.physical_block_size;
	info->write_cache = sp.write_cache;
	info->readonly = sp.readonly;
	info->removable = sp.removable;
	info->cdrom = sp.cdrom;
	info->discard = sp.discard;
	info->secure_erase = sp.secure_erase;
	info->discard_granularity = sp.discard_granularity;
	info->discard_alignment = sp.discard_alignment;
}

struct kapi_bio *kapi_bio_alloc(struct kapi_bdev *bdev, enum kapi_bio_op op, unsigned int flags,
				uint64_t sector, unsigned int nr_vecs, kapi_bio_done_fn done, void *ctx) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (!s.bdevs.count(bdev)) {
		s.violation("bio_alloc on a block device that is not open");
		return nullptr;
	}
	if (!xbc::host::take_alloc())
		return nullptr;
	auto *bio = new kapi_bio{bdev, op, flags, sector, nr_vecs, {}, done, ctx};
	s.bios_alloced.insert(bio);
	return bio;
}

bool kapi_bio_add_page(struct kapi_bio *bio, struct kapi_page *page, unsigned int len, unsigned int offset) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (bio->vecs.size() >= bio->nr_vecs)
		return false;
	if (!xbc::host::arena::is_live_page(page)) {
		s.violation("bio_add_page of a page that is not a live kapi page");
		return false;
	}
	if (len == 0 || offset >= KAPI_PAGE_SIZE || len > KAPI_PAGE_SIZE - offset || (len | offset) % 512) {
		s.violation("bio_add_page with a bad offset/length");
		return false;
	}
	bio->vecs.push_back(kapi_bio::Vec{page, len, offset});
	return true;
}

void kapi_bio_submit(struct kapi_bio *bio) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	Access::stats(*bio->bdev->disk).bios_submitted++;
	if (s.completion == xbc::host::BioCompletion::kInline)
		s.complete_bio(bio);
	else
		s.bio_queue.push_back(bio);
}

void kapi_bio_put(struct kapi_bio *bio) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	if (!s.bios_alloced.erase(bio)) {
		s.violation("bio_put of an unknown bio");
		return;
	}
	for (kapi_bio *q : s.bio_queue) {
		if (q == bio)
			s.violation("bio_put of a submitted bio");
	}
	delete bio;
	xbc::host::release_alloc();
}

int kapi_bdev_discard(struct kapi_bdev *bdev, uint64_t sector, uint64_t nr_sectors, bool secure,
		      enum kapi_gfp) noexcept
{
	FakeXen::State &s = active_fake(__func__);
	xbc::host::FakeDisk &d = *bdev->disk;
	const xbc::host::DiskSpec &sp = Access::spec(d);
	std::vector<unsigned char> &bytes = Access::data(d);
	if (!sp.discard || (secure && !sp.secure_erase))
		return -EOPNOTSUPP;
	if (bdev->readonly) {
		s.violation("discard on a block device opened read-only");
		return -EPERM;
	}
	const uint64_t lbs_sectors = sp.logical_block_size / 512;
	if ((sector | nr_sectors) % lbs_sectors)
		return -EINVAL;	// blkdev_issue_discard's alignment check
	if (const int err = Access::take_failure(d))
		return err;
	const uint64_t capacity = bytes.size() / 512;
	if (sector > capacity || nr_sectors > capacity - sector)
		return -EIO;
	memset(bytes.data() + sector * 512, 0, nr_sectors * 512);
	if (secure)
		Access::stats(d).secure_erases++;
	else
		Access::stats(d).discards++;
	return 0;
}

} // extern "C"
