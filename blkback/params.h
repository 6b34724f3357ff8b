/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xen-blkback's module parameters, as the C++ engine reads them. The
 * parameters themselves (names, types, permissions, defaults and
 * descriptions identical to the in-tree driver) live in blkback/blkback.c;
 * each getter reads the current value once (READ_ONCE), since 0644 ones can
 * change at any time through sysfs. Callers take one snapshot per
 * connection and validate it: these are raw, unclamped values.
 */
#ifndef XBC_BLKBACK_PARAMS_H
#define XBC_BLKBACK_PARAMS_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* Free pages kept per ring for reuse (pages). */
int xbc_blkback_param_max_buffer_pages(void) KAPI_NOEXCEPT;
/* Cap of persistently mapped grants per ring (grants). */
int xbc_blkback_param_max_persistent_grants(void) KAPI_NOEXCEPT;
/* Idle time before a persistent grant may be purged (seconds, 0 = never). */
unsigned int xbc_blkback_param_persistent_grant_unused_seconds(void) KAPI_NOEXCEPT;
/* Rings per device offered to the frontend (0 = number of online CPUs). */
unsigned int xbc_blkback_param_max_queues(void) KAPI_NOEXCEPT;
/* Largest shared ring accepted (log2 of pages). */
int xbc_blkback_param_max_ring_page_order(void) KAPI_NOEXCEPT;
/* Non-zero: log per-ring statistics periodically. */
int xbc_blkback_param_log_stats(void) KAPI_NOEXCEPT;
/* Advertise and use persistent grants. */
bool xbc_blkback_param_feature_persistent(void) KAPI_NOEXCEPT;
/* How long to keep the page buffer empty after memory pressure (ms). */
int xbc_blkback_param_buffer_squeeze_duration_ms(void) KAPI_NOEXCEPT;
/* Ours (0444): without persistent grants, grant copy instead of map + unmap. */
bool xbc_blkback_param_grant_copy(void) KAPI_NOEXCEPT;

#ifdef XBC_HOSTILE
/* Test-only: the hostile backend's attacks= (blkback/hostile.hpp). */
const char *xbc_blkback_param_hostile_attacks(void) KAPI_NOEXCEPT;
#endif

KAPI_END_DECLS

#endif /* XBC_BLKBACK_PARAMS_H */
