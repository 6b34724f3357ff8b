// SPDX-License-Identifier: GPL-2.0-only
// The single C++ translation unit of xbc_kunit.ko (cxx-in-kbuild.md,
// pitfall 1): the C++ runtime, the core .cpp files under test and every
// suite's C++ bodies. Add a core file here when a suite needs it, and a
// suite file when kunit/cases.h lists it.
#include "common/cxxrt.cpp"
#include "common/blkif.cpp"
#include "common/persistent_grants.cpp"
#include "common/grant_pool.cpp"
#include "common/page_pool.cpp"
#include "common/grant_mapper.cpp"
#include "common/xs_value.cpp"
#include "common/negotiate.cpp"

// The engines, file for file as the modules include them (minus the C
// entry points and module init): the suites drive their objects directly.
#include "blkback/settings.cpp"
#include "blkback/device.cpp"
#include "blkback/grant_copy.cpp"
#include "blkback/backend_ring.cpp"
#include "blkback/ring_completion.cpp"
#include "blkback/ring_requests.cpp"
#include "blkback/backend.cpp"
#include "blkback/backend_module.cpp"
#include "blkback/backend_connect.cpp"
#include "blkfront/vdev.cpp"
#include "blkfront/settings.cpp"
#include "blkfront/io_ring.cpp"
#include "blkfront/io_submit.cpp"
#include "blkfront/io_complete.cpp"
#include "blkfront/frontend.cpp"
#include "blkfront/connect.cpp"
#include "blkfront/driver.cpp"
#include "blkfront/entry.cpp"

#include "types_suite.cpp"
#include "kapi_suite.cpp"
#include "containers_suite.cpp"
#include "blkif_suite.cpp"
#include "ring_suite.cpp"
#include "grants_suite.cpp"
#include "mapper_suite.cpp"
#include "negotiate_suite.cpp"
#include "blkback_suite.cpp"
#include "blkfront_suite.cpp"
