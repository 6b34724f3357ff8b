// SPDX-License-Identifier: GPL-2.0-only
// The extern "C" entry points the C shim (blkfront/blkfront.c) calls
// (blkfront/engine.h): each forwards to the Frontend or Driver.
#include "blkfront/frontend.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"
#include "kapi/thread.h"
#include "blkfront/engine.h"
#include "xbc/invariant.hpp"
#include "xbc/xenstore.hpp"


using xbc::blkfront::Driver;
using xbc::blkfront::Frontend;

int xbc_blkfront_probe(kapi_xenbus_device *dev, xbc_blkfront **out) noexcept
{
	Driver *driver = xbc::blkfront::driver_instance();
	if (!driver)
		return -xbc::err::kNoDev;
	auto fe = Frontend::create(dev, driver);
	if (fe.is_error())
		return fe.status().code();
	xbc::Box<xbc_blkfront> handle = xbc::create<xbc_blkfront>(xbc::Gfp::kKernel);
	if (handle.is_null())
		return -xbc::err::kNoMem;
	handle->fe = fe.take();
	*out = handle.release();
	return 0;
}

void xbc_blkfront_otherend_changed(xbc_blkfront *h, kapi_xenbus_state state) noexcept
{
	h->fe->otherend_changed(state);
}

int xbc_blkfront_resume(xbc_blkfront *h) noexcept
{
	return h->fe->resume().code();
}

void xbc_blkfront_remove(xbc_blkfront *h) noexcept
{
	h->fe->remove();
	xbc::Box<xbc_blkfront>::adopt(h).reset();
}

int xbc_blkfront_is_ready(xbc_blkfront *h) noexcept
{
	return h->fe->is_ready() ? 1 : 0;
}

namespace xbc::blkfront {

int format_pool_stats(const GrantPoolStats &s, char *buf, unsigned int len) noexcept
{
	const struct {
		const char *key;
		uint64_t value;
	} rows[] = {
#define XBC_POOL_ROW(field, key, type) {#key " ", s.field},
		XBC_GRANT_POOL_COUNTERS(XBC_POOL_ROW)
#undef XBC_POOL_ROW
	};
	if (len == 0)
		return 0;
	unsigned int n = 0;
	for (const auto &row : rows) {
		const xs::Decimal num(row.value);
		const char *parts[] = {row.key, num.c_str(), "\n"};
		for (const char *p : parts)
			for (; *p && n + 1 < len; p++)
				buf[n++] = *p;
	}
	buf[n] = '\0';
	return int(n);
}

} // namespace xbc::blkfront

int xbc_blkfront_format_stats(xbc_blkfront *h, char *buf, unsigned int len) noexcept
{
	return xbc::blkfront::format_pool_stats(h->fe->pool_stats(), buf, len);
}
