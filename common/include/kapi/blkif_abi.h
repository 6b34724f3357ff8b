/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The blkif wire format as plain constants: operation codes, status codes,
 * limits, and the size and member offsets of every wire struct in the three
 * layouts a backend may meet (xenstore "protocol" key):
 *   NATIVE  - struct blkif_request of an x86_64 kernel (include/xen/interface/
 *             io/blkif.h), which is what both of our modules speak natively;
 *   X86_32  - "x86_32-abi": a 32-bit guest, 64-bit fields only 4-aligned;
 *   X86_64  - "x86_64-abi": like NATIVE, without the discard trailing pad.
 *
 * The C++ mirrors (xbc/blkif.hpp) static_assert against these numbers, and
 * common/shim/layout_checks.c asserts the kernel's own structs against them,
 * so both sides of the kapi boundary agree on the wire.
 *
 * Every request offset below is from the start of the whole request (the
 * operation byte), e.g. KAPI_BLKIF_NATIVE_RW_ID_OFFSET is
 * offsetof(struct blkif_request, u.rw.id). A *_SIZE of a variant is the size
 * of the union member struct (sizeof(struct blkif_request_rw)).
 *
 * Names carry a KAPI_ prefix so this header can sit next to the kernel's
 * blkif.h in one C file without redefining its macros.
 */
#ifndef KAPI_BLKIF_ABI_H
#define KAPI_BLKIF_ABI_H

#include "kapi/kapi.h"

/* Operations (blkif_request.operation). 4 was never assigned. */
#define KAPI_BLKIF_OP_READ 0
#define KAPI_BLKIF_OP_WRITE 1
#define KAPI_BLKIF_OP_WRITE_BARRIER 2
#define KAPI_BLKIF_OP_FLUSH_DISKCACHE 3
#define KAPI_BLKIF_OP_DISCARD 5
#define KAPI_BLKIF_OP_INDIRECT 6

/* Response status (blkif_response.status, int16_t). */
#define KAPI_BLKIF_RSP_EOPNOTSUPP (-2)
#define KAPI_BLKIF_RSP_ERROR (-1)
#define KAPI_BLKIF_RSP_OKAY 0

/* Segment limits. */
#define KAPI_BLKIF_MAX_SEGMENTS_PER_REQUEST 11
#define KAPI_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST 8
/* Indirect segments per 4 KiB indirect page: 4096 / 8. */
#define KAPI_BLKIF_SEGS_PER_INDIRECT_FRAME 512
/* first_sect/last_sect index 512-byte sectors of one 4 KiB Xen page. */
#define KAPI_BLKIF_SECTORS_PER_PAGE 8
#define KAPI_BLKIF_MAX_SECT_IN_PAGE 7

/* blkif_request_discard.flag */
#define KAPI_BLKIF_DISCARD_SECURE (1 << 0)

/* xenstore "info" bits. */
#define KAPI_VDISK_CDROM 0x1
#define KAPI_VDISK_REMOVABLE 0x2
#define KAPI_VDISK_READONLY 0x4

/*
 * struct blkif_request_segment: identical in all layouts, both inline in a
 * read/write request and as the entries of an indirect page.
 */
#define KAPI_BLKIF_SEGMENT_SIZE 8
#define KAPI_BLKIF_SEGMENT_GREF_OFFSET 0
#define KAPI_BLKIF_SEGMENT_FIRST_SECT_OFFSET 4
#define KAPI_BLKIF_SEGMENT_LAST_SECT_OFFSET 5
#define KAPI_BLKIF_INDIRECT_SEGMENT_SIZE KAPI_BLKIF_SEGMENT_SIZE
#define KAPI_BLKIF_INDIRECT_SEGMENT_GREF_OFFSET KAPI_BLKIF_SEGMENT_GREF_OFFSET
#define KAPI_BLKIF_INDIRECT_SEGMENT_FIRST_SECT_OFFSET KAPI_BLKIF_SEGMENT_FIRST_SECT_OFFSET
#define KAPI_BLKIF_INDIRECT_SEGMENT_LAST_SECT_OFFSET KAPI_BLKIF_SEGMENT_LAST_SECT_OFFSET

/*
 * Shared ring page (struct *_sring of io/ring.h): four RING_IDX, 48 bytes of
 * padding, then the entries.
 */
