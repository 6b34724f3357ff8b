// SPDX-License-Identifier: GPL-2.0-only
// TEST ONLY: the hostile backend of the Xen e2e harness (docs/hostile-backend.md).
// Compiled only with -DXBC_HOSTILE, which only scripts/e2e/build-hostile-back
// sets; the shipped xen-blkback.ko (scripts/build-modules, DKMS, the .deb)
// contains none of it.
//
// The module parameter attacks="<vdev>:<attack>,..." gives one attack per
// disk, keyed by the vdev's device number as xenstore names the backend
// node (xvda = 51712, xvdb = 51728, ...). Disks not named are served
// honestly. Response attacks fire on cue: on the first response after a
// read or write at or beyond kCueSector, so the disk first connects and
// serves good I/O. Xenstore attacks replace a value the backend writes at
// probe or connect.
#pragma once

#ifdef XBC_HOSTILE

#include "xbc/base.hpp"

namespace xbc::blkback::hostile {

enum class Attack : uint8_t {
	kNone,
	// Responses, on cue.
	kBadId,		// id far outside any ring
	kStaleId,	// id ^ 1: in range, not the request's (not in flight)
	kDupId,		// the response twice
	kBadOp,		// read answered as write, anything else as read
	kBadStatus,	// status 5, which blkif does not define
	kRspProd,	// rsp_prod pushed a whole ring past the requests
	kFlood,		// ~60000 events with no response for ~3 s, then the response
	kKeepGrant,	// XSA-396: answer a read, keep its grants mapped ~2 s,
			// write kLatePattern into its pages, then unmap
	// Xenstore values at probe/connect.
	kXsSectors,	// sectors 2^64-1
	kXsSectorSize,	// sector-size 3
	kXsPhysSize,	// physical-sector-size 2^31
	kXsIndirect,	// feature-max-indirect-segments 2^32-1
	kXsRingOrder,	// max-ring-page-order 31
	kXsQueues0,	// multi-queue-max-queues 0
	kXsQueuesHuge,	// multi-queue-max-queues 2^31
};

// Sector (512 bytes) at or beyond which a request cues a response attack: 1 GiB.
inline constexpr uint64_t kCueSector = uint64_t(1) << 21;
// What kKeepGrant writes at the start of each page after answering: a
// guest that finds it there completed a request still mapped.
inline constexpr char kLatePattern[] = "XBC-HOSTILE-LATE-WRITE";
inline constexpr unsigned kKeepGrantMs = 2000;

// The attack the attacks= parameter names for the backend node `node`
// (".../<vdev>").
[[nodiscard]] Attack attack_for(const char *node) noexcept;
[[nodiscard]] const char *attack_name(Attack a) noexcept;
// True for the attacks on the response path, which wait for the cue.
[[nodiscard]] constexpr bool on_cue(Attack a) noexcept
{
	return a >= Attack::kBadId && a <= Attack::kKeepGrant;
}
// The value to write for `key` under `node` instead of `v`.
[[nodiscard]] uint64_t xenstore_value(const char *node, const char *key, uint64_t v) noexcept;

} // namespace xbc::blkback::hostile

#endif // XBC_HOSTILE
