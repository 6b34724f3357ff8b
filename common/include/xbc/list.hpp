// SPDX-License-Identifier: GPL-2.0-only
// Intrusive doubly linked list. The node lives inside the object (as a
// member named by pointer-to-member, which is container_of in C++) and has
// exactly the kernel's struct list_head layout, so a node could be handed to
// C unchanged. The list never allocates. One object can sit on several lists
// at once through several ListNode members.
//
// Invariants:
//  - a linked node's next/prev are non-null; an unlinked node's are null;
//  - size() equals the number of nodes reachable from the head;
//  - a node is destroyed unlinked, and a list is destroyed empty. Breaking
//    either is reported (xbc/invariant.hpp) and repaired: the node unlinks
//    itself, the list unlinks what it still holds. Never BUG.
//
// Not thread-safe: the owner serialises access (see the owner's contract).
#pragma once

#include "xbc/base.hpp"
#include "xbc/invariant.hpp"

namespace xbc {

class ListNode;
template <typename T, ListNode T::*Member> class List;

class ListNode {
public:
	ListNode() noexcept = default;
	// Copying a linked node would corrupt two lists; an object that holds
	// a node is pinned for as long as it is linked, so forbid both.
	ListNode(const ListNode &) = delete;
	ListNode &operator=(const ListNode &) = delete;
	~ListNode()
	{
		if (!XBC_CHECK(!is_linked()))
			unlink();
	}

	[[nodiscard]] bool is_linked() const noexcept { return next_ != nullptr; }

	// The raw fields, in list_head order; public only for the layout checks.
	ListNode *next_ = nullptr;
	ListNode *prev_ = nullptr;

private:
	template <typename T, ListNode T::*M> friend class List;

	void link_between(ListNode *prev, ListNode *next) noexcept
	{
		next_ = next;
		prev_ = prev;
		prev->next_ = this;
		next->prev_ = this;
	}
	void unlink() noexcept
	{
		prev_->next_ = next_;
		next_->prev_ = prev_;
		next_ = nullptr;
		prev_ = nullptr;
	}
	// The list head is a node pointing at itself when empty, as in Linux.
	void make_head() noexcept
	{
		next_ = this;
		prev_ = this;
	}
};

// struct list_head { struct list_head *next, *prev; } on every Linux arch.
static_assert(sizeof(ListNode) == 2 * sizeof(void *));
static_assert(__builtin_offsetof(ListNode, next_) == 0);
static_assert(__builtin_offsetof(ListNode, prev_) == sizeof(void *));
static_assert(alignof(ListNode) == alignof(void *));

template <typename T, ListNode T::*Member> class List : Pinned {
public:
	List() noexcept { head_.make_head(); }
	~List()
	{
		if (!XBC_CHECK(empty()))
			clear();
		// The head is no ordinary linked node: detach it quietly.
		head_.next_ = nullptr;
		head_.prev_ = nullptr;
	}

	[[nodiscard]] bool empty() const noexcept { return head_.next_ == &head_; }
	[[nodiscard]] size_t size() const noexcept { return size_; }

	void push_front(T &obj) noexcept { link(obj, &head_, head_.next_); }
	void push_back(T &obj) noexcept { link(obj, head_.prev_, &head_); }

	[[nodiscard]] T *front() const noexcept { return empty() ? nullptr : owner(head_.next_); }
	[[nodiscard]] T *back() const noexcept { return empty() ? nullptr : owner(head_.prev_); }

	// Unlinks and returns the first object, or null when empty.
	[[nodiscard]] T *pop_front() noexcept
	{
		if (empty())
			return nullptr;
		T *obj = owner(head_.next_);
		remove(*obj);
		return obj;
	}
	[[nodiscard]] T *pop_back() noexcept
	{
		if (empty())
			return nullptr;
		T *obj = owner(head_.prev_);
		remove(*obj);
		return obj;
	}

	// The caller guarantees `obj` is on *this* list (O(1) cannot check
	// which list); an unlinked node is reported and ignored.
	void remove(T &obj) noexcept
	{
		ListNode &node = obj.*Member;
		if (!XBC_CHECK(node.is_linked()))
			return;
		node.unlink();
		size_--;
	}

	// Unlinks every node; the objects themselves belong to someone else.
	void clear() noexcept
	{
		while (!empty()) {
			head_.next_->unlink();
			size_--;
		}
		size_ = 0;
	}

	class iterator {
	public:
		explicit iterator(ListNode *n) noexcept : n_(n) {}
		T &operator*() const noexcept { return *owner(n_); }
		T *operator->() const noexcept { return owner(n_); }
		iterator &operator++() noexcept
		{
			n_ = n_->next_;
			return *this;
		}
		bool operator==(const iterator &o) const noexcept { return n_ == o.n_; }
		bool operator!=(const iterator &o) const noexcept { return n_ != o.n_; }

	private:
		friend class List;
		ListNode *n_;
	};

	// Plain iteration: the body must not unlink the current object.
	iterator begin() noexcept { return iterator(head_.next_); }
	iterator end() noexcept { return iterator(&head_); }

	// Unlinks the object at `it` and returns the iterator after it.
	iterator erase(iterator it) noexcept
	{
		ListNode *next = it.n_->next_;
		remove(*it);
		return iterator(next);
	}

	// Safe iteration: the body may remove (or destroy) the current object,
	// because the next node is fetched before the body runs. It must not
	// remove any other object.
	class SafeRange {
	public:
		class iterator {
		public:
			iterator(ListNode *n, ListNode *head) noexcept
				: n_(n), next_(n == head ? n : n->next_), head_(head) {}
			T &operator*() const noexcept { return *owner(n_); }
			iterator &operator++() noexcept
			{
				n_ = next_;
				next_ = n_ == head_ ? n_ : n_->next_;
				return *this;
			}
			bool operator!=(const iterator &o) const noexcept { return n_ != o.n_; }

		private:
			ListNode *n_;
			ListNode *next_;
			ListNode *head_;
		};
		explicit SafeRange(ListNode *head) noexcept : head_(head) {}
		iterator begin() const noexcept { return iterator(head_->next_, head_); }
		iterator end() const noexcept { return iterator(head_, head_); }

	private:
		ListNode *head_;
	};
	[[nodiscard]] SafeRange safe() noexcept { return SafeRange(&head_); }

private:
	static T *owner(ListNode *n) noexcept { return owner_of(n, Member); }

	void link(T &obj, ListNode *prev, ListNode *next) noexcept
	{
		ListNode &node = obj.*Member;
		// Linking a node twice would splice two lists together.
		if (!XBC_CHECK(!node.is_linked()))
			return;
		node.link_between(prev, next);
		size_++;
	}

	ListNode head_;
	size_t size_ = 0;
};

} // namespace xbc
