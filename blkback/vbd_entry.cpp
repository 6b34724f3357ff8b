// SPDX-License-Identifier: GPL-2.0-only
// Typed trampolines from the C xenbus driver (blkback/blkback.c) into the
// Backend engine: the opaque struct xbc_vbd is a Backend.
#include "vbd_entry.h"

#include "backend.hpp"


namespace {

xbc::blkback::Backend *backend(struct xbc_vbd *vbd) noexcept
{
	return reinterpret_cast<xbc::blkback::Backend *>(vbd);
}

} // namespace

int xbc_vbd_probe(struct kapi_xenbus_device *dev, struct xbc_vbd **out) noexcept
{
	auto be = xbc::blkback::Backend::probe(dev);
	if (be.is_error())
		return be.status().code();
	*out = reinterpret_cast<struct xbc_vbd *>(be.take().release());
	return 0;
}

void xbc_vbd_remove(struct xbc_vbd *vbd) noexcept
{
	if (!vbd)
		return;
	// Adopted back from probe's release(); never waits for I/O.
	xbc::blkback::Backend::remove(xbc::Box<xbc::blkback::Backend>::adopt(backend(vbd)));
}

bool xbc_vbd_frontend_changed(struct xbc_vbd *vbd, enum kapi_xenbus_state state, bool online) noexcept
{
	return backend(vbd)->frontend_changed(state, online);
}

void xbc_vbd_reclaim_memory(struct xbc_vbd *vbd) noexcept
{
	backend(vbd)->reclaim_memory();
}

void xbc_vbd_io_stats(struct xbc_vbd *vbd, struct xbc_vbd_io_stats *out) noexcept
{
	*out = backend(vbd)->io_stats();
}

void xbc_vbd_grant_stats(struct xbc_vbd *vbd, struct xbc_vbd_grant_stats *out) noexcept
{
	*out = backend(vbd)->grant_stats();
}

bool xbc_vbd_physical_device(struct xbc_vbd *vbd, uint32_t *major, uint32_t *minor) noexcept
{
	return backend(vbd)->physical_device(major, minor);
}

void xbc_vbd_mode(struct xbc_vbd *vbd, char *buf, size_t len) noexcept
{
	backend(vbd)->mode(buf, len);
}
