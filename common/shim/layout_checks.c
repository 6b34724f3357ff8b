// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compile-time proof that the layouts the C++ core declares for itself
 * match the kernel's: struct rb_node/rb_root (kapi/rbtree.h, used by the
 * C++ rbtree over the kernel's rb core) and the blkif wire structs and
 * constants (kapi/blkif_abi.h, mirrored by xbc/blkif.hpp). The C++ side
 * static_asserts its mirrors against the same constants, so a mismatch on
 * either side stops the build. Generates no code.
 *
 * Only the native blkif layout can be checked here: the x86_32-abi and
 * x86_64-abi structs live in drivers/block/xen-blkback/common.h, which the
 * kernel headers packages do not ship.
 */
#include "shim.h"
#include "kapi/blkif_abi.h"
#include "kapi/gnttab.h"
#include "kapi/rbtree.h"

#include <linux/build_bug.h>
#include <linux/rbtree.h>
#include <linux/stddef.h>
#include <xen/interface/grant_table.h>
#include <xen/interface/io/blkif.h>
#include <xen/interface/io/ring.h>

#define XBC_SAME(kernel, kapi) static_assert((kernel) == (kapi), #kernel " != " #kapi)

/* struct rb_node / rb_root */
XBC_SAME(sizeof(struct rb_node), KAPI_RB_NODE_SIZE);
XBC_SAME(offsetof(struct rb_node, __rb_parent_color), KAPI_RB_NODE_PARENT_COLOR_OFFSET);
XBC_SAME(offsetof(struct rb_node, rb_right), KAPI_RB_NODE_RIGHT_OFFSET);
XBC_SAME(offsetof(struct rb_node, rb_left), KAPI_RB_NODE_LEFT_OFFSET);
XBC_SAME(sizeof(struct rb_root), KAPI_RB_ROOT_SIZE);

/* Operation, status and info codes */
XBC_SAME(BLKIF_OP_READ, KAPI_BLKIF_OP_READ);
XBC_SAME(BLKIF_OP_WRITE, KAPI_BLKIF_OP_WRITE);
XBC_SAME(BLKIF_OP_WRITE_BARRIER, KAPI_BLKIF_OP_WRITE_BARRIER);
XBC_SAME(BLKIF_OP_FLUSH_DISKCACHE, KAPI_BLKIF_OP_FLUSH_DISKCACHE);
XBC_SAME(BLKIF_OP_DISCARD, KAPI_BLKIF_OP_DISCARD);
XBC_SAME(BLKIF_OP_INDIRECT, KAPI_BLKIF_OP_INDIRECT);
XBC_SAME(BLKIF_RSP_EOPNOTSUPP, KAPI_BLKIF_RSP_EOPNOTSUPP);
XBC_SAME(BLKIF_RSP_ERROR, KAPI_BLKIF_RSP_ERROR);
XBC_SAME(BLKIF_RSP_OKAY, KAPI_BLKIF_RSP_OKAY);
XBC_SAME(BLKIF_MAX_SEGMENTS_PER_REQUEST, KAPI_BLKIF_MAX_SEGMENTS_PER_REQUEST);
XBC_SAME(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST, KAPI_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
XBC_SAME(BLKIF_DISCARD_SECURE, KAPI_BLKIF_DISCARD_SECURE);
XBC_SAME(VDISK_CDROM, KAPI_VDISK_CDROM);
XBC_SAME(VDISK_REMOVABLE, KAPI_VDISK_REMOVABLE);
XBC_SAME(VDISK_READONLY, KAPI_VDISK_READONLY);
XBC_SAME(GNTST_okay, KAPI_GNTST_OKAY);
XBC_SAME(GNTST_general_error, KAPI_GNTST_GENERAL_ERROR);
XBC_SAME(XEN_PAGE_SIZE / sizeof(struct blkif_request_segment), KAPI_BLKIF_SEGS_PER_INDIRECT_FRAME);

/* struct blkif_request_segment (inline and in indirect pages) */
XBC_SAME(sizeof(struct blkif_request_segment), KAPI_BLKIF_SEGMENT_SIZE);
XBC_SAME(offsetof(struct blkif_request_segment, gref), KAPI_BLKIF_SEGMENT_GREF_OFFSET);
XBC_SAME(offsetof(struct blkif_request_segment, first_sect), KAPI_BLKIF_SEGMENT_FIRST_SECT_OFFSET);
XBC_SAME(offsetof(struct blkif_request_segment, last_sect), KAPI_BLKIF_SEGMENT_LAST_SECT_OFFSET);

/* The shared ring page header and entries */
XBC_SAME(offsetof(struct blkif_sring, req_prod), KAPI_SRING_REQ_PROD_OFFSET);
XBC_SAME(offsetof(struct blkif_sring, req_event), KAPI_SRING_REQ_EVENT_OFFSET);
XBC_SAME(offsetof(struct blkif_sring, rsp_prod), KAPI_SRING_RSP_PROD_OFFSET);
XBC_SAME(offsetof(struct blkif_sring, rsp_event), KAPI_SRING_RSP_EVENT_OFFSET);
XBC_SAME(offsetof(struct blkif_sring, __pad), KAPI_SRING_PAD_OFFSET);
XBC_SAME(sizeof(((struct blkif_sring *)NULL)->__pad), KAPI_SRING_PAD_SIZE);
XBC_SAME(offsetof(struct blkif_sring, ring), KAPI_SRING_HEADER_SIZE);
XBC_SAME(sizeof(union blkif_sring_entry), KAPI_BLKIF_NATIVE_ENTRY_SIZE);

/* struct blkif_request, native (x86_64); offsets from the operation byte */
XBC_SAME(sizeof(struct blkif_request), KAPI_BLKIF_NATIVE_REQ_SIZE);
XBC_SAME(offsetof(struct blkif_request, operation), KAPI_BLKIF_NATIVE_REQ_OPERATION_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u), KAPI_BLKIF_NATIVE_REQ_U_OFFSET);

