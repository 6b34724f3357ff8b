// SPDX-License-Identifier: GPL-2.0-only
// The engine suites' view of the fakes (kunit/fake_gnttab.h,
// kunit/fake_kapi.h): their counters as values, and the one check every
// engine case ends with.
#pragma once

#include "fake_gnttab.h"
#include "fake_kapi.h"
#include "xbc_kunit.hpp"

namespace xbc::kunit {

inline xbc_fake_gnttab_stats gnttab_stats() noexcept
{
	xbc_fake_gnttab_stats s;
	xbc_fake_gnttab_get_stats(&s);
	return s;
}

inline xbc_fake_disk_stats disk_stats() noexcept
{
	xbc_fake_disk_stats s;
	xbc_fake_disk_get_stats(&s);
	return s;
}

// After the engine objects are gone: no grant, mapping, grant page, shared
// ring or bound port of theirs is left.
inline void expect_no_xen_left(struct kunit *test) noexcept
{
	const xbc_fake_gnttab_stats g = gnttab_stats();
	XK_EXPECT_EQ(g.live_grants, 0);
	XK_EXPECT_EQ(g.deferred, 0);
	XK_EXPECT_EQ(g.live_maps, 0);
	XK_EXPECT_EQ(g.live_pages, 0);
	XK_EXPECT_EQ(xbc_fake_xenbus_live_rings(), 0);
	XK_EXPECT_EQ(xbc_fake_evtchn_live(), 0);
}

} // namespace xbc::kunit
