// SPDX-License-Identifier: GPL-2.0-only
// The one C++ translation unit of xen-blkfront.ko (a unity build). kbuild links
// a module with `ld -r`; two C++ objects emitting the same inline or
// template function would let it discard a COMDAT copy that __mcount_loc
// and .return_sites still reference (docs: cxx-in-kbuild.md, pitfall 1).
// So every C++ file of the module is #included here, exactly once; each
// also compiles standalone for the host tests.
//
// Add new .cpp files of common/ and blkfront/ below.
#include "../common/cxxrt.cpp"

#include "../common/blkif.cpp"
#include "../common/grant_pool.cpp"
#include "../common/xs_value.cpp"
#include "../common/negotiate.cpp"

#include "vdev.cpp"
#include "settings.cpp"
#include "io_ring.cpp"
#include "io_submit.cpp"
#include "io_complete.cpp"
#include "frontend.cpp"
#include "connect.cpp"
#include "driver.cpp"
#include "entry.cpp"
#include "module.cpp"
