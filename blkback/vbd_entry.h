/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The C++ backend engine's entry points for one vbd, called by the xenbus
 * driver in blkback/blkback.c (C) and defined in blkback/vbd_entry.cpp.
 * Each is a straight forward of a xenbus callback or a sysfs read.
 */
#ifndef XBC_BLKBACK_VBD_ENTRY_H
#define XBC_BLKBACK_VBD_ENTRY_H

#include "kapi/kapi.h"
#include "kapi/xenbus.h"

#include "counters.h"

KAPI_BEGIN_DECLS

struct xbc_vbd;

/* xenbus probe: 0 and *out, or -errno (the device is marked failed). */
int xbc_vbd_probe(struct kapi_xenbus_device *dev, struct xbc_vbd **out) KAPI_NOEXCEPT;
/* xenbus remove: disconnects and frees everything. */
void xbc_vbd_remove(struct xbc_vbd *vbd) KAPI_NOEXCEPT;
/*
 * otherend_changed. @online is xenbus_dev_is_online(). Returns true when
 * the shim must device_unregister() the device.
 */
bool xbc_vbd_frontend_changed(struct xbc_vbd *vbd, enum kapi_xenbus_state state,
			      bool online) KAPI_NOEXCEPT;
/* xenbus reclaim_memory: memory pressure. */
void xbc_vbd_reclaim_memory(struct xbc_vbd *vbd) KAPI_NOEXCEPT;

/* statistics/ (in-tree names), summed over rings and connections. */
void xbc_vbd_io_stats(struct xbc_vbd *vbd, struct xbc_vbd_io_stats *out) KAPI_NOEXCEPT;

/* Persistent-grant telemetry (our own; see README). */
void xbc_vbd_grant_stats(struct xbc_vbd *vbd, struct xbc_vbd_grant_stats *out) KAPI_NOEXCEPT;

/* physical_device ("%x:%x"; false until known) and mode. */
bool xbc_vbd_physical_device(struct xbc_vbd *vbd, uint32_t *major, uint32_t *minor) KAPI_NOEXCEPT;
void xbc_vbd_mode(struct xbc_vbd *vbd, char *buf, size_t len) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_BLKBACK_VBD_ENTRY_H */
