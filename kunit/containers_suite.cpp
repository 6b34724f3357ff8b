// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_containers: the intrusive list (xbc/list.hpp), checked by
// the kernel's own list_for_each over its list_head layout, and the
// intrusive rb tree (xbc/rbtree.hpp) on the kernel's exported rb core: 1000
// inserts, finds and erases, with two independent invariant checkers.
#include "kapi/rbtree.h"
#include "xbc_kunit.hpp"
#include "xbc/list.hpp"
#include "xbc/memory.hpp"
#include "xbc/rbtree.hpp"

namespace xbc::kunit {
namespace {

struct Item {
	ListNode node;
	int value;
};
using ItemList = List<Item, &Item::node>;

// An object in the tree: the node lives inside it (xbc/rbtree.hpp).
struct Grantish {
	RbNode node;
	uint32_t key = 0;
};
struct GrantishTraits {
	using Key = uint32_t;
	static Key key(const Grantish &g) noexcept { return g.key; }
	static bool less(const Key &a, const Key &b) noexcept { return a < b; }
};
using GrantishTree = RbTree<Grantish, &Grantish::node, GrantishTraits>;

constexpr uint32_t kTreeCount = 1000;
struct TreeNodes {
	Grantish items[kTreeCount];
};

// An independent check of the raw kernel tree, recursive where
// RbTree::check() is iterative: parent links, key bounds, no red-red edge,
// equal black heights. Returns the black height, or -1 on a violation.
constexpr unsigned long kRbBlack = 1; // low bit of __rb_parent_color

const rb_node *parent_of(const rb_node *n) noexcept
{
	return reinterpret_cast<const rb_node *>(n->__rb_parent_color & ~3ul);
}
bool is_black(const rb_node *n) noexcept
{
	return !n || (n->__rb_parent_color & kRbBlack);
}
uint32_t key_of(const rb_node *n) noexcept
{
	// RbNode holds only the rb_node, at offset 0.
	auto *node = reinterpret_cast<RbNode *>(const_cast<rb_node *>(n));
	return owner_of(node, &Grantish::node)->key;
}

int black_height(const rb_node *n, const rb_node *parent, uint64_t lo, uint64_t hi,
		 unsigned *count) noexcept
{
	if (!n)
		return 1;
	const uint64_t key = key_of(n);
	if (parent_of(n) != parent || key < lo || key > hi)
		return -1;
	if (!is_black(n) && (!is_black(n->rb_left) || !is_black(n->rb_right)))
		return -1;
	++*count;
	const int left = n->rb_left ? (key == 0 ? -1 : black_height(n->rb_left, n, lo, key - 1, count)) : 1;
	const int right = black_height(n->rb_right, n, key + 1, hi, count);
	if (left < 0 || right < 0 || left != right)
		return -1;
	return left + (is_black(n) ? 1 : 0);
}

// Both checkers must agree the tree is valid and holds `expected` objects.
bool tree_valid(const GrantishTree &tree, unsigned expected) noexcept
{
	const RbCheck c = tree.check();
	if (!c.ok || c.count != expected || tree.size() != expected)
		return false;
	if (expected == 0)
		return tree.first() == nullptr;
	const rb_node *root = &tree.first()->node.raw;
	while (parent_of(root))
		root = parent_of(root);
	if (!is_black(root))
		return false;
	unsigned count = 0;
	const int height = black_height(root, nullptr, 0, 0xffffffffull, &count);
	// RbTree::check() counts the root-to-null path's blacks without the
	// null leaf; the recursive form counts the leaf too.
	return height > 0 && count == expected && unsigned(height) == c.black_height + 1;
}

} // namespace
} // namespace xbc::kunit

using namespace xbc;
using namespace xbc::kunit;

XBC_KUNIT_CASE(list_layout_walked_by_kernel)
{
	Item items[10];
	ItemList list;
	for (int i = 0; i < 10; i++) {
		items[i].value = i;
		list.push_back(items[i]);
	}
	// From any node the kernel's walk meets the other nine and the head.
	XK_EXPECT_EQ(xbc_kunit_list_walk(&items[0].node), 10);
	XK_EXPECT_EQ(list.size(), 10);

	Item *first = list.pop_front();
	XK_EXPECT(first == &items[0]);
	list.remove(items[5]);
	list.push_front(items[5]);
	XK_EXPECT_EQ(xbc_kunit_list_walk(&items[5].node), 9);
	XK_EXPECT(list.front() == &items[5]);
	XK_EXPECT(list.back() == &items[9]);
	XK_EXPECT(!items[0].node.is_linked());
	list.clear();
	XK_EXPECT(list.empty());
	XK_EXPECT(!items[9].node.is_linked());
}

