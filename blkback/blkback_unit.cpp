// SPDX-License-Identifier: GPL-2.0-only
// The one C++ translation unit of xen-blkback.ko (a unity build). kbuild links
// a module with `ld -r`; two C++ objects emitting the same inline or
// template function would let it discard a COMDAT copy that __mcount_loc
// and .return_sites still reference (docs: cxx-in-kbuild.md, pitfall 1).
// So every C++ file of the module is #included here, exactly once; each
// also compiles standalone for the host tests.
//
// Add new .cpp files of common/ and blkback/ below.
#include "../common/cxxrt.cpp"

#include "module.cpp"

// The shared core the backend uses.
#include "../common/blkif.cpp"
#include "../common/page_pool.cpp"
#include "../common/persistent_grants.cpp"
#include "../common/grant_mapper.cpp"
#include "../common/xs_value.cpp"
#include "../common/negotiate.cpp"

// The backend engine: control path, data path, entry points.
#include "settings.cpp"
#include "device.cpp"
#include "grant_copy.cpp"
#include "backend_ring.cpp"
#include "ring_completion.cpp"
#include "ring_requests.cpp"
#include "backend.cpp"
#include "backend_module.cpp"
#include "backend_connect.cpp"
#include "vbd_entry.cpp"

// Test-only attacks, compiled only with -DXBC_HOSTILE (hostile.hpp).
#include "hostile.cpp"
