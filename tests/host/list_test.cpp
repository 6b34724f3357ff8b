// SPDX-License-Identifier: GPL-2.0-only
// The intrusive list (xbc/list.hpp): order, O(1) size, safe erase, and the
// invariant reports that replace BUG for a destroyed linked node or a
// destroyed non-empty list.
#include <string.h>

#include <gtest/gtest.h>

#include "support/kapi_host.hpp"
#include "xbc/list.hpp"

namespace xbc {
namespace {

struct Item {
	explicit Item(int v) : value(v) {}
	int value;
	ListNode a;	// two nodes: one object on two lists at once
	ListNode b;
};

using ListA = List<Item, &Item::a>;
using ListB = List<Item, &Item::b>;

// The kernel's struct list_head, to prove the layout is the same.
struct KernelListHead {
	KernelListHead *next, *prev;
};
static_assert(sizeof(ListNode) == sizeof(KernelListHead));

template <typename L> std::vector<int> values(L &l)
{
	std::vector<int> out;
	for (Item &i : l)
		out.push_back(i.value);
	return out;
}

TEST(List, PushPopOrderAndSize)
{
	Item i1(1), i2(2), i3(3);
	ListA l;
	EXPECT_TRUE(l.empty());
	EXPECT_EQ(l.pop_front(), nullptr);
	EXPECT_EQ(l.front(), nullptr);
	l.push_back(i2);
	l.push_front(i1);
	l.push_back(i3);
	EXPECT_EQ(l.size(), 3u);
	EXPECT_EQ(values(l), (std::vector<int>{1, 2, 3}));
	EXPECT_EQ(l.front(), &i1);
	EXPECT_EQ(l.back(), &i3);
	EXPECT_EQ(l.pop_front(), &i1);
	EXPECT_FALSE(i1.a.is_linked());
	EXPECT_EQ(l.pop_back(), &i3);
	EXPECT_EQ(l.size(), 1u);
	l.remove(i2);
	EXPECT_TRUE(l.empty());
	EXPECT_EQ(l.size(), 0u);
}

TEST(List, NodeHasListHeadLayoutWhenLinked)
{
	Item i1(1), i2(2);
	ListA l;
	l.push_back(i1);
	l.push_back(i2);
	// Walk through the C view: next of i1 is i2's node, prev of i2 is i1's.
	auto *c1 = reinterpret_cast<KernelListHead *>(&i1.a);
	auto *c2 = reinterpret_cast<KernelListHead *>(&i2.a);
	EXPECT_EQ(c1->next, c2);
	EXPECT_EQ(c2->prev, c1);
	EXPECT_EQ(c2->next->prev, c2);	// the head closes the circle
	l.clear();
}

TEST(List, OneObjectOnTwoLists)
{
	Item i1(1), i2(2);
	ListA la;
	ListB lb;
	la.push_back(i1);
	la.push_back(i2);
	lb.push_back(i2);
	lb.push_back(i1);
	EXPECT_EQ(values(la), (std::vector<int>{1, 2}));
	EXPECT_EQ(values(lb), (std::vector<int>{2, 1}));
	la.remove(i1);
	EXPECT_EQ(values(lb), (std::vector<int>{2, 1}));
	la.clear();
	lb.clear();
}

TEST(List, SafeIterationMayRemoveAndDestroyCurrent)
{
	ListA l;
	Item *items[6];
	for (int i = 0; i < 6; i++) {
		items[i] = new Item(i);
		l.push_back(*items[i]);
	}
	int visited = 0;
	for (Item &it : l.safe()) {
		visited++;
		if (it.value % 2 == 0) {
			l.remove(it);
			delete &it;	// the node is gone before ++ runs
		}
	}
	EXPECT_EQ(visited, 6);
	EXPECT_EQ(values(l), (std::vector<int>{1, 3, 5}));
	EXPECT_EQ(l.size(), 3u);
	while (Item *it = l.pop_front())
		delete it;
}

TEST(List, EraseReturnsNext)
{
	Item i1(1), i2(2), i3(3);
	ListA l;
	l.push_back(i1);
	l.push_back(i2);
	l.push_back(i3);
	auto it = l.begin();
	++it;
	it = l.erase(it);
	EXPECT_EQ(&*it, &i3);
	EXPECT_EQ(values(l), (std::vector<int>{1, 3}));
	it = l.erase(it);
	EXPECT_TRUE(it == l.end());
	l.clear();
	EXPECT_FALSE(i1.a.is_linked());
}

TEST(List, SafeIterationOverEmptyList)
{
	ListA l;
	int n = 0;
	for (Item &it : l.safe()) {
		(void)it;
		n++;
	}
	EXPECT_EQ(n, 0);
}

TEST(List, DoubleLinkIsReportedAndRefused)
{
	Item i1(1);
	ListA l;
	l.push_back(i1);
	const size_t logs = host::log_count();
	l.push_back(i1);	// would splice the list into itself
	EXPECT_EQ(host::log_count(), logs + 1);
	EXPECT_NE(strstr(host::last_log(), "xbc: invariant"), nullptr);
	EXPECT_EQ(l.size(), 1u);
	EXPECT_EQ(values(l), (std::vector<int>{1}));
	l.clear();
}

TEST(List, RemovingUnlinkedNodeIsReported)
{
	Item i1(1);
	ListA l;
	const size_t logs = host::log_count();
	l.remove(i1);
	EXPECT_EQ(host::log_count(), logs + 1);
	EXPECT_EQ(l.size(), 0u);
}

TEST(List, DestroyingLinkedNodeIsReportedAndUnlinks)
{
	ListA l;
	Item keep(7);
	l.push_back(keep);
	const size_t logs = host::log_count();
	{
		Item doomed(8);
		l.push_back(doomed);
	}	// destroyed while linked: reported, and the list stays walkable
	EXPECT_EQ(host::log_count(), logs + 1);
	EXPECT_NE(strstr(host::last_log(), "is_linked"), nullptr);
	EXPECT_EQ(values(l), (std::vector<int>{7}));
	l.remove(keep);
}

TEST(List, DestroyingNonEmptyListIsReportedAndReleasesNodes)
{
	Item i1(1), i2(2);
	const size_t logs = host::log_count();
	{
		ListA l;
		l.push_back(i1);
		l.push_back(i2);
	}
	EXPECT_EQ(host::log_count(), logs + 1);
	EXPECT_NE(strstr(host::last_log(), "empty()"), nullptr);
	// The nodes were unlinked, so their own destructors stay quiet.
	EXPECT_FALSE(i1.a.is_linked());
	EXPECT_FALSE(i2.a.is_linked());
}

TEST(List, CorrectUseLogsNothing)
{
	const size_t logs = host::log_count();
	{
		Item i1(1), i2(2);
		ListA l;
		l.push_back(i1);
		l.push_front(i2);
		EXPECT_EQ(l.pop_front(), &i2);
		l.remove(i1);
	}
	EXPECT_EQ(host::log_count(), logs);
}

} // namespace
} // namespace xbc
