/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi rbtree: the kernel's exported red-black tree core (lib/rbtree.c),
 * called directly, with no shim in between. The C++ side declares its own
 * copy of struct rb_node/rb_root; common/shim/layout_checks.c asserts that
 * the kernel's structs have exactly this layout, and host tests link the
 * kernel's tools/lib/rbtree.c, which has it too.
 */
#ifndef KAPI_RBTREE_H
#define KAPI_RBTREE_H

#include "kapi/kapi.h"

#define KAPI_RB_NODE_SIZE 24
#define KAPI_RB_NODE_PARENT_COLOR_OFFSET 0
#define KAPI_RB_NODE_RIGHT_OFFSET 8
#define KAPI_RB_NODE_LEFT_OFFSET 16
#define KAPI_RB_ROOT_SIZE 8

#ifdef __cplusplus
extern "C" {
struct rb_node {
	unsigned long __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
} __attribute__((aligned(sizeof(long))));

struct rb_root {
	struct rb_node *rb_node;
};

void rb_insert_color(struct rb_node *node, struct rb_root *root) noexcept;
void rb_erase(struct rb_node *node, struct rb_root *root) noexcept;
struct rb_node *rb_first(const struct rb_root *root) noexcept;
struct rb_node *rb_last(const struct rb_root *root) noexcept;
struct rb_node *rb_next(const struct rb_node *node) noexcept;
struct rb_node *rb_prev(const struct rb_node *node) noexcept;
}

static_assert(sizeof(rb_node) == KAPI_RB_NODE_SIZE);
static_assert(__builtin_offsetof(rb_node, __rb_parent_color) == KAPI_RB_NODE_PARENT_COLOR_OFFSET);
static_assert(__builtin_offsetof(rb_node, rb_right) == KAPI_RB_NODE_RIGHT_OFFSET);
static_assert(__builtin_offsetof(rb_node, rb_left) == KAPI_RB_NODE_LEFT_OFFSET);
static_assert(sizeof(rb_root) == KAPI_RB_ROOT_SIZE);
#endif /* __cplusplus */

#endif /* KAPI_RBTREE_H */
