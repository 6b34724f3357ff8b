/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The backend's counters, each declared once. Both sides expand these
 * lists: the C structs below (the snapshot the sysfs shim reads),
 * blkback.c's statistics/ and persistent_grants/ files (named after the
 * field), and in C++ (stats.hpp) the per-ring live counters, the sums and
 * the disconnect log line. A new counter is one line here.
 *
 * X(field)            statistics/<field>, the in-tree names
 * X(field, log_name)  persistent_grants/<field> and "<log_name> N" in the
 *                     "disconnected: grants ..." line, in this order (the
 *                     e2e harness and scripts/demo parse both)
 */
#ifndef XBC_BLKBACK_COUNTERS_H
#define XBC_BLKBACK_COUNTERS_H

#include "kapi/kapi.h"

#define XBC_BLKBACK_IO_COUNTERS(X)						\
	X(oo_req)	/* requests that waited for a free request slot */	\
	X(rd_req)								\
	X(wr_req)								\
	X(f_req)	/* flush and barrier */					\
	X(ds_req)	/* discard */						\
	X(rd_sect)	/* 512-byte sectors read */				\
	X(wr_sect)

/* Grant telemetry (ours; no in-tree driver shows it). */
#define XBC_BLKBACK_GRANT_COUNTERS(X)						\
	X(hits, hits)		/* segment found in the persistent tree */	\
	X(misses, misses)	/* segment not in the tree (so mapped) */	\
	X(maps, maps)		/* grant map operations that succeeded */	\
	X(unmaps, unmaps)	/* grant unmap operations */			\
	X(evictions, evictions)	/* persistent grants purged (LRU or idle) */	\
	X(transient_maps, transient) /* maps not kept (feature off, over cap) */ \
	X(mapped, mapped)	/* mapped right now (persistent + transient) */

KAPI_BEGIN_DECLS

#define XBC_COUNTER_U64(field, ...) uint64_t field;

/* Summed over a vbd's rings and connections. */
struct xbc_vbd_io_stats {
	XBC_BLKBACK_IO_COUNTERS(XBC_COUNTER_U64)
};

struct xbc_vbd_grant_stats {
	XBC_BLKBACK_GRANT_COUNTERS(XBC_COUNTER_U64)
};

#undef XBC_COUNTER_U64

KAPI_END_DECLS

#endif /* XBC_BLKBACK_COUNTERS_H */
