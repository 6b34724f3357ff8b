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

Result<PageArray> PageArray::create(uint32_t n) noexcept
{
	PageArray a;
	a.pages_ = static_cast<struct kapi_page **>(
		kapi_kvzalloc(sizeof(struct kapi_page *) * n, KAPI_GFP_KERNEL));
	if (!a.pages_)
		return Status::error(err::kNoMem);
	a.n_ = n;
	for (uint32_t i = 0; i < n; i++) {
		// A failure leaves the rest null: the destructor frees the others.
		a.pages_[i] = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!a.pages_[i])
			return Status::error(err::kNoMem);
	}
	return move(a);
}

PageArray::~PageArray()
{
	if (!pages_)
		return;
	for (uint32_t i = 0; i < n_; i++) {
		if (pages_[i])
			kapi_page_free(pages_[i]);
	}
	kapi_kvfree(pages_);
}

Result<Box<GrantCopier>> GrantCopier::create(DomId frontend, uint32_t ring_slots) noexcept
{
	uint32_t n = ring_slots * limits::kMaxDirectSegments;
	if (n > kMaxPages)
		n = kMaxPages;
	// The indirect pages come first and are never lent.
	n += blkif::kMaxIndirectPages;
	PageArray pages = XBC_TRY(PageArray::create(n));
	Box<GrantCopier> c = xbc::create<GrantCopier>(Gfp::kKernel, frontend, move(pages));
	if (c.is_null())
		return Status::error(err::kNoMem);
	return c;
}

GrantCopier::GrantCopier(DomId frontend, PageArray pages) noexcept
	: frontend_(frontend), pages_(move(pages)), free_(pages_.data() + blkif::kMaxIndirectPages),
	  nr_pages_(pages_.size() - blkif::kMaxIndirectPages), nr_free_(nr_pages_)
{
	for (uint32_t i = 0; i < blkif::kMaxIndirectPages; i++)
		indirect_[i] = pages_.data()[i];
}

GrantCopier::~GrantCopier()
{
	// A page still lent out may be under a bio: leak it rather than free
	// memory a device may still write (the caller's bug, reported). The
	// stack's slots above nr_free_ are stale copies of lent (or since
	// returned) pages: cleared, pages_ then frees exactly the free pages
	// and the indirect ones, as before.
	(void)XBC_CHECK(nr_free_ == nr_pages_);
	for (uint32_t i = nr_free_; i < nr_pages_; i++)
		free_[i] = nullptr;
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
	out.failed_ = false;
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

void GrantCopier::queue_request(CopiedRequest &req, bool to_grant) noexcept
{
	if (!XBC_CHECK(req.copier_ == this)) {
		req.failed_ = true;
		return;
	}
	for (uint32_t i = 0; i < req.count_; i++) {
		const blkif::Segment &s = req.segs_[i];
		// Validated at decode: first_sect <= last_sect < 8, so the
		// range stays inside one page.
		queue(s.gref, req.pages_[i], s.offset_bytes(), s.length_bytes(), to_grant, &req.failed_);
	}
}

Status GrantCopier::copy_in(CopiedRequest &req) noexcept
{
	queue_request(req, /*to_grant=*/false);
	flush_copies();
	return req.failed_ ? Status::error(err::kIo) : Status::ok();
}

void GrantCopier::queue_copy_out(CopiedRequest &req) noexcept
{
	queue_request(req, /*to_grant=*/true);
}

void GrantCopier::flush_copies() noexcept
{
	if (nops_ > 0)
		run_batch();
}

Status GrantCopier::copy_indirect(const GrantRef *refs, uint32_t n, const void **addrs) noexcept
{
	if (n > blkif::kMaxIndirectPages)
		return Status::error(err::kInval);
	bool failed = false;
	for (uint32_t i = 0; i < n; i++) {
		queue(refs[i], indirect_[i], 0, KAPI_PAGE_SIZE, /*to_grant=*/false, &failed);
		addrs[i] = kapi_page_address(indirect_[i]);
	}
	flush_copies();
	return failed ? Status::error(err::kIo) : Status::ok();
}

void GrantCopier::queue(GrantRef ref, struct kapi_page *page, uint32_t offset, uint32_t len,
			bool to_grant, bool *failed) noexcept
{
	op_failed_[nops_] = failed;
	struct kapi_grant_copy &op = ops_[nops_++];
	op.ref = ref.raw();
	op.domid = frontend_.raw();
	op.to_grant = to_grant;
	op.page = page;
	op.offset = uint16_t(offset);
	op.len = uint16_t(len);
	// Only the call reports success.
	op.status = KAPI_GNTST_GENERAL_ERROR;
	if (nops_ == KAPI_GNTTAB_MAX_BATCH)
		run_batch();
}

void GrantCopier::run_batch() noexcept
{
	const uint32_t n = nops_;
	nops_ = 0;
	stats_.calls++;
	const int rc = kapi_gnttab_copy(ops_, n);
	for (uint32_t j = 0; j < n; j++) {
		const struct kapi_grant_copy &op = ops_[j];
		if (rc == 0 && op.status == KAPI_GNTST_OKAY) {
			stats_.ops++;
			continue;
		}
		stats_.failures++;
		*op_failed_[j] = true;
		kapi_log_ratelimited(KAPI_LOG_WARNING, "xbc: copy %s grant %u of dom%u failed: %d (call %d)\n",
				     op.to_grant ? "to" : "from", op.ref, op.domid, op.status, rc);
	}
}

} // namespace xbc::blkback
