// SPDX-License-Identifier: GPL-2.0-only
// TEST ONLY: see hostile.hpp. The ring side lives in ring_completion.cpp
// (BackendRing::hostile_respond), next to the state it corrupts.
#ifdef XBC_HOSTILE

#include "hostile.hpp"

#include "kapi/log.h"

#include "params.h"

namespace xbc::blkback::hostile {
namespace {

struct Named {
	const char *name;
	Attack attack;
};

constexpr Named kAttacks[] = {
	{"bad-id", Attack::kBadId},
	{"stale-id", Attack::kStaleId},
	{"dup-id", Attack::kDupId},
	{"bad-op", Attack::kBadOp},
	{"bad-status", Attack::kBadStatus},
	{"rsp-prod", Attack::kRspProd},
	{"flood", Attack::kFlood},
	{"keep-grant", Attack::kKeepGrant},
	{"xs-sectors", Attack::kXsSectors},
	{"xs-sector-size", Attack::kXsSectorSize},
	{"xs-phys-size", Attack::kXsPhysSize},
	{"xs-indirect", Attack::kXsIndirect},
	{"xs-ring-order", Attack::kXsRingOrder},
	{"xs-queues-0", Attack::kXsQueues0},
	{"xs-queues-huge", Attack::kXsQueuesHuge},
};

// The key each xenstore attack replaces, and with what.
struct Forged {
	Attack attack;
	const char *key;
	uint64_t value;
};

constexpr Forged kForged[] = {
	{Attack::kXsSectors, "sectors", ~uint64_t(0)},
	{Attack::kXsSectorSize, "sector-size", 3},
	{Attack::kXsPhysSize, "physical-sector-size", uint64_t(1) << 31},
	{Attack::kXsIndirect, "feature-max-indirect-segments", 0xffffffffu},
	{Attack::kXsRingOrder, "max-ring-page-order", 31},
	{Attack::kXsQueues0, "multi-queue-max-queues", 0},
	{Attack::kXsQueuesHuge, "multi-queue-max-queues", uint64_t(1) << 31},
};

bool same(const char *a, const char *b) noexcept
{
	while (*a && *a == *b) {
		++a;
		++b;
	}
	return *a == *b;
}

// [s, end) equals the NUL-terminated `word`.
bool span_is(const char *s, const char *end, const char *word) noexcept
{
	while (s < end && *word && *s == *word) {
		++s;
		++word;
	}
	return s == end && *word == '\0';
}

Attack named(const char *s, const char *end) noexcept
{
	for (const Named &n : kAttacks)
		if (span_is(s, end, n.name))
			return n.attack;
	return Attack::kNone;
}

} // namespace

Attack attack_for(const char *node) noexcept
{
	const char *vdev = node;
	for (const char *c = node; *c; ++c)
		if (*c == '/')
			vdev = c + 1;
	// "51712:bad-id,51728:dup-id": entries split by ',', vdev and attack by ':'.
	const char *p = xbc_blkback_param_hostile_attacks();
	while (p && *p) {
		const char *end = p;
		while (*end && *end != ',')
			++end;
		const char *colon = p;
		while (colon < end && *colon != ':')
			++colon;
		if (colon < end && span_is(p, colon, vdev))
			return named(colon + 1, end);
		p = *end ? end + 1 : end;
	}
	return Attack::kNone;
}

const char *attack_name(Attack a) noexcept
{
	for (const Named &n : kAttacks)
		if (n.attack == a)
			return n.name;
	return "none";
}

uint64_t xenstore_value(const char *node, const char *key, uint64_t v) noexcept
{
	const Attack a = attack_for(node);
	for (const Forged &f : kForged) {
		if (f.attack != a || !same(f.key, key))
			continue;
		kapi_log(KAPI_LOG_NOTICE, "hostile: %s: %s: writing %s = %llu instead of %llu\n", node,
			 attack_name(a), key, static_cast<unsigned long long>(f.value),
			 static_cast<unsigned long long>(v));
		return f.value;
	}
	return v;
}

} // namespace xbc::blkback::hostile

#endif // XBC_HOSTILE