XBC_KUNIT_CASE(list_safe_erase)
{
	constexpr int kItems = 32; // small: KASAN redzones grow the frame
	Item items[kItems];
	ItemList list;
	for (int i = 0; i < kItems; i++) {
		items[i].value = i;
		list.push_back(items[i]);
	}
	for (Item &item : list.safe())
		if (item.value % 2 == 0)
			list.remove(item);
	XK_EXPECT_EQ(list.size(), kItems / 2);
	int expected = 1;
	bool in_order = true;
	for (Item &item : list) {
		in_order &= item.value == expected;
		expected += 2;
	}
	XK_EXPECT(in_order);
	XK_EXPECT_EQ(xbc_kunit_list_walk(&items[1].node), kItems / 2);
	XK_EXPECT(!items[0].node.is_linked());
	while (list.pop_back() != nullptr) {
	}
	XK_EXPECT_EQ(list.size(), 0);
	XK_EXPECT(!items[kItems - 1].node.is_linked());
}

XBC_KUNIT_CASE(rbtree_1000_on_kernel_core)
{
	auto nodes = create<TreeNodes>(Gfp::kKernel);
	XK_ASSERT(!nodes.is_null());
	Grantish *items = nodes->items;
	GrantishTree tree;

	// A permutation of 0..999 (337 is coprime with 1000), scaled by 7 so
	// keys are sparse and "find a missing key" has something to miss.
	for (uint32_t i = 0; i < kTreeCount; i++)
		items[i].key = (i * 337u % kTreeCount) * 7u;
	bool inserted = true;
	for (uint32_t i = 0; i < kTreeCount; i++) {
		inserted &= tree.insert_or_find(items[i]);
		if (i % 100 == 99 && !XK_EXPECT(tree_valid(tree, i + 1)))
			break;
	}
	XK_EXPECT(inserted);
	const bool valid = XK_EXPECT(tree_valid(tree, kTreeCount));

	// A duplicate key is refused and the holder handed back.
	Grantish dup;
	dup.key = items[10].key;
	Grantish *holder = nullptr;
	XK_EXPECT(!tree.insert_or_find(dup, &holder));
	XK_EXPECT(holder == &items[10]);
	XK_EXPECT(!dup.node.is_linked());

	bool finds_ok = true;
	for (uint32_t k = 0; k < kTreeCount * 7; k++) {
		const Grantish *hit = tree.find(k);
		finds_ok &= (k % 7 == 0) ? (hit && hit->key == k) : hit == nullptr;
	}
	XK_EXPECT(finds_ok);

	// In order through the kernel's rb_first/rb_next: ascending, complete.
	unsigned walked = 0;
	uint32_t last = 0;
	bool ascending = true;
	for (const Grantish &g : tree) {
		ascending &= walked == 0 || g.key > last;
		last = g.key;
		walked++;
	}
	XK_EXPECT(ascending);
	XK_EXPECT_EQ(walked, kTreeCount);
	XK_EXPECT(tree.last() && tree.last()->key == (kTreeCount - 1) * 7);

	// Erase every third object during a safe walk, then the rest in
	// index order (unrelated to key order), checking as the tree shrinks.
	unsigned left = kTreeCount;
	for (Grantish &g : tree.safe()) {
		if (g.key % 3 == 0) {
			tree.erase(g);
			left--;
		}
	}
	XK_EXPECT(tree_valid(tree, left));
	bool erased_ok = valid;
	for (uint32_t i = 0; i < kTreeCount; i++) {
		if (!items[i].node.is_linked())
			continue;
		tree.erase(items[i]);
		left--;
		erased_ok &= tree.find(items[i].key) == nullptr;
		if (left % 50 == 0)
			erased_ok &= tree_valid(tree, left);
	}
	XK_EXPECT(erased_ok);
	XK_EXPECT(tree.empty());
	XK_EXPECT(tree.first() == nullptr);
}