#define KAPI_SRING_REQ_PROD_OFFSET 0
#define KAPI_SRING_REQ_EVENT_OFFSET 4
#define KAPI_SRING_RSP_PROD_OFFSET 8
#define KAPI_SRING_RSP_EVENT_OFFSET 12
#define KAPI_SRING_PAD_OFFSET 16
#define KAPI_SRING_PAD_SIZE 48
#define KAPI_SRING_HEADER_SIZE 64

/* ---- NATIVE (x86_64 kernel, struct blkif_request) ---- */
#define KAPI_BLKIF_NATIVE_REQ_SIZE 112
#define KAPI_BLKIF_NATIVE_REQ_OPERATION_OFFSET 0
#define KAPI_BLKIF_NATIVE_REQ_U_OFFSET 1

#define KAPI_BLKIF_NATIVE_RW_SIZE 111
#define KAPI_BLKIF_NATIVE_RW_NR_SEGMENTS_OFFSET 1
#define KAPI_BLKIF_NATIVE_RW_HANDLE_OFFSET 2
#define KAPI_BLKIF_NATIVE_RW_ID_OFFSET 8
#define KAPI_BLKIF_NATIVE_RW_SECTOR_NUMBER_OFFSET 16
#define KAPI_BLKIF_NATIVE_RW_SEG_OFFSET 24

#define KAPI_BLKIF_NATIVE_DISCARD_SIZE 32
#define KAPI_BLKIF_NATIVE_DISCARD_FLAG_OFFSET 1
#define KAPI_BLKIF_NATIVE_DISCARD_ID_OFFSET 8
#define KAPI_BLKIF_NATIVE_DISCARD_SECTOR_NUMBER_OFFSET 16
#define KAPI_BLKIF_NATIVE_DISCARD_NR_SECTORS_OFFSET 24

#define KAPI_BLKIF_NATIVE_OTHER_SIZE 15
#define KAPI_BLKIF_NATIVE_OTHER_ID_OFFSET 8

#define KAPI_BLKIF_NATIVE_INDIRECT_SIZE 63
#define KAPI_BLKIF_NATIVE_INDIRECT_INDIRECT_OP_OFFSET 1
#define KAPI_BLKIF_NATIVE_INDIRECT_NR_SEGMENTS_OFFSET 2
#define KAPI_BLKIF_NATIVE_INDIRECT_ID_OFFSET 8
#define KAPI_BLKIF_NATIVE_INDIRECT_SECTOR_NUMBER_OFFSET 16
#define KAPI_BLKIF_NATIVE_INDIRECT_HANDLE_OFFSET 24
#define KAPI_BLKIF_NATIVE_INDIRECT_GREFS_OFFSET 28

/* struct blkif_response: natural alignment, 5 bytes of padding. */
#define KAPI_BLKIF_NATIVE_RSP_SIZE 16
#define KAPI_BLKIF_NATIVE_RSP_ID_OFFSET 0
#define KAPI_BLKIF_NATIVE_RSP_OPERATION_OFFSET 8
#define KAPI_BLKIF_NATIVE_RSP_STATUS_OFFSET 10

/* One ring entry: union of request and response. */
#define KAPI_BLKIF_NATIVE_ENTRY_SIZE 112

/* ---- X86_32 ("x86_32-abi", struct blkif_x86_32_request) ---- */
#define KAPI_BLKIF_X86_32_REQ_SIZE 108
#define KAPI_BLKIF_X86_32_REQ_OPERATION_OFFSET 0
#define KAPI_BLKIF_X86_32_REQ_U_OFFSET 1

#define KAPI_BLKIF_X86_32_RW_SIZE 107
#define KAPI_BLKIF_X86_32_RW_NR_SEGMENTS_OFFSET 1
#define KAPI_BLKIF_X86_32_RW_HANDLE_OFFSET 2
#define KAPI_BLKIF_X86_32_RW_ID_OFFSET 4
#define KAPI_BLKIF_X86_32_RW_SECTOR_NUMBER_OFFSET 12
#define KAPI_BLKIF_X86_32_RW_SEG_OFFSET 20

#define KAPI_BLKIF_X86_32_DISCARD_SIZE 27
#define KAPI_BLKIF_X86_32_DISCARD_FLAG_OFFSET 1
#define KAPI_BLKIF_X86_32_DISCARD_ID_OFFSET 4
#define KAPI_BLKIF_X86_32_DISCARD_SECTOR_NUMBER_OFFSET 12
#define KAPI_BLKIF_X86_32_DISCARD_NR_SECTORS_OFFSET 20

