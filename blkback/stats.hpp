// SPDX-License-Identifier: GPL-2.0-only
// The backend's counters: the in-tree statistics/ files, and the
// persistent-grant telemetry no in-tree driver shows. Each ring counts its
// own (only its thread writes them); readers in other contexts (sysfs, the
// control path) load them relaxed, which on x86-64 is a plain 8-byte move.
#pragma once

#include "xbc/base.hpp"

namespace xbc::blkback {

// statistics/{oo_req,rd_req,wr_req,f_req,ds_req,rd_sect,wr_sect}.
struct IoStats {
	uint64_t oo_req;	// requests that waited for a free request slot
	uint64_t rd_req;
	uint64_t wr_req;
	uint64_t f_req;		// flush and barrier
	uint64_t ds_req;	// discard
	uint64_t rd_sect;	// 512-byte sectors read
	uint64_t wr_sect;

	void add(const IoStats &o) noexcept
	{
		oo_req += o.oo_req;
		rd_req += o.rd_req;
		wr_req += o.wr_req;
		f_req += o.f_req;
		ds_req += o.ds_req;
		rd_sect += o.rd_sect;
		wr_sect += o.wr_sect;
	}
};

// Grant telemetry per vbd (summed over rings and connections).
struct GrantStats {
	uint64_t hits;		// segment found in the persistent tree
	uint64_t misses;	// segment not in the tree (so mapped)
	uint64_t maps;		// grant map operations that succeeded
	uint64_t unmaps;	// grant unmap operations
	uint64_t evictions;	// persistent grants purged (LRU or idle)
	uint64_t mapped;	// mapped right now (persistent + transient)
	uint64_t transient_maps; // maps not kept persistently (feature off, over cap)

	void add(const GrantStats &o) noexcept
	{
		hits += o.hits;
		misses += o.misses;
		maps += o.maps;
		unmaps += o.unmaps;
		evictions += o.evictions;
		mapped += o.mapped;
		transient_maps += o.transient_maps;
	}
};

// A counter one thread writes and others read.
inline void stat_add(uint64_t &counter, uint64_t n) noexcept
{
	__atomic_store_n(&counter, __atomic_load_n(&counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
[[nodiscard]] inline uint64_t stat_read(const uint64_t &counter) noexcept
{
	return __atomic_load_n(&counter, __ATOMIC_RELAXED);
}

} // namespace xbc::blkback
