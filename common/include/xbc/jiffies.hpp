// SPDX-License-Identifier: GPL-2.0-only
// Jiffies arithmetic for ages and timeouts, as the kernel's time_after()
// does it: the counter wraps, so compare by signed difference.
#pragma once

#include "kapi/sync.h"
#include "xbc/base.hpp"

namespace xbc {

// a is later than b.
[[nodiscard]] constexpr bool jiffies_after(unsigned long a, unsigned long b) noexcept
{
	return static_cast<long>(b - a) < 0;
}

[[nodiscard]] constexpr bool jiffies_before(unsigned long a, unsigned long b) noexcept
{
	return jiffies_after(b, a);
}

// Milliseconds to jiffies at the running tick rate, rounded up like
// msecs_to_jiffies(), so a non-zero interval is never zero ticks.
[[nodiscard]] inline unsigned long jiffies_from_ms(unsigned int ms) noexcept
{
	return (static_cast<unsigned long>(ms) * kapi_hz() + 999) / 1000;
}

[[nodiscard]] inline unsigned long jiffies_from_seconds(unsigned int s) noexcept
{
	return static_cast<unsigned long>(s) * kapi_hz();
}

} // namespace xbc
