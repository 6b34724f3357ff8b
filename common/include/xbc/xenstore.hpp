// SPDX-License-Identifier: GPL-2.0-only
// The engines' xenstore layer (started): one transaction helper with one
// retry policy, for every multi-key write both engines make, and the one
// way to write a number.
//
// A transaction that races another writer ends with -EAGAIN and must be
// redone whole; in-tree retries forever. The peer can make it race at will
// (it writes its own nodes whenever it likes), so we retry a bounded number
// of times and then fail as for any other xenstore error.
#pragma once

#include "kapi/log.h"
#include "kapi/xenbus.h"
#include "xbc/result.hpp"
#include "xbc/xs_value.hpp"

namespace xbc::xs {

// dir/node = v in decimal, in transaction t (or KAPI_XBT_NIL).
[[nodiscard]] inline Status write_uint(kapi_xbt t, const char *dir, const char *node, uint64_t v) noexcept
{
	return Status::from_kapi(kapi_xenbus_write(t, dir, node, Decimal(v).c_str()));
}

// Redo a raced transaction at most this many times (then -EAGAIN).
inline constexpr unsigned kMaxTransactionRetries = 1000;

// Where a transaction failed, so that the caller can say what failed.
enum class TxStage : uint8_t {
	kStart,		// kapi_xenbus_transaction_start
	kBody,		// the body's own error (it has reported it; aborted)
	kCommit,	// kapi_xenbus_transaction_end, or raced too often
};

struct [[nodiscard]] TxResult {
	Status status;
	TxStage stage;

	[[nodiscard]] bool is_error() const noexcept { return status.is_error(); }
};

// Runs body(t) in a transaction and commits it, redoing both while the
// commit races (bounded, above). A body error aborts the transaction and is
// returned as it is (never retried). body: Status(kapi_xbt), re-run whole on
// each attempt: it must re-read whatever it writes from.
template <typename Body> TxResult transaction(Body &&body) noexcept
{
	for (unsigned attempt = 0;; attempt++) {
		kapi_xbt t;
		const int rc = kapi_xenbus_transaction_start(&t);
		if (rc < 0)
			return {Status::from_kapi(rc), TxStage::kStart};
		const Status st = body(t);
		if (st.is_error()) {
			// Nothing of it is committed whether or not the abort is heard.
			const int abort_rc = kapi_xenbus_transaction_end(t, true);
			if (abort_rc < 0)
				kapi_log(KAPI_LOG_WARNING, "xenstore: aborting a transaction failed (%d)\n",
					 abort_rc);
			return {st, TxStage::kBody};
		}
		const int end_rc = kapi_xenbus_transaction_end(t, false);
		if (end_rc == -err::kAgain && attempt < kMaxTransactionRetries)
			continue;
		if (end_rc < 0)
			return {Status::from_kapi(end_rc), TxStage::kCommit};
		return {Status::ok(), TxStage::kCommit};
	}
}

} // namespace xbc::xs
