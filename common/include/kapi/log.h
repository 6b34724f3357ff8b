/* SPDX-License-Identifier: GPL-2.0-only */
/* kapi log: printk with the module's prefix; the ratelimited form is for anything a peer can trigger. */
#ifndef KAPI_LOG_H
#define KAPI_LOG_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* printk levels (KERN_ERR is "3", ...). */
enum kapi_log_level {
	KAPI_LOG_ERR = 3,
	KAPI_LOG_WARNING = 4,
	KAPI_LOG_NOTICE = 5,
	KAPI_LOG_INFO = 6,
	KAPI_LOG_DEBUG = 7,
};

void kapi_log(enum kapi_log_level level, const char *fmt, ...) KAPI_NOEXCEPT
	__attribute__((format(printf, 2, 3)));
/* Same, but dropped when a burst exceeds the printk ratelimit. */
void kapi_log_ratelimited(enum kapi_log_level level, const char *fmt, ...) KAPI_NOEXCEPT
	__attribute__((format(printf, 2, 3)));

KAPI_END_DECLS

#endif /* KAPI_LOG_H */
