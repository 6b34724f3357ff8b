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

void kapi_log(enum kapi_log_level level, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	switch (level) {
	case KAPI_LOG_ERR:
		pr_err("%pV", &vaf);
		break;
	case KAPI_LOG_WARNING:
		pr_warn("%pV", &vaf);
		break;
	case KAPI_LOG_NOTICE:
		pr_notice("%pV", &vaf);
		break;
	case KAPI_LOG_INFO:
		pr_info("%pV", &vaf);
		break;
	case KAPI_LOG_DEBUG:
	default:
		pr_debug("%pV", &vaf);
		break;
	}
	va_end(args);
}

/* One ratelimit state per level (each pr_*_ratelimited call site has its own). */
void kapi_log_ratelimited(enum kapi_log_level level, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	switch (level) {
	case KAPI_LOG_ERR:
		pr_err_ratelimited("%pV", &vaf);
		break;
	case KAPI_LOG_WARNING:
		pr_warn_ratelimited("%pV", &vaf);
		break;
	case KAPI_LOG_NOTICE:
		pr_notice_ratelimited("%pV", &vaf);
		break;
	case KAPI_LOG_INFO:
		pr_info_ratelimited("%pV", &vaf);
		break;
	case KAPI_LOG_DEBUG:
	default:
		pr_debug_ratelimited("%pV", &vaf);
		break;
	}
	va_end(args);
}
