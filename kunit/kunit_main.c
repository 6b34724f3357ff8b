// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbc_kunit.ko: the C++ core of xen-blkcxx tested inside a real kernel.
 * This file is the KUnit registration, which is C-only (kunit_test_suites,
 * KUNIT_CASE); every case body is C++ (kunit/<name>_suite.cpp) and is listed in
 * kunit/cases.h.
 *
 * In 6.1 a module's suites run while it loads (MODULE_STATE_COMING), before
 * module parameters are parsed and before module_init: so this module has no
 * parameters, and per-suite set-up goes in suite init hooks.
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "kunit/cases.h"
#include "kunit/fake_gnttab.h"

#define XBC_DECLARE_CASE(name) void xbc_kt_##name(struct kunit *test);
XBC_KUNIT_ALL_CASES(XBC_DECLARE_CASE)

/* KUNIT_CASE, but reported under the short name, without the C prefix. */
#define XBC_CASE(id) { .run_case = xbc_kt_##id, .name = #id },

static struct kunit_case xbc_types_cases[] = {
	XBC_KUNIT_TYPES_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_types_suite = {
	.name = "xbc_types",
	.test_cases = xbc_types_cases,
};

static struct kunit_case xbc_kapi_cases[] = {
	XBC_KUNIT_KAPI_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_kapi_suite = {
	.name = "xbc_kapi",
	.test_cases = xbc_kapi_cases,
};

static struct kunit_case xbc_containers_cases[] = {
	XBC_KUNIT_CONTAINERS_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_containers_suite = {
	.name = "xbc_containers",
	.test_cases = xbc_containers_cases,
};

static struct kunit_case xbc_blkif_cases[] = {
	XBC_KUNIT_BLKIF_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_blkif_suite = {
	.name = "xbc_blkif",
	.test_cases = xbc_blkif_cases,
};

/* Each grant case starts from an empty fake grant table. */
static int xbc_fake_xen_case_init(struct kunit *test)
{
	xbc_fake_gnttab_reset();
	return 0;
}

static struct kunit_case xbc_grants_cases[] = {
	XBC_KUNIT_GRANTS_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_grants_suite = {
	.name = "xbc_grants",
	.init = xbc_fake_xen_case_init,
	.test_cases = xbc_grants_cases,
};

static struct kunit_case xbc_negotiate_cases[] = {
	XBC_KUNIT_NEGOTIATE_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_negotiate_suite = {
	.name = "xbc_negotiate",
	.test_cases = xbc_negotiate_cases,
};

static struct kunit_case xbc_blkback_cases[] = {
	XBC_KUNIT_BLKBACK_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_blkback_suite = {
	.name = "xbc_blkback",
	.init = xbc_fake_xen_case_init,
	.test_cases = xbc_blkback_cases,
};

static struct kunit_case xbc_blkfront_cases[] = {
	XBC_KUNIT_BLKFRONT_CASES(XBC_CASE)
	{}
};

static struct kunit_suite xbc_blkfront_suite = {
	.name = "xbc_blkfront",
	.init = xbc_fake_xen_case_init,
	.test_cases = xbc_blkfront_cases,
};

kunit_test_suites(&xbc_types_suite, &xbc_kapi_suite, &xbc_containers_suite,
		  &xbc_blkif_suite, &xbc_grants_suite, &xbc_negotiate_suite,
		  &xbc_blkback_suite, &xbc_blkfront_suite);

MODULE_DESCRIPTION("xen-blkcxx: KUnit tests of the C++ core");
MODULE_LICENSE("GPL");
