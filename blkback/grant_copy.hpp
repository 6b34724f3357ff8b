// SPDX-License-Identifier: GPL-2.0-only
// The grant-copy data path (module parameter grant_copy, ours; not in-tree):
// for a connection WITHOUT persistent grants, a request's data moves by
// GNTTABOP_copy between the frontend's grants and pages the backend owns,
// instead of mapping every grant and unmapping it afterwards (an unmap
// flushes TLBs on every dom0 CPU that may hold the mapping).
//
//   write: copy each segment's bytes grant -> our page, then submit the bio
//   read:  submit the bio on our pages; when it is done, copy our page ->
//          grant, then respond
//
// The pages come from one pool per ring, allocated at connect and freed at
// disconnect, so the I/O path never allocates. It holds enough for every
// ring slot to carry a full direct request (up to kMaxPages); a request
// that finds too few free pages (large indirect ones under load) takes the
// map path instead. An indirect request's descriptor pages are copied too,
// into pages of their own, and decoded from there.
// Only the bytes of each segment (first_sect..last_sect) are copied, each
// way, at the same offset in our page as in the grant: the bio addresses
// the same range of our page.
//
// A copy op the frontend made fail (a bad or revoked gref, a read-only
// grant for a read) fails only its request, with BLKIF_RSP_ERROR.
//
// Concurrency: the ring thread (or its retire work item) only, as for the
// GrantMapper.
#pragma once

#include "kapi/gnttab.h"
#include "xbc/blkif.hpp"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc::blkback {

class GrantCopier;

// The pages one request borrows from its ring's GrantCopier, and what to
// copy through them: the per-request RAII owner (destroying it returns the
// pages).
class CopiedRequest : Pinned {
public:
	static constexpr uint32_t kMaxSegments = 256;

	CopiedRequest() noexcept = default;
	~CopiedRequest() { release(); }

	[[nodiscard]] bool is_active() const noexcept { return copier_ != nullptr; }
	[[nodiscard]] uint32_t count() const noexcept { return count_; }
	// Our page behind segment i (i < count()).
	[[nodiscard]] struct kapi_page *page(uint32_t i) const noexcept
	{
		if (i >= count_)
			__builtin_trap();
		return pages_[i];
	}
	// A copy op of this request failed (since take()).
	[[nodiscard]] bool copy_failed() const noexcept { return failed_; }
	// Returns the pages to the pool. Idempotent.
	void release() noexcept;

private:
	friend class GrantCopier;
	GrantCopier *copier_ = nullptr;
	uint32_t count_ = 0;
	bool failed_ = false;
	struct kapi_page *pages_[kMaxSegments];
	blkif::Segment segs_[kMaxSegments];
};

struct GrantCopyStats {
	uint64_t requests;	// requests served by copy
	uint64_t fallbacks;	// requests that found too few pages (mapped)
	uint64_t ops;		// successful copy operations
	uint64_t failures;	// failed copy operations
	uint64_t calls;		// kapi_gnttab_copy batches
};

// Pages from kapi_page_alloc in one kvzalloc'd array, owned: frees every
// page still in it (null slots are skipped), then the array.
class PageArray {
public:
	PageArray() noexcept = default;
	[[nodiscard]] static Result<PageArray> create(uint32_t n) noexcept;
	PageArray(PageArray &&o) noexcept : pages_(o.pages_), n_(o.n_) { o.pages_ = nullptr; }
	PageArray &operator=(PageArray &&) = delete;
	PageArray(const PageArray &) = delete;
	~PageArray();

	[[nodiscard]] struct kapi_page **data() const noexcept { return pages_; }
	[[nodiscard]] uint32_t size() const noexcept { return n_; }

private:
	struct kapi_page **pages_ = nullptr;
	uint32_t n_ = 0;
};

class GrantCopier : Pinned {
public:
	// The pool's cap per ring (4 MiB): a one-page ring's 32 slots of full
	// direct requests fit; larger rings fall back to mapping beyond it.
	static constexpr uint32_t kMaxPages = 1024;

	// Enough pages for `ring_slots` full direct requests, up to kMaxPages.
	[[nodiscard]] static Result<Box<GrantCopier>> create(DomId frontend, uint32_t ring_slots) noexcept;
	// Frees the pool (pages_); every CopiedRequest must have been released.
	~GrantCopier();

	// Lends `out` one page per segment. False, with nothing taken, when
	// the pool has fewer than n pages free (or n is too large).
	[[nodiscard]] bool take(const blkif::Segment *segs, uint32_t n, CopiedRequest &out) noexcept;
	// Grant -> our pages (a write, before the bio). -EIO if any op failed.
	[[nodiscard]] Status copy_in(CopiedRequest &req) noexcept;
	// Our pages -> grant (a read, after the bio), batched with other
	// requests' copies: done by the time flush_copies() returns, and
	// then req.copy_failed() says whether all of it arrived.
	void queue_copy_out(CopiedRequest &req) noexcept;
	void flush_copies() noexcept;
	// Copies an indirect request's descriptor pages (refs[0..n)) into the
	// copier's own and gives their addresses, valid until the next call.
	[[nodiscard]] Status copy_indirect(const GrantRef *refs, uint32_t n, const void **addrs) noexcept;

	[[nodiscard]] const GrantCopyStats &stats() const noexcept { return stats_; }
	[[nodiscard]] uint32_t pages() const noexcept { return nr_pages_; }
	[[nodiscard]] uint32_t free_pages() const noexcept { return nr_free_; }

private:
	friend class CopiedRequest;
	// Only create() builds one, from its pages (xbc::create
	// placement-constructs it).
	template <typename T, typename... Args> friend Box<T> xbc::create(Gfp, Args &&...) noexcept;
	GrantCopier(DomId frontend, PageArray pages) noexcept;
	void give_back(CopiedRequest &req) noexcept;
	void queue_request(CopiedRequest &req, bool to_grant) noexcept;
	// Batches one copy op; a full batch goes at once. A failed op sets
	// *failed.
	void queue(GrantRef ref, struct kapi_page *page, uint32_t offset, uint32_t len, bool to_grant,
		   bool *failed) noexcept;
	void run_batch() noexcept;

	const DomId frontend_;
	PageArray pages_;		// the indirect pages, then free_'s
	struct kapi_page **free_;	// stack of free pages, nr_pages_ entries
	const uint32_t nr_pages_;
	uint32_t nr_free_;
	// The last indirect request's descriptor pages (the pool's first ones).
	struct kapi_page *indirect_[blkif::kMaxIndirectPages] = {};
	struct kapi_grant_copy ops_[KAPI_GNTTAB_MAX_BATCH];
	bool *op_failed_[KAPI_GNTTAB_MAX_BATCH];	// whose op it is
	uint32_t nops_ = 0;
	GrantCopyStats stats_ = {};
};

} // namespace xbc::blkback
