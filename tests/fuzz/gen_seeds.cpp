// SPDX-License-Identifier: GPL-2.0-only
// Writes the seed corpus under tests/fuzz/corpus/<target>/: well-formed
// inputs built with our own encoders, so each fuzzer starts inside every
// decoder path instead of having to discover the layouts. Run through
// `make -C tests/fuzz seeds`; the output is committed.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "xbc/blkif.hpp"
#include "xbc/ring.hpp"

using namespace xbc;
using namespace xbc::blkif;

namespace {

using Buf = std::vector<uint8_t>;

template <typename T> void put(Buf &b, T v)
{
	const auto *p = reinterpret_cast<const uint8_t *>(&v);
	b.insert(b.end(), p, p + sizeof(v));
}

void write(const std::string &dir, const std::string &name, const Buf &b)
{
	mkdir(dir.c_str(), 0755);
	const std::string path = dir + "/" + name;
	FILE *f = fopen(path.c_str(), "wb");
	if (!f || fwrite(b.data(), 1, b.size(), f) != b.size()) {
		perror(path.c_str());
		return;
	}
	fclose(f);
}

Buf slot_of(Abi abi, const Request &r)
{
	Buf s(request_size(abi), 0);
	if (encode_request(abi, r, s.data()).is_error())
		fprintf(stderr, "seed request refused\n");
	return s;
}

} // namespace

int main(int argc, char **argv)
{
	const std::string root = argc > 1 ? argv[1] : "corpus";
	mkdir(root.c_str(), 0755);

	const Segment segs[11] = {{GrantRef(1), 0, 7}, {GrantRef(2), 1, 6}, {GrantRef(3), 7, 7},
				  {GrantRef(4), 0, 7}, {GrantRef(5), 0, 7}, {GrantRef(6), 0, 7},
				  {GrantRef(7), 0, 7}, {GrantRef(8), 0, 7}, {GrantRef(9), 0, 7},
				  {GrantRef(10), 0, 7}, {GrantRef(11), 0, 7}};
	const GrantRef igrefs[8] = {GrantRef(20), GrantRef(21)};

	// fuzz_request: [abi][max indirect u16][capacity u64][slot]
	const char *abi_names[] = {"native", "x86_32", "x86_64"};
	for (int a = 0; a < 3; a++) {
		const Abi abi = static_cast<Abi>(a);
		const struct {
			const char *name;
			Request req;
		} reqs[] = {
			{"read3", make_rw(Op::kRead, RequestId(1), Vdev(0x300), Sector(8), segs, 3)},
			{"write11", make_rw(Op::kWrite, RequestId(2), Vdev(0x300), Sector(0), segs, 11)},
			{"flush", make_flush(Op::kFlushDiskCache, RequestId(3), Vdev(0x300))},
			{"barrier", make_flush(Op::kWriteBarrier, RequestId(4), Vdev(0x300))},
			{"discard", make_discard(RequestId(5), Sector(64), Sector(128), true)},
			{"indirect", make_indirect(Op::kWrite, RequestId(6), Vdev(0x300), Sector(16), 600, igrefs)},
		};
		for (const auto &r : reqs) {
			Buf b;
			put<uint8_t>(b, static_cast<uint8_t>(a));
			put<uint16_t>(b, 1024);
			put<uint64_t>(b, 1u << 20);
			const Buf s = slot_of(abi, r.req);
			b.insert(b.end(), s.begin(), s.end());
			write(root + "/fuzz_request", std::string(abi_names[a]) + "-" + r.name, b);
		}
		Buf unknown;
		put<uint8_t>(unknown, static_cast<uint8_t>(a));
		put<uint16_t>(unknown, 256);
		put<uint64_t>(unknown, 1u << 20);
		put<uint8_t>(unknown, 4);
		write(root + "/fuzz_request", std::string(abi_names[a]) + "-unknown", unknown);
	}

	// fuzz_indirect: [nr u16][sector u64][capacity u64][page skew][pages]
	for (uint16_t nr : {1, 11, 513}) {
		Buf b;
		put<uint16_t>(b, nr);
		put<uint64_t>(b, 32);
		put<uint64_t>(b, 1u << 20);
		put<uint8_t>(b, 0);
		Buf pages(indirect_pages_for(nr) * kIndirectPageBytes, 0);
		for (unsigned n = 0; n < nr; n++) {
			const Segment s{GrantRef(100 + n), static_cast<uint8_t>(n % 8), 7};
			if (encode_indirect_segment(pages.data() + (n / kSegsPerIndirectPage) * kIndirectPageBytes,
						    n % kSegsPerIndirectPage, s)
				    .is_error())
				fprintf(stderr, "seed segment refused\n");
		}
		b.insert(b.end(), pages.begin(), pages.end());
		write(root + "/fuzz_indirect", "segs-" + std::to_string(nr), b);
	}

	// fuzz_ring backend: [mode][start u32][init len/16][page prefix]
	// [capacity u32][max indirect u16][script...]
	for (int a = 0; a < 3; a++) {
		const Abi abi = static_cast<Abi>(a);
		Buf b;
		put<uint8_t>(b, static_cast<uint8_t>(a));
		put<uint32_t>(b, 0);
		Buf page(sizeof(SringHeader) + 2 * entry_size(abi), 0);
		page.resize((page.size() + 15) / 16 * 16, 0);
		SringHeader h{};
		h.req_prod = 2;
		h.req_event = 1;
		h.rsp_event = 1;
		memcpy(page.data(), &h, sizeof(h));
		const Buf s0 = slot_of(abi, make_rw(Op::kRead, RequestId(1), Vdev(0), Sector(0), segs, 2));
		const Buf s1 = slot_of(abi, make_discard(RequestId(2), Sector(0), Sector(8), false));
		memcpy(page.data() + sizeof(SringHeader), s0.data(), s0.size());
		memcpy(page.data() + sizeof(SringHeader) + entry_size(abi), s1.data(), s1.size());
		put<uint8_t>(b, static_cast<uint8_t>(page.size() / 16));
		b.insert(b.end(), page.begin(), page.end());
		put<uint32_t>(b, 1u << 20);
		put<uint16_t>(b, 256);
		const uint8_t script[] = {4, 5, 1, 6, 0, 0, 3, 4, 5, 3, 6, 0, 1, 0xff, 0xff, 0xff, 0x7f, 4};
		b.insert(b.end(), script, script + sizeof(script));
		write(root + "/fuzz_ring", std::string("back-") + abi_names[a], b);
	}
	// fuzz_ring frontend, indices about to wrap: issue 5, peer answers 3.
	{
		Buf b;
		put<uint8_t>(b, 0x80);
		put<uint32_t>(b, 0xfffffffe);
		put<uint8_t>(b, 0);
		const uint8_t script[] = {4, 5, 1, 0, 3, 5, 6, 1, 0, 5, 5, 1, 1, 0, 0, 0, 0x80, 5};
		b.insert(b.end(), script, script + sizeof(script));
		write(root + "/fuzz_ring", "front-wrap", b);
	}
	return 0;
}
