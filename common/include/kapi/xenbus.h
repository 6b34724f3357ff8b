/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi xenbus: xenstore access, device state, watches and shared rings for a
 * xenbus device. Values cross as strings; the C++ core parses and formats
 * them itself (strictly: xenstore is written by the other domain). Driver
 * registration (struct xenbus_driver) lives in each module's C shim.
 */
#ifndef KAPI_XENBUS_H
#define KAPI_XENBUS_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* struct xenbus_device. */
struct kapi_xenbus_device;

/* enum xenbus_state, with the values of xen/interface/io/xenbus.h. */
enum kapi_xenbus_state {
	KAPI_XENBUS_UNKNOWN = 0,
	KAPI_XENBUS_INITIALISING = 1,
	KAPI_XENBUS_INITWAIT = 2,
	KAPI_XENBUS_INITIALISED = 3,
	KAPI_XENBUS_CONNECTED = 4,
	KAPI_XENBUS_CLOSING = 5,
	KAPI_XENBUS_CLOSED = 6,
	KAPI_XENBUS_RECONFIGURING = 7,
	KAPI_XENBUS_RECONFIGURED = 8,
};

/* Our node ("device/vbd/51712"), the peer's node, and the peer's domid. */
const char *kapi_xenbus_nodename(const struct kapi_xenbus_device *dev) KAPI_NOEXCEPT;
const char *kapi_xenbus_otherend(const struct kapi_xenbus_device *dev) KAPI_NOEXCEPT;
uint16_t kapi_xenbus_otherend_id(const struct kapi_xenbus_device *dev) KAPI_NOEXCEPT;
int kapi_xenbus_switch_state(struct kapi_xenbus_device *dev, enum kapi_xenbus_state state) KAPI_NOEXCEPT;
/* Records an error in xenstore and logs it (xenbus_dev_fatal); msg is plain text. */
void kapi_xenbus_dev_fatal(struct kapi_xenbus_device *dev, int err, const char *msg) KAPI_NOEXCEPT;

/* Transactions: 0 is "no transaction" (XBT_NIL). */
typedef uint32_t kapi_xbt;
#define KAPI_XBT_NIL 0u
int kapi_xenbus_transaction_start(kapi_xbt *t) KAPI_NOEXCEPT;
/* Returns -EAGAIN when the transaction raced and must be retried whole. */
int kapi_xenbus_transaction_end(kapi_xbt t, bool abort) KAPI_NOEXCEPT;

/*
 * Reads dir/node into buf, NUL-terminated. Returns the value's length, or
 * -ENOENT if absent, or -E2BIG if it does not fit (a hostile peer can write
 * long values: the caller decides the bound, the shim never allocates it).
 */
int kapi_xenbus_read(kapi_xbt t, const char *dir, const char *node, char *buf, size_t len) KAPI_NOEXCEPT;
int kapi_xenbus_write(kapi_xbt t, const char *dir, const char *node, const char *value) KAPI_NOEXCEPT;
int kapi_xenbus_rm(kapi_xbt t, const char *dir, const char *node) KAPI_NOEXCEPT;

/* A watch on a path; fn runs in the xenwatch thread. */
struct kapi_xenbus_watch;
typedef void (*kapi_xenbus_watch_fn)(void *ctx, const char *path) KAPI_NOEXCEPT;
int kapi_xenbus_watch(struct kapi_xenbus_device *dev, const char *path, kapi_xenbus_watch_fn fn,
		      void *ctx, struct kapi_xenbus_watch **out) KAPI_NOEXCEPT;
/* Unregisters and waits for a running callback; NULL is a no-op. */
void kapi_xenbus_unwatch(struct kapi_xenbus_watch *watch) KAPI_NOEXCEPT;

/*
 * Frontend: allocate nr_pages zeroed ring pages, grant them to the peer and
 * fill grefs[] (xenbus_setup_ring). teardown ends access and frees.
 */
int kapi_xenbus_setup_ring(struct kapi_xenbus_device *dev, unsigned int nr_pages, void **vaddr,
			   uint32_t *grefs) KAPI_NOEXCEPT;
void kapi_xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, uint32_t *grefs) KAPI_NOEXCEPT;

/* Backend: map the peer's nr_grefs ring pages contiguously (xenbus_map_ring_valloc). */
int kapi_xenbus_map_ring(struct kapi_xenbus_device *dev, const uint32_t *grefs, unsigned int nr_grefs,
			 void **vaddr) KAPI_NOEXCEPT;
void kapi_xenbus_unmap_ring(struct kapi_xenbus_device *dev, void *vaddr) KAPI_NOEXCEPT;
/*
 * get_device / put_device on @dev: keeps the structure (not the xenstore
 * nodes) alive after remove, for a ring unmap that has to come later.
 */
void kapi_xenbus_device_get(struct kapi_xenbus_device *dev) KAPI_NOEXCEPT;
void kapi_xenbus_device_put(struct kapi_xenbus_device *dev) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* KAPI_XENBUS_H */
