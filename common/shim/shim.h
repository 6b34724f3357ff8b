/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private helpers of the kapi C shims in common/shim/. Never included by
 * C++. Each module compiles the shims once, through its own kapi_unit.c, so
 * KBUILD_MODNAME (and the log prefix) is that module's.
 */
#ifndef XBC_SHIM_H
#define XBC_SHIM_H

#ifndef pr_fmt
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#endif

#include <linux/gfp.h>
#include <linux/types.h>
#include "kapi/memory.h"

/* The kapi allocation context as kernel gfp flags. */
static inline gfp_t kapi_to_gfp(enum kapi_gfp gfp)
{
	switch (gfp) {
	case KAPI_GFP_NOIO:
		return GFP_NOIO;
	case KAPI_GFP_ATOMIC:
		return GFP_ATOMIC;
	case KAPI_GFP_KERNEL:
	default:
		return GFP_KERNEL;
	}
}

/*
 * Set-up of shim state that needs module context (the bio_set behind
 * kapi_bio_alloc). Called from each module's init/exit in its C shim;
 * kapi_block_init returns 0 or -errno.
 */
int kapi_block_init(void);
void kapi_block_exit(void);

#endif /* XBC_SHIM_H */
