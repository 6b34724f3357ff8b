/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The C++ side of xen-blkfront's module_init/module_exit: blkfront/blkfront.c
 * (C) calls these, blkfront/module.cpp (C++) defines them.
 */
#ifndef XBC_BLKFRONT_ENTRY_H
#define XBC_BLKFRONT_ENTRY_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* 0 or -errno; on error the module does not load. */
int xbc_blkfront_init(void) KAPI_NOEXCEPT;
void xbc_blkfront_exit(void) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_BLKFRONT_ENTRY_H */
