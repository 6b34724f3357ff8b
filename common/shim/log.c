// SPDX-License-Identifier: GPL-2.0-only
/*
 * kapi log (common/include/kapi/log.h): printk with the module's pr_fmt
 * prefix. The C++ format string and arguments pass through %pV untouched.
 */
#include "shim.h"
#include "kapi/log.h"

#include <linux/printk.h>
#include <linux/ratelimit.h>
#include <linux/stdarg.h>

static void kapi_vlog(enum kapi_log_level level, struct va_format *vaf)
{
	switch (level) {
	case KAPI_LOG_ERR:
		pr_err("%pV", vaf);
		break;
	case KAPI_LOG_WARNING:
		pr_warn("%pV", vaf);
		break;
	case KAPI_LOG_NOTICE:
		pr_notice("%pV", vaf);
		break;
	case KAPI_LOG_INFO:
		pr_info("%pV", vaf);
		break;
	case KAPI_LOG_DEBUG:
	default:
		pr_debug("%pV", vaf);
		break;
	}
}

void kapi_log(enum kapi_log_level level, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	kapi_vlog(level, &vaf);
	va_end(args);
}

/*
 * Everything a peer can trigger logs through here: one ratelimit state per
 * module, shared by all levels, so a hostile peer cannot flood the log by
 * mixing error kinds.
 */
static DEFINE_RATELIMIT_STATE(kapi_log_ratelimit, DEFAULT_RATELIMIT_INTERVAL,
			      DEFAULT_RATELIMIT_BURST);

void kapi_log_ratelimited(enum kapi_log_level level, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (!__ratelimit(&kapi_log_ratelimit))
		return;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	kapi_vlog(level, &vaf);
	va_end(args);
}
