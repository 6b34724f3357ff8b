// SPDX-License-Identifier: GPL-2.0-only
// The intrusive red-black tree (xbc/rbtree.hpp) over the kernel's own
// tools/lib/rbtree.c: keyed insert/find/erase, duplicate refusal in one
// call, safe erase while iterating, and the checker (which must itself
// catch a broken tree, or the other tests prove nothing).
#include <string.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "support/kapi_host.hpp"
#include "xbc/rbtree.hpp"
#include "xbc/types.hpp"

namespace xbc {
namespace {

struct Entry {
	explicit Entry(uint32_t r) : ref(r) {}
	GrantRef ref;
	RbNode node;
};

struct EntryTraits : KeyLess<GrantRef> {
	using Key = GrantRef;
	static Key key(const Entry &e) noexcept { return e.ref; }
};

using Tree = RbTree<Entry, &Entry::node, EntryTraits>;

std::vector<uint32_t> keys(const Tree &t)
{
	std::vector<uint32_t> out;
	for (Entry &e : t)
		out.push_back(e.ref.raw());
	return out;
}

TEST(RbTree, InsertFindEraseInOrder)
{
	Entry e5(5), e1(1), e9(9);
	Tree t;
	EXPECT_TRUE(t.empty());
	EXPECT_EQ(t.first(), nullptr);
	EXPECT_TRUE(t.insert_or_find(e5));
	EXPECT_TRUE(t.insert_or_find(e1));
	EXPECT_TRUE(t.insert_or_find(e9));
	EXPECT_EQ(t.size(), 3u);
	EXPECT_EQ(keys(t), (std::vector<uint32_t>{1, 5, 9}));
	EXPECT_EQ(t.find(GrantRef(5)), &e5);
	EXPECT_EQ(t.find(GrantRef(4)), nullptr);
	EXPECT_EQ(t.first(), &e1);
	EXPECT_EQ(t.last(), &e9);
	EXPECT_EQ(t.next(e1), &e5);
	EXPECT_EQ(t.prev(e1), nullptr);
	EXPECT_EQ(t.next(e9), nullptr);
	t.erase(e5);
	EXPECT_FALSE(e5.node.is_linked());
	EXPECT_EQ(t.find(GrantRef(5)), nullptr);
	EXPECT_TRUE(t.check().ok);
	EXPECT_EQ(t.pop_first(), &e1);
	EXPECT_EQ(t.pop_first(), &e9);
	EXPECT_EQ(t.pop_first(), nullptr);
	EXPECT_EQ(t.size(), 0u);
}

TEST(RbTree, DuplicateKeyIsRefusedWithTheHolder)
{
	Entry a(42), b(42);
	Tree t;
	ASSERT_TRUE(t.insert_or_find(a));
	Entry *holder = nullptr;
	EXPECT_FALSE(t.insert_or_find(b, &holder));
	EXPECT_EQ(holder, &a);
	EXPECT_FALSE(b.node.is_linked());
	EXPECT_EQ(t.size(), 1u);
	EXPECT_FALSE(t.insert_or_find(b));	// the out-parameter is optional
	t.clear();
}

TEST(RbTree, ExtremeGrantRefsAreOrdinaryKeys)
{
	// 0 and 0xffffffff (INVALID_GRANT_REF) are both values a peer can send.
	Entry lo(0), hi(0xffffffffu), mid(0x80000000u);
	Tree t;
	EXPECT_TRUE(t.insert_or_find(hi));
	EXPECT_TRUE(t.insert_or_find(lo));
	EXPECT_TRUE(t.insert_or_find(mid));
	EXPECT_EQ(t.find(GrantRef(0)), &lo);
	EXPECT_EQ(t.find(GrantRef(0xffffffffu)), &hi);
	EXPECT_EQ(keys(t), (std::vector<uint32_t>{0, 0x80000000u, 0xffffffffu}));
	Entry lo2(0), hi2(0xffffffffu);
	EXPECT_FALSE(t.insert_or_find(lo2));
	EXPECT_FALSE(t.insert_or_find(hi2));
	t.clear();
}

TEST(RbTree, RelinkingALinkedNodeIsReported)
{
	Entry a(1);
	Tree t;
	ASSERT_TRUE(t.insert_or_find(a));
	const size_t logs = host::log_count();
	EXPECT_FALSE(t.insert_or_find(a));
	EXPECT_EQ(host::log_count(), logs + 1);
	EXPECT_EQ(t.size(), 1u);
	t.erase(a);
	t.erase(a);	// second erase: reported, ignored
	EXPECT_EQ(host::log_count(), logs + 2);
	EXPECT_EQ(t.size(), 0u);
}

TEST(RbTree, SafeIterationErasesEveryOther)
{
	std::vector<Entry *> all;
	Tree t;
	for (uint32_t i = 0; i < 200; i++) {
		all.push_back(new Entry(i * 7 % 200));
		ASSERT_TRUE(t.insert_or_find(*all.back()));
	}
	size_t visited = 0;
	for (Entry &e : t.safe()) {
		visited++;
		if (e.ref.raw() % 2 == 0) {
			t.erase(e);
			delete &e;	// freed before the iterator advances
		}
	}
	EXPECT_EQ(visited, 200u);
	EXPECT_EQ(t.size(), 100u);
	RbCheck c = t.check();
	EXPECT_TRUE(c.ok) << c.problem;
	uint32_t expect = 1;
	for (Entry &e : t) {
		EXPECT_EQ(e.ref.raw(), expect);
		expect += 2;
	}
	while (Entry *e = t.pop_first())
		delete e;
}

TEST(RbTree, ThousandRandomOperationsKeepTheTreeValid)
{
	std::mt19937 rng(12345);
	std::vector<Entry *> pool;
	for (uint32_t i = 0; i < 1000; i++)
		pool.push_back(new Entry(rng()));	// random 32-bit keys, may repeat
	pool.push_back(new Entry(0));
	pool.push_back(new Entry(0xffffffffu));
	Tree t;
	std::set<uint32_t> model;
	for (Entry *e : pool) {
		Entry *holder = nullptr;
		const bool fresh = model.insert(e->ref.raw()).second;
		ASSERT_EQ(t.insert_or_find(*e, &holder), fresh);
		if (!fresh) {
			ASSERT_EQ(holder->ref, e->ref);
		}
	}
	EXPECT_EQ(t.size(), model.size());
	RbCheck c = t.check();
	ASSERT_TRUE(c.ok) << c.problem;
	EXPECT_EQ(c.count, model.size());
	// A red-black tree of n nodes is at most 2 log2(n+1) deep.
	EXPECT_LE(c.black_height, 11u);
	for (uint32_t k : model)
		ASSERT_NE(t.find(GrantRef(k)), nullptr);
	// Erase in random order, checking the whole tree every 50 steps.
	std::vector<Entry *> linked;
	for (Entry *e : pool)
		if (e->node.is_linked())
			linked.push_back(e);
	std::shuffle(linked.begin(), linked.end(), rng);
	size_t step = 0;
	for (Entry *e : linked) {
		t.erase(*e);
		model.erase(e->ref.raw());
		ASSERT_EQ(t.find(e->ref), nullptr);
		if (++step % 50 == 0) {
			c = t.check();
			ASSERT_TRUE(c.ok) << c.problem << " after " << step;
			ASSERT_EQ(c.count, model.size());
		}
	}
	EXPECT_TRUE(t.empty());
	EXPECT_TRUE(t.check().ok);
	for (Entry *e : pool)
		delete e;
}

TEST(RbTree, CheckerCatchesCorruption)
{
	Entry e[7] = {Entry(10), Entry(20), Entry(30), Entry(40), Entry(50), Entry(60), Entry(70)};
	Tree t;
	for (Entry &x : e)
		ASSERT_TRUE(t.insert_or_find(x));
	ASSERT_TRUE(t.check().ok);

	// Swap two keys behind the tree's back: order is broken.
	e[1].ref = GrantRef(65);
	RbCheck c = t.check();
	EXPECT_FALSE(c.ok);
	EXPECT_STREQ(c.problem, "keys out of order or duplicated");
	e[1].ref = GrantRef(20);
	ASSERT_TRUE(t.check().ok);

	// Paint the root red.
	rb_node *root = &t.first()->node.raw;
	while (root->__rb_parent_color & ~3ul)
		root = reinterpret_cast<rb_node *>(root->__rb_parent_color & ~3ul);
	root->__rb_parent_color &= ~1ul;
	c = t.check();
	EXPECT_FALSE(c.ok);
	EXPECT_STREQ(c.problem, "root is red");
	root->__rb_parent_color |= 1ul;

	// Flip a leaf's colour to black: black heights differ.
	rb_node *leaf = &t.first()->node.raw;
	const unsigned long saved = leaf->__rb_parent_color;
	leaf->__rb_parent_color ^= 1ul;
	c = t.check();
	EXPECT_FALSE(c.ok);
	leaf->__rb_parent_color = saved;
	ASSERT_TRUE(t.check().ok);
	t.clear();
}

TEST(RbTree, DestroyingNonEmptyTreeIsReportedAndUnlinks)
{
	Entry a(1), b(2);
	const size_t logs = host::log_count();
	{
		Tree t;
		ASSERT_TRUE(t.insert_or_find(a));
		ASSERT_TRUE(t.insert_or_find(b));
	}
	EXPECT_EQ(host::log_count(), logs + 1);
	EXPECT_NE(strstr(host::last_log(), "xbc: invariant"), nullptr);
	EXPECT_FALSE(a.node.is_linked());
	EXPECT_FALSE(b.node.is_linked());
}

TEST(RbTree, DestroyingLinkedNodeIsReported)
{
	Tree t;
	alignas(Entry) unsigned char mem[sizeof(Entry)];
	Entry *e = new (mem) Entry(3);
	ASSERT_TRUE(t.insert_or_find(*e));
	const size_t logs = host::log_count();
	e->~Entry();	// storage stays valid, so the tree is still walkable
	EXPECT_EQ(host::log_count(), logs + 1);
	t.clear();
}

} // namespace
} // namespace xbc
