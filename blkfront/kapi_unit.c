// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kapi C shims (common/shim/) compiled into xen-blkfront.ko. One object per
 * module rather than one shared object: a file linked into two modules
 * would be built once with KBUILD_MODNAME "xen_blkfront:xen_blkback", and
 * the log prefix and module-owned state must be this module's.
 */
#include "../common/shim/memory.c"
#include "../common/shim/log.c"
#include "../common/shim/sync.c"
#include "../common/shim/xenbus.c"
#include "../common/shim/gnttab.c"
#include "../common/shim/evtchn.c"
#include "../common/shim/thread.c"
#include "../common/shim/blkmq.c"
#include "../common/shim/layout_checks.c"