XBC_SAME(sizeof(struct blkif_request_rw), KAPI_BLKIF_NATIVE_RW_SIZE);
XBC_SAME(offsetof(struct blkif_request, u.rw.nr_segments), KAPI_BLKIF_NATIVE_RW_NR_SEGMENTS_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.rw.handle), KAPI_BLKIF_NATIVE_RW_HANDLE_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.rw.id), KAPI_BLKIF_NATIVE_RW_ID_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.rw.sector_number), KAPI_BLKIF_NATIVE_RW_SECTOR_NUMBER_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.rw.seg), KAPI_BLKIF_NATIVE_RW_SEG_OFFSET);
XBC_SAME(sizeof(struct blkif_request_discard), KAPI_BLKIF_NATIVE_DISCARD_SIZE);
XBC_SAME(offsetof(struct blkif_request, u.discard.flag), KAPI_BLKIF_NATIVE_DISCARD_FLAG_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.discard.id), KAPI_BLKIF_NATIVE_DISCARD_ID_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.discard.sector_number), KAPI_BLKIF_NATIVE_DISCARD_SECTOR_NUMBER_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.discard.nr_sectors), KAPI_BLKIF_NATIVE_DISCARD_NR_SECTORS_OFFSET);
XBC_SAME(sizeof(struct blkif_request_other), KAPI_BLKIF_NATIVE_OTHER_SIZE);
XBC_SAME(offsetof(struct blkif_request, u.other.id), KAPI_BLKIF_NATIVE_OTHER_ID_OFFSET);
XBC_SAME(sizeof(struct blkif_request_indirect), KAPI_BLKIF_NATIVE_INDIRECT_SIZE);
XBC_SAME(offsetof(struct blkif_request, u.indirect.indirect_op), KAPI_BLKIF_NATIVE_INDIRECT_INDIRECT_OP_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.indirect.nr_segments), KAPI_BLKIF_NATIVE_INDIRECT_NR_SEGMENTS_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.indirect.id), KAPI_BLKIF_NATIVE_INDIRECT_ID_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.indirect.sector_number), KAPI_BLKIF_NATIVE_INDIRECT_SECTOR_NUMBER_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.indirect.handle), KAPI_BLKIF_NATIVE_INDIRECT_HANDLE_OFFSET);
XBC_SAME(offsetof(struct blkif_request, u.indirect.indirect_grefs), KAPI_BLKIF_NATIVE_INDIRECT_GREFS_OFFSET);

/* struct blkif_response, native */
XBC_SAME(sizeof(struct blkif_response), KAPI_BLKIF_NATIVE_RSP_SIZE);
XBC_SAME(offsetof(struct blkif_response, id), KAPI_BLKIF_NATIVE_RSP_ID_OFFSET);
XBC_SAME(offsetof(struct blkif_response, operation), KAPI_BLKIF_NATIVE_RSP_OPERATION_OFFSET);
XBC_SAME(offsetof(struct blkif_response, status), KAPI_BLKIF_NATIVE_RSP_STATUS_OFFSET);
