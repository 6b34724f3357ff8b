/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The list of KUnit cases, shared by C and C++. Each suite's cases are an
 * X-macro list: kunit/kunit_main.c turns it into prototypes and a
 * kunit_case table, and kunit/xbc_kunit.hpp into the extern "C"
 * declarations the C++ bodies (XBC_KUNIT_CASE) must match. A listed case
 * with no body fails the module link (modpost: undefined symbol).
 *
 * To add a suite: a list here, a body file kunit/<name>_suite.cpp included by
 * kunit/kunit_unit.cpp, and a kunit_suite in kunit/kunit_main.c.
 */
#ifndef XBC_KUNIT_CASES_H
#define XBC_KUNIT_CASES_H

/* Strong types, Result and Box on the real kmalloc. */
#define XBC_KUNIT_TYPES_CASES(X)		\
	X(types_strong_ids)			\
	X(types_sector_and_ring_index)		\
	X(types_result_propagation)		\
	X(box_create_and_destroy)		\
	X(box_over_aligned)			\
	X(box_array_zeroed_and_bounded)

/* The hypervisor-free kapi shims: memory, locks, time, log. */
#define XBC_KUNIT_KAPI_CASES(X)			\
	X(kapi_pages)				\
	X(kapi_spinlock_disables_irqs)		\
	X(kapi_mutex)				\
	X(kapi_time)				\
	X(sync_lock_types_and_guards)		\
	X(sync_atomic)

/* Intrusive containers: list (list_head layout) and rb tree (kernel rb core). */
#define XBC_KUNIT_CONTAINERS_CASES(X)		\
	X(list_layout_walked_by_kernel)		\
	X(list_safe_erase)			\
	X(rbtree_1000_on_kernel_core)

/* The blkif wire code and shared ring against the kernel's own native
 * structs and ring.h macros. */
#define XBC_KUNIT_BLKIF_CASES(X)		\
	X(blkif_native_sizes_match_kernel)	\
	X(blkif_decode_kernel_rw)		\
	X(blkif_decode_kernel_discard_indirect)	\
	X(blkif_encode_read_by_kernel)		\
	X(ring_kernel_front_round_trip_across_wrap) \
	X(ring_rejects_lying_producer)

/* Backend persistent grants, grant mapper and page pool, and the frontend
 * grant pool over real pages and the kernel-side fake grant table. */
#define XBC_KUNIT_GRANTS_CASES(X)		\
	X(fake_gnttab_refuses_bad_maps)		\
	X(persistent_grants_cap_and_lru)	\
	X(grant_pool_persistent_reuse_and_teardown) \
	X(grant_pool_refusals)			\
	X(grant_mapper_map_fails_per_op)	\
	X(grant_mapper_unmap_fails_per_op)	\
	X(grant_mapper_lru_purge_at_cap)	\
	X(grant_mapper_release_async_in_the_call) \
	X(page_pool_get_put_shrink)

/* Feature negotiation and xenstore value parsing. */
#define XBC_KUNIT_NEGOTIATE_CASES(X)		\
	X(negotiate_use_only_what_both_want)	\
	X(negotiate_backend_refusals)		\
	X(negotiate_absurd_disk_keys)		\
	X(xs_value_hostile_text)

/* The blkback data path (BackendRing) against a kernel-macro frontend. */
#define XBC_KUNIT_BLKBACK_CASES(X)		\
	X(backend_rw_persistent)		\
	X(backend_rw_transient_maps)		\
	X(backend_rw_grant_copy)		\
	X(backend_indirect)			\
	X(backend_refuses_malformed)

/* The blkfront data path (IoRing) against a kernel-macro backend. */
#define XBC_KUNIT_BLKFRONT_CASES(X)		\
	X(front_rw_direct)			\
	X(front_persistent_pool)		\
	X(front_teardown_defers_mapped)		\
	X(front_indirect)			\
	X(front_refuses_unknown_id)

#define XBC_KUNIT_ALL_CASES(X)			\
	XBC_KUNIT_TYPES_CASES(X)		\
	XBC_KUNIT_KAPI_CASES(X)			\
	XBC_KUNIT_CONTAINERS_CASES(X)		\
	XBC_KUNIT_BLKIF_CASES(X)		\
	XBC_KUNIT_GRANTS_CASES(X)		\
	XBC_KUNIT_NEGOTIATE_CASES(X)		\
	XBC_KUNIT_BLKBACK_CASES(X)		\
	XBC_KUNIT_BLKFRONT_CASES(X)

#endif /* XBC_KUNIT_CASES_H */