#define KAPI_BLKIF_X86_32_OTHER_SIZE 11
#define KAPI_BLKIF_X86_32_OTHER_ID_OFFSET 4

#define KAPI_BLKIF_X86_32_INDIRECT_SIZE 63
#define KAPI_BLKIF_X86_32_INDIRECT_INDIRECT_OP_OFFSET 1
#define KAPI_BLKIF_X86_32_INDIRECT_NR_SEGMENTS_OFFSET 2
#define KAPI_BLKIF_X86_32_INDIRECT_ID_OFFSET 4
#define KAPI_BLKIF_X86_32_INDIRECT_SECTOR_NUMBER_OFFSET 12
#define KAPI_BLKIF_X86_32_INDIRECT_HANDLE_OFFSET 20
#define KAPI_BLKIF_X86_32_INDIRECT_GREFS_OFFSET 24

/*
 * The i386 blkif_response: uint64_t is 4-aligned there, so 12 bytes. The
 * member offsets equal NATIVE's; only the size (tail padding) differs.
 */
#define KAPI_BLKIF_X86_32_RSP_SIZE 12
#define KAPI_BLKIF_X86_32_RSP_ID_OFFSET 0
#define KAPI_BLKIF_X86_32_RSP_OPERATION_OFFSET 8
#define KAPI_BLKIF_X86_32_RSP_STATUS_OFFSET 10

#define KAPI_BLKIF_X86_32_ENTRY_SIZE 108

/* ---- X86_64 ("x86_64-abi", struct blkif_x86_64_request) ---- */
#define KAPI_BLKIF_X86_64_REQ_SIZE 112
#define KAPI_BLKIF_X86_64_REQ_OPERATION_OFFSET 0
#define KAPI_BLKIF_X86_64_REQ_U_OFFSET 1

#define KAPI_BLKIF_X86_64_RW_SIZE 111
#define KAPI_BLKIF_X86_64_RW_NR_SEGMENTS_OFFSET 1
#define KAPI_BLKIF_X86_64_RW_HANDLE_OFFSET 2
#define KAPI_BLKIF_X86_64_RW_ID_OFFSET 8
#define KAPI_BLKIF_X86_64_RW_SECTOR_NUMBER_OFFSET 16
#define KAPI_BLKIF_X86_64_RW_SEG_OFFSET 24

/* No trailing _pad3 here, unlike NATIVE's discard. */
#define KAPI_BLKIF_X86_64_DISCARD_SIZE 31
#define KAPI_BLKIF_X86_64_DISCARD_FLAG_OFFSET 1
#define KAPI_BLKIF_X86_64_DISCARD_ID_OFFSET 8
#define KAPI_BLKIF_X86_64_DISCARD_SECTOR_NUMBER_OFFSET 16
#define KAPI_BLKIF_X86_64_DISCARD_NR_SECTORS_OFFSET 24

#define KAPI_BLKIF_X86_64_OTHER_SIZE 15
#define KAPI_BLKIF_X86_64_OTHER_ID_OFFSET 8

#define KAPI_BLKIF_X86_64_INDIRECT_SIZE 63
#define KAPI_BLKIF_X86_64_INDIRECT_INDIRECT_OP_OFFSET 1
#define KAPI_BLKIF_X86_64_INDIRECT_NR_SEGMENTS_OFFSET 2
#define KAPI_BLKIF_X86_64_INDIRECT_ID_OFFSET 8
#define KAPI_BLKIF_X86_64_INDIRECT_SECTOR_NUMBER_OFFSET 16
#define KAPI_BLKIF_X86_64_INDIRECT_HANDLE_OFFSET 24
#define KAPI_BLKIF_X86_64_INDIRECT_GREFS_OFFSET 28

#define KAPI_BLKIF_X86_64_RSP_SIZE 16
#define KAPI_BLKIF_X86_64_RSP_ID_OFFSET 0
#define KAPI_BLKIF_X86_64_RSP_OPERATION_OFFSET 8
#define KAPI_BLKIF_X86_64_RSP_STATUS_OFFSET 10

#define KAPI_BLKIF_X86_64_ENTRY_SIZE 112

#endif /* KAPI_BLKIF_ABI_H */
