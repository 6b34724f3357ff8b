// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kapi shims xbc_kunit.ko links: the real hypervisor-free ones, compiled
 * here as one C unit (as each real module's kapi_unit.c does). The grant
 * table comes from kunit/fake_gnttab.c instead, since there is no Xen.
 */
#include "common/shim/memory.c"
#include "common/shim/sync.c"
#include "common/shim/log.c"
