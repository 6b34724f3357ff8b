/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The frontend engine's C entry points for the xenbus driver in
 * blkfront/blkfront.c: each xenbus callback forwards here unchanged. The
 * engine keeps its per-device object itself (drvdata is the C shim's).
 */
#ifndef XBC_BLKFRONT_ENGINE_H
#define XBC_BLKFRONT_ENGINE_H

#include "kapi/kapi.h"
#include "kapi/xenbus.h"

KAPI_BEGIN_DECLS

struct xbc_blkfront;

/* Creates the device object; 0 or -errno (the device is then not bound). */
int xbc_blkfront_probe(struct kapi_xenbus_device *dev, struct xbc_blkfront **out) KAPI_NOEXCEPT;
/* The backend's state changed (xenbus otherend_changed). */
void xbc_blkfront_otherend_changed(struct xbc_blkfront *fe, enum kapi_xenbus_state state) KAPI_NOEXCEPT;
/* After a save/restore or migration: reconnect, reissuing what was in flight. */
int xbc_blkfront_resume(struct xbc_blkfront *fe) KAPI_NOEXCEPT;
/* Unbind or device removal: tears everything down and frees fe. */
void xbc_blkfront_remove(struct xbc_blkfront *fe) KAPI_NOEXCEPT;
/* xenbus is_ready: the disk exists. */
int xbc_blkfront_is_ready(struct xbc_blkfront *fe) KAPI_NOEXCEPT;

/*
 * Pool statistics for sysfs, summed over the device's rings. Returns the
 * bytes written into buf (a NUL-terminated "key value" line per counter).
 */
int xbc_blkfront_format_stats(struct xbc_blkfront *fe, char *buf, unsigned int len) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_BLKFRONT_ENGINE_H */
