// SPDX-License-Identifier: GPL-2.0-only
// Reporting a broken internal invariant without stopping the machine. The
// kernel must never BUG for our mistakes: we log once per occurrence and
// carry on with the safest recovery the caller can make (unlink, skip, leak
// a page rather than reuse it). Host tests detect a report through the
// captured kapi log (xbc::host::log_count/last_log), which every line here
// starts with "xbc: invariant".
#pragma once

#include "kapi/log.h"

namespace xbc {

[[gnu::cold]] inline void report_invariant(const char *what, const char *file, int line) noexcept
{
	kapi_log(KAPI_LOG_ERR, "xbc: invariant broken: %s (%s:%d)\n", what, file, line);
}

} // namespace xbc

// Evaluates to `cond`; reports when it is false, so the caller can recover:
//   if (!XBC_CHECK(node.is_linked())) return;
#define XBC_CHECK(cond)                                                        \
	({                                                                     \
		const bool xbc_check_ok_ = static_cast<bool>(cond);            \
		if (__builtin_expect(!xbc_check_ok_, 0))                       \
			::xbc::report_invariant(#cond, __FILE__, __LINE__);    \
		xbc_check_ok_;                                                 \
	})
