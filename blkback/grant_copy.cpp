// SPDX-License-Identifier: GPL-2.0-only
// The grant-copy data path: see grant_copy.hpp.
#include "grant_copy.hpp"

#include "kapi/log.h"
#include "xbc/invariant.hpp"
#include "xbc/limits.hpp"

namespace xbc::blkback {

void CopiedRequest::release() noexcept
{
	if (copier_)
		copier_->give_back(*this);
}

Result<Box<GrantCopier>> GrantCopier::create(DomId frontend, uint32_t ring_slots) noexcept
{
	uint32_t n = ring_slots * limits::kMaxDirectSegments;
	if (n > kMaxPages)
		n = kMaxPages;
	auto **pages = static_cast<struct kapi_page **>(
		kapi_kvzalloc(sizeof(struct kapi_page *) * n, KAPI_GFP_KERNEL));
	if (!pages)
		return Status::error(err::kNoMem);
	for (uint32_t i = 0; i < n; i++) {
		pages[i] = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!pages[i]) {
			while (i--)
				kapi_page_free(pages[i]);
			kapi_kvfree(pages);
			return Status::error(err::kNoMem);
		}
	}
	Box<GrantCopier> c = xbc::create<GrantCopier>(Gfp::kKernel, frontend, pages, n);
	if (c.is_null()) {
		for (uint32_t i = 0; i < n; i++)
			kapi_page_free(pages[i]);
		kapi_kvfree(pages);
		return Status::error(err::kNoMem);
	}
	return c;
}

GrantCopier::GrantCopier(DomId frontend, struct kapi_page **free, uint32_t nr_pages) noexcept
	: frontend_(frontend), free_(free), nr_pages_(nr_pages), nr_free_(nr_pages)
{
}

GrantCopier::~GrantCopier()
{
	// A page still lent out may be under a bio: leak it rather than free
	// memory a device may still write (the caller's bug, reported).
	(void)XBC_CHECK(nr_free_ == nr_pages_);
	for (uint32_t i = 0; i < nr_free_; i++)
		kapi_page_free(free_[i]);
	kapi_kvfree(free_);
}

bool GrantCopier::take(const blkif::Segment *segs, uint32_t n, CopiedRequest &out) noexcept
{
	if (!XBC_CHECK(!out.is_active()))
		return false;
	if (n > CopiedRequest::kMaxSegments || n > nr_free_) {
		stats_.fallbacks++;
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		out.pages_[i] = free_[--nr_free_];
		out.segs_[i] = segs[i];
	}
	out.count_ = n;
	out.copier_ = this;
	stats_.requests++;
	return true;
}

void GrantCopier::give_back(CopiedRequest &req) noexcept
{
	for (uint32_t i = 0; i < req.count_; i++)
		free_[nr_free_++] = req.pages_[i];
	req.count_ = 0;
	req.copier_ = nullptr;
}

Status GrantCopier::copy(const CopiedRequest &req, bool to_grant) noexcept
{
	if (!XBC_CHECK(req.copier_ == this))
		return Status::error(err::kInval);
	bool ok = true;
	uint32_t n = 0;
	for (uint32_t i = 0; i < req.count_; i++) {
		const blkif::Segment &s = req.segs_[i];
		struct kapi_grant_copy &op = ops_[n++];
		op.ref = s.gref.raw();
		op.domid = frontend_.raw();
		op.to_grant = to_grant;
		op.page = req.pages_[i];
		// Validated at decode: first_sect <= last_sect < 8, so the
		// range stays inside one page.
		op.offset = uint16_t(s.offset_bytes());
		op.len = uint16_t(s.length_bytes());
		// Only the call reports success.
		op.status = KAPI_GNTST_GENERAL_ERROR;
		if (n == KAPI_GNTTAB_MAX_BATCH) {
			ok &= flush(n);
			n = 0;
		}
	}
	if (n > 0)
		ok &= flush(n);
	return ok ? Status::ok() : Status::error(err::kIo);
}

bool GrantCopier::flush(uint32_t n) noexcept
{
	stats_.calls++;
	const int rc = kapi_gnttab_copy(ops_, n);
	bool ok = rc == 0;
	for (uint32_t j = 0; j < n; j++) {
		const struct kapi_grant_copy &op = ops_[j];
		if (rc == 0 && op.status == KAPI_GNTST_OKAY) {
			stats_.ops++;
			continue;
		}
		stats_.failures++;
		ok = false;
		kapi_log_ratelimited(KAPI_LOG_WARNING, "xbc: copy %s grant %u of dom%u failed: %d (call %d)\n",
				     op.to_grant ? "to" : "from", op.ref, op.domid, op.status, rc);
	}
	return ok;
}

} // namespace xbc::blkback
