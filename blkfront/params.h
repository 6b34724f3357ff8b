/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xen-blkfront's module parameters, as the C++ engine reads them. The
 * parameters themselves (names, types, permissions, defaults and
 * descriptions identical to the in-tree driver) live in blkfront/blkfront.c;
 * each getter reads the current value once (READ_ONCE), since 0644 ones can
 * change at any time through sysfs. Callers take one snapshot per
 * connection and validate it: these are raw, unclamped values.
 */
#ifndef XBC_BLKFRONT_PARAMS_H
#define XBC_BLKFRONT_PARAMS_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* Segments per indirect request wanted (segments; in-tree clamps to >= 11). */
unsigned int xbc_blkfront_param_max_indirect_segments(void) KAPI_NOEXCEPT;
/* Rings per disk wanted (capped by online CPUs and the backend's offer). */
unsigned int xbc_blkfront_param_max_queues(void) KAPI_NOEXCEPT;
/* Largest shared ring wanted (log2 of pages). */
int xbc_blkfront_param_max_ring_page_order(void) KAPI_NOEXCEPT;
/* false: the backend is untrusted, bounce all data (XSA-403). */
bool xbc_blkfront_param_trusted(void) KAPI_NOEXCEPT;
/* Advertise and use persistent grants. */
bool xbc_blkfront_param_feature_persistent(void) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_BLKFRONT_PARAMS_H */
