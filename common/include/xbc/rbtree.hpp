// SPDX-License-Identifier: GPL-2.0-only
// Intrusive red-black tree over the kernel's exported rb core
// (kapi/rbtree.h: rb_insert_color, rb_erase, rb_first, rb_next...). We only
// walk down to the insertion point and link the node (the kernel's inline
// rb_link_node); balancing is the kernel's. The node lives inside the
// object, named by pointer-to-member; the tree never allocates.
//
// Key traits say how to order objects:
//   struct Traits {
//       using Key = GrantRef;
//       static Key key(const T &obj);
//       static bool less(const Key &a, const Key &b);
//   };
// Keys are unique: insert_or_find() refuses a duplicate and hands back the
// object that holds the key, so "insert unless present" is one call.
//
// Invariants:
//  - an unlinked node's parent pointer points at itself (RB_CLEAR_NODE);
//  - size() equals the number of linked nodes; check() verifies order,
//    parent links and the red-black properties (for tests);
//  - a node is destroyed unlinked and a tree is destroyed empty: a breach
//    is reported (xbc/invariant.hpp). A tree unlinks what it still holds;
//    a node cannot leave the tree without its root, so it only reports.
//
// Not thread-safe: the owner serialises access.
#pragma once

#include "kapi/rbtree.h"
#include "xbc/base.hpp"
#include "xbc/invariant.hpp"

namespace xbc {

class RbNode {
public:
	RbNode() noexcept { clear(); }
	RbNode(const RbNode &) = delete;
	RbNode &operator=(const RbNode &) = delete;
	~RbNode() { (void)XBC_CHECK(!is_linked()); }

	[[nodiscard]] bool is_linked() const noexcept
	{
		return raw.__rb_parent_color != reinterpret_cast<unsigned long>(&raw);
	}

