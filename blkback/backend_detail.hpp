// SPDX-License-Identifier: GPL-2.0-only
// What backend.cpp and backend_connect.cpp share, and nothing else includes.
#pragma once

#include "kapi/xenbus.h"
#include "xbc/result.hpp"
#include "xbc/xenstore.hpp"
#ifdef XBC_HOSTILE
#include "hostile.hpp"
#endif

namespace xbc::blkback::detail {

// Text values (mode, device-type, dev) are bounded; anything longer is
// hostile or broken.
inline constexpr size_t kValueLen = 64;
inline constexpr size_t kPathLen = xs::Path::kCapacity;

// Every number the backend publishes goes through here, so the test-only
// hostile build (XBC_HOSTILE) can replace it with an absurd one.
inline Status write_uint(kapi_xbt t, const char *dir, const char *node, uint64_t v) noexcept
{
#ifdef XBC_HOSTILE
	v = hostile::xenstore_value(dir, node, v);
#endif
	return xs::write_uint(t, dir, node, v);
}

} // namespace xbc::blkback::detail
