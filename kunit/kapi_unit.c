// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kapi shims xbc_kunit.ko links: the real hypervisor-free ones, compiled
 * here as one C unit (as each real module's kapi_unit.c does), threads and
 * work items included. The grant table comes from kunit/fake_gnttab.c and
 * xenbus, event channels and the block layers from kunit/fake_kapi.c
 * instead, since there is no Xen.
 */
#include "common/shim/memory.c"
#include "common/shim/sync.c"
#include "common/shim/log.c"
#include "common/shim/thread.c"