	// The kernel's struct rb_node; public only for the layout checks.
	rb_node raw;

private:
	template <typename T, RbNode T::*M, typename Tr> friend class RbTree;
	void clear() noexcept
	{
		raw.__rb_parent_color = reinterpret_cast<unsigned long>(&raw);
		raw.rb_left = nullptr;
		raw.rb_right = nullptr;
	}
};
static_assert(sizeof(RbNode) == KAPI_RB_NODE_SIZE);
static_assert(__builtin_offsetof(RbNode, raw) == 0);

// The usual `less`: the key's own operator<.
template <typename K> struct KeyLess {
	static bool less(const K &a, const K &b) noexcept { return a < b; }
};

// What RbTree::check() found.
struct RbCheck {
	bool ok;
	const char *problem;	// null when ok
	size_t count;		// nodes reached in order
	unsigned black_height;	// black nodes on every root-to-leaf path
};

template <typename T, RbNode T::*Member, typename Traits> class RbTree : Pinned {
public:
	using Key = typename Traits::Key;

	RbTree() noexcept { root_.rb_node = nullptr; }
	~RbTree()
	{
		if (!XBC_CHECK(empty()))
			clear();
	}

	[[nodiscard]] bool empty() const noexcept { return root_.rb_node == nullptr; }
	[[nodiscard]] size_t size() const noexcept { return size_; }

	// Links `obj` unless an object with the same key is present. Returns
	// true when linked; false (and the holder of the key in *existing, if
	// asked) when the key is taken. An already linked `obj` is reported
	// and refused.
	[[nodiscard]] bool insert_or_find(T &obj, T **existing = nullptr) noexcept
	{
		if (existing)
			*existing = nullptr;
		RbNode &node = obj.*Member;
		if (!XBC_CHECK(!node.is_linked()))
			return false;
		const Key key = Traits::key(obj);
		rb_node **link = &root_.rb_node;
		rb_node *parent = nullptr;
		while (*link) {
			parent = *link;
			T &here = *owner(parent);
			const Key here_key = Traits::key(here);
			if (Traits::less(key, here_key)) {
				link = &parent->rb_left;
			} else if (Traits::less(here_key, key)) {
				link = &parent->rb_right;
			} else {
				if (existing)
					*existing = &here;
				return false;
			}
		}
		// rb_link_node(): red, no children, then the core rebalances.
		node.raw.__rb_parent_color = reinterpret_cast<unsigned long>(parent);
		node.raw.rb_left = nullptr;
		node.raw.rb_right = nullptr;
		*link = &node.raw;
		rb_insert_color(&node.raw, &root_);
		size_++;
		return true;
	}

	[[nodiscard]] T *find(const Key &key) const noexcept
	{
		rb_node *n = root_.rb_node;
		while (n) {
			T *here = owner(n);
			const Key here_key = Traits::key(*here);
			if (Traits::less(key, here_key))
				n = n->rb_left;
			else if (Traits::less(here_key, key))
				n = n->rb_right;
			else
				return here;
		}
		return nullptr;
	}

	// The caller guarantees `obj` is in *this* tree; an unlinked node is
	// reported and ignored.
	void erase(T &obj) noexcept
	{
		RbNode &node = obj.*Member;
		if (!XBC_CHECK(node.is_linked()))
			return;
		rb_erase(&node.raw, &root_);
		node.clear();
		size_--;
	}

	[[nodiscard]] T *first() const noexcept { return owner_or_null(rb_first(&root_)); }
	[[nodiscard]] T *last() const noexcept { return owner_or_null(rb_last(&root_)); }
	[[nodiscard]] T *next(const T &obj) const noexcept
	{
		return owner_or_null(rb_next(&(obj.*Member).raw));
	}
	[[nodiscard]] T *prev(const T &obj) const noexcept
	{
		return owner_or_null(rb_prev(&(obj.*Member).raw));
	}

	// Unlinks and returns the smallest object, or null when empty.
	[[nodiscard]] T *pop_first() noexcept
	{
		T *obj = first();
		if (obj)
			erase(*obj);
		return obj;
	}

	// Unlinks every object; the objects belong to someone else.
	void clear() noexcept
	{
		while (!empty())
			(void)pop_first();
	}

	// In-order iteration; the body must not erase the current object.
	class iterator {
	public:
		explicit iterator(rb_node *n) noexcept : n_(n) {}
		T &operator*() const noexcept { return *owner(n_); }
		T *operator->() const noexcept { return owner(n_); }
		iterator &operator++() noexcept
		{
			n_ = rb_next(n_);
			return *this;
		}
		bool operator==(const iterator &o) const noexcept { return n_ == o.n_; }
		bool operator!=(const iterator &o) const noexcept { return n_ != o.n_; }

	private:
		rb_node *n_;
	};
	iterator begin() const noexcept { return iterator(rb_first(&root_)); }
	iterator end() const noexcept { return iterator(nullptr); }

	// In-order iteration that lets the body erase the current object (and
	// only it): the successor is found before the body runs. Erasing
	// rebalances, but never moves another node out of order, so the saved
	// successor stays the next one.
	class SafeRange {
	public:
		class iterator {
		public:
			explicit iterator(rb_node *n) noexcept : n_(n), next_(n ? rb_next(n) : nullptr) {}
			T &operator*() const noexcept { return *owner(n_); }
			iterator &operator++() noexcept
			{
				n_ = next_;
				next_ = n_ ? rb_next(n_) : nullptr;
				return *this;
			}
			bool operator!=(const iterator &o) const noexcept { return n_ != o.n_; }

		private:
			rb_node *n_;
			rb_node *next_;
		};
		explicit SafeRange(const rb_root *root) noexcept : root_(root) {}
		iterator begin() const noexcept { return iterator(rb_first(root_)); }
		iterator end() const noexcept { return iterator(nullptr); }

	private:
		const rb_root *root_;
	};
	[[nodiscard]] SafeRange safe() const noexcept { return SafeRange(&root_); }

	// Walks the whole tree and verifies it: strict key order, every
	// child's parent link, a black root, no red node with a red child, the
	// same number of black nodes on every path, and size(). Iterative, so
	// it needs no stack; O(n log n). For tests and debug checks.
	[[nodiscard]] RbCheck check() const noexcept
	{
		RbCheck r = {true, nullptr, 0, 0};
		const rb_node *root = root_.rb_node;
		if (!root)
			return size_ == 0 ? r : fail(r, "size() counts nodes an empty tree lacks");
		if (parent_of(root) != nullptr)
			return fail(r, "root has a parent");
		if (!is_black(root))
			return fail(r, "root is red");
		bool have_height = false;
		const rb_node *prev = nullptr;
		for (const rb_node *n = rb_first(&root_); n; n = rb_next(n)) {
			if (++r.count > size_)
				return fail(r, "more nodes than size()");
			if (prev && !Traits::less(Traits::key(*owner(prev)), Traits::key(*owner(n))))
				return fail(r, "keys out of order or duplicated");
			prev = n;
			if (n->rb_left && parent_of(n->rb_left) != n)
				return fail(r, "left child's parent link is wrong");
			if (n->rb_right && parent_of(n->rb_right) != n)
				return fail(r, "right child's parent link is wrong");
			if (!is_black(n) && ((n->rb_left && !is_black(n->rb_left)) ||
					     (n->rb_right && !is_black(n->rb_right))))
				return fail(r, "red node has a red child");
			if (n->rb_left && n->rb_right)
				continue;
			// A node with a null child ends a path: count its blacks.
			unsigned blacks = 0;
			for (const rb_node *up = n; up; up = parent_of(up)) {
				blacks += is_black(up) ? 1 : 0;
				if (blacks > 2 * 64)
					return fail(r, "parent links form a cycle");
			}
			if (!have_height) {
				r.black_height = blacks;
				have_height = true;
			} else if (blacks != r.black_height) {
				return fail(r, "black heights differ");
			}
		}
		if (r.count != size_)
			return fail(r, "fewer nodes than size()");
		return r;
	}

private:
	static T *owner(const rb_node *n) noexcept
	{
		// RbNode's only member is the rb_node, at offset 0.
		auto *node = reinterpret_cast<RbNode *>(const_cast<rb_node *>(n));
		return owner_of(node, Member);
	}
	static T *owner_or_null(const rb_node *n) noexcept { return n ? owner(n) : nullptr; }
	// The low two bits of __rb_parent_color hold the colour (1 = black).
	static const rb_node *parent_of(const rb_node *n) noexcept
	{
		return reinterpret_cast<const rb_node *>(n->__rb_parent_color & ~3ul);
	}
	static bool is_black(const rb_node *n) noexcept { return n->__rb_parent_color & 1ul; }
	static RbCheck fail(RbCheck r, const char *problem) noexcept
	{
		r.ok = false;
		r.problem = problem;
		return r;
	}

	rb_root root_;
	size_t size_ = 0;
};

} // namespace xbc
