/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The C++ side of xen-blkback's module_init/module_exit: blkback/blkback.c
 * (C) calls these, blkback/module.cpp (C++) defines them.
 */
#ifndef XBC_BLKBACK_ENTRY_H
#define XBC_BLKBACK_ENTRY_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* 0 or -errno; on error the module does not load. */
int xbc_blkback_init(void) KAPI_NOEXCEPT;
void xbc_blkback_exit(void) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_BLKBACK_ENTRY_H */
