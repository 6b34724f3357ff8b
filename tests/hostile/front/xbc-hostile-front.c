// SPDX-License-Identifier: GPL-2.0-only
/*
 * Over 450 lines: one self-contained test module (built alone for the domU
 * image); its length is the attack catalogue.
 */
/*
 * xbc-hostile-front: a deliberately hostile blkif frontend, for tests only
 * (issue 9). It is never packaged: scripts/e2e/build-artifacts builds it for
 * the domU kernel and puts it into the domU initramfs, where it takes
 * blkfront's place as the xenbus driver of "vbd" devices.
 *
 * Each vbd runs one attack, chosen by its position: the module parameter
 * attacks=a,b,c gives xvda attack a, xvdb attack b, and so on. An attack
 * runs on its own connection and ends with one console line
 *   XBC-HOSTILE <attack> <what the backend did> state=<backend state>
 * which dom0 (scripts/e2e/hostile-front-dom0.sh) collects into the table.
 * The wire format is the kernel's own <xen/interface/io/blkif.h>; the limits
 * come from common/include/kapi/blkif_abi.h.
 */
#include <linux/module.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/jiffies.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <xen/xen.h>
#include <xen/xenbus.h>
#include <xen/grant_table.h>
#include <xen/events.h>
#include <xen/page.h>
#include <xen/interface/io/blkif.h>
#include <xen/interface/io/protocols.h>

#include "kapi/blkif_abi.h"

#define HF_MAX_VBDS 26			/* xvda .. xvdz */
#define HF_FIRST_VDEV (202 << 8)	/* xvda; each further xvdX adds 16 */
#define HF_VDEV_STEP 16
/* More distinct grants than in-tree's (and our) max_persistent_grants, 1056. */
#define HF_FLOOD_PAGES 1232		/* 112 requests of 11 segments */
#define HF_WAIT_MS 8000			/* for responses or a backend state */
#define HF_BAD_GREF 0x7ffffff0		/* far above any grant table */

static char *attacks[HF_MAX_VBDS];
static int nr_attacks;
module_param_array(attacks, charp, &nr_attacks, 0444);
MODULE_PARM_DESC(attacks, "attack per vbd: the first for xvda, the next for xvdb, ...");

static unsigned int sustain_seconds = 30;
module_param(sustain_seconds, uint, 0444);
MODULE_PARM_DESC(sustain_seconds, "how long the event storm and the grant flood go on");

static struct workqueue_struct *hf_wq;

struct hf_tally {
	unsigned int ok, error, eopnotsupp, other, missing;
};

struct hf {
	struct xenbus_device *dev;
	const char *attack;
	struct work_struct work;
	wait_queue_head_t wq;
	enum xenbus_state be_state;	/* the backend's last state */
	bool gone;			/* .remove runs: stop waiting */

	void *sring;
	grant_ref_t ring_ref;
	struct blkif_front_ring ring;
	evtchn_port_t evtchn;
	int irq;

	/* Data pages granted to the backend, read-write. */
	struct page **pages;
	grant_ref_t *refs;
	unsigned int nr_pages;

	u64 sectors;			/* the disk size the backend announced */
	unsigned int max_indirect;	/* feature-max-indirect-segments */
	unsigned int max_ring_order;	/* max-ring-page-order */
	unsigned int max_queues;	/* multi-queue-max-queues */
	u64 next_id;
	struct hf_tally t;
};

static irqreturn_t hf_interrupt(int irq, void *data)
{
	struct hf *hf = data;

	wake_up(&hf->wq);
	return IRQ_HANDLED;
}

static bool hf_be_state_in(struct hf *hf, u32 mask)
{
	return READ_ONCE(hf->gone) || (BIT(READ_ONCE(hf->be_state) & 31) & mask);
}

/* Waits up to @ms for the backend to reach a state in @mask. */
static bool hf_wait_be(struct hf *hf, u32 mask, unsigned int ms)
{
	wait_event_timeout(hf->wq, hf_be_state_in(hf, mask), msecs_to_jiffies(ms));
	return !READ_ONCE(hf->gone) && (BIT(READ_ONCE(hf->be_state) & 31) & mask);
}

static int hf_grant_pages(struct hf *hf, unsigned int n)
{
	unsigned int i;
	int ref;

	hf->pages = kcalloc(n, sizeof(*hf->pages), GFP_KERNEL);
	hf->refs = kcalloc(n, sizeof(*hf->refs), GFP_KERNEL);
	if (!hf->pages || !hf->refs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		hf->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!hf->pages[i])
			return -ENOMEM;
		ref = gnttab_grant_foreign_access(hf->dev->otherend_id,
						  xen_page_to_gfn(hf->pages[i]), 0);
		if (ref < 0) {
			__free_page(hf->pages[i]);
			hf->pages[i] = NULL;
			return ref;
		}
		hf->refs[i] = ref;
		hf->nr_pages = i + 1;
	}
	return 0;
}

/* Ends every grant; a page the backend still maps is freed once it lets go. */
static void hf_release(struct hf *hf)
{
	unsigned int i;

	if (hf->irq > 0)
		unbind_from_irqhandler(hf->irq, hf);
	else if (hf->evtchn)
		xenbus_free_evtchn(hf->dev, hf->evtchn);
	hf->irq = 0;
	hf->evtchn = 0;
	if (hf->sring)
		xenbus_teardown_ring(&hf->sring, 1, &hf->ring_ref);
	for (i = 0; i < hf->nr_pages; i++)
		gnttab_end_foreign_access(hf->refs[i], hf->pages[i]);
	hf->nr_pages = 0;
	kfree(hf->pages);
	kfree(hf->refs);
	hf->pages = NULL;
	hf->refs = NULL;
}

static struct blkif_request *hf_next(struct hf *hf)
{
	struct blkif_request *req = RING_GET_REQUEST(&hf->ring, hf->ring.req_prod_pvt);

	memset(req, 0, sizeof(*req));
	hf->ring.req_prod_pvt++;
	return req;
}

/* A read or write of @nseg inline segments, one sector each from @first. */
static struct blkif_request *hf_rw(struct hf *hf, u8 op, u64 sector, unsigned int nseg,
				   unsigned int page0, u8 first, u8 last)
{
	struct blkif_request *req = hf_next(hf);
	unsigned int i;

	req->operation = op;
	req->u.rw.nr_segments = nseg;
	req->u.rw.handle = 0;
	req->u.rw.id = hf->next_id++;
	req->u.rw.sector_number = sector;
	for (i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		req->u.rw.seg[i].gref = hf->refs[(page0 + i) % hf->nr_pages];
		req->u.rw.seg[i].first_sect = first;
		req->u.rw.seg[i].last_sect = last;
	}
	return req;
}

static void hf_push(struct hf *hf)
{
	/* Always notify: a hostile frontend ignores req_event. */
	virt_wmb();	/* the requests before req_prod */
	hf->ring.sring->req_prod = hf->ring.req_prod_pvt;
	notify_remote_via_irq(hf->irq);
}

static bool hf_has_responses(struct hf *hf)
{
	return READ_ONCE(hf->gone) || READ_ONCE(hf->ring.sring->rsp_prod) != hf->ring.rsp_cons;
}

/* Consumes responses until @want arrived or @ms passed; counts them in hf->t. */
static unsigned int hf_collect(struct hf *hf, unsigned int want, unsigned int ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(ms);
	unsigned int got = 0;
	int more;

	while (got < want && !READ_ONCE(hf->gone)) {
		RING_IDX rp = READ_ONCE(hf->ring.sring->rsp_prod);

		virt_rmb();	/* the responses before rsp_prod */
		while (hf->ring.rsp_cons != rp && got < want) {
			struct blkif_response rsp = *RING_GET_RESPONSE(&hf->ring, hf->ring.rsp_cons);

			hf->ring.rsp_cons++;
			got++;
			switch (rsp.status) {
			case KAPI_BLKIF_RSP_OKAY: hf->t.ok++; break;
			case KAPI_BLKIF_RSP_ERROR: hf->t.error++; break;
			case KAPI_BLKIF_RSP_EOPNOTSUPP: hf->t.eopnotsupp++; break;
			default: hf->t.other++; break;
			}
		}
		if (got >= want || time_after(jiffies, deadline))
			break;
		RING_FINAL_CHECK_FOR_RESPONSES(&hf->ring, more);
		if (!more)
			wait_event_timeout(hf->wq, hf_has_responses(hf),
					   clamp_t(long, (long)(deadline - jiffies), 1, HZ / 10));
	}
	hf->t.missing += want - got;
	return got;
}

static void hf_verdict(struct hf *hf, const char *name, const char *extra)
{
	pr_warn("XBC-HOSTILE %s rsp=ok:%u,error:%u,eopnotsupp:%u,other:%u,none:%u%s%s state=%d\n",
		name, hf->t.ok, hf->t.error, hf->t.eopnotsupp, hf->t.other, hf->t.missing,
		extra ? " " : "", extra ? extra : "", READ_ONCE(hf->be_state));
	memset(&hf->t, 0, sizeof(hf->t));
}

/* One request that must fail, pushed alone; the verdict counts its response. */
static void hf_one(struct hf *hf, const char *name)
{
	hf_push(hf);
	hf_collect(hf, 1, HF_WAIT_MS);
	hf_verdict(hf, name, NULL);
}

/* A plain one-page read at sector 0: does the ring still serve? */
static void hf_probe_alive(struct hf *hf, const char *name)
{
	hf_rw(hf, BLKIF_OP_READ, 0, 1, 0, 0, 7);
	hf_one(hf, name);
}

/* ---- the attacks on a connected ring ---- */

static void hf_direct(struct hf *hf)
{
	hf_probe_alive(hf, "control-read");
	hf_rw(hf, BLKIF_OP_READ, 0, 0, 0, 0, 7);
	hf_one(hf, "nr_segments-0");
	{
		/* 12 segments: the 12th slot overlaps nothing of ours, fill it. */
		struct blkif_request *req = hf_rw(hf, BLKIF_OP_READ, 0, 11, 0, 0, 7);

		req->u.rw.nr_segments = KAPI_BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
		hf_one(hf, "nr_segments-12");
	}
	hf_rw(hf, BLKIF_OP_READ, 0, 1, 0, 5, 2);
	hf_one(hf, "last_sect-before-first");
	hf_rw(hf, BLKIF_OP_READ, 0, 1, 0, 0, KAPI_BLKIF_MAX_SECT_IN_PAGE + 1);
	hf_one(hf, "last_sect-8");
	hf_rw(hf, BLKIF_OP_READ, hf->sectors, 1, 0, 0, 7);
	hf_one(hf, "sector-past-end");
	hf_rw(hf, BLKIF_OP_READ, hf->sectors - 4, 1, 0, 0, 7);
	hf_one(hf, "sector-straddles-end");
	hf_rw(hf, BLKIF_OP_READ, ~0ULL - 3, 1, 0, 0, 7);
	hf_one(hf, "sector-wraps");
	{
		struct blkif_request *req = hf_rw(hf, BLKIF_OP_READ, 0, 1, 0, 0, 7);

		req->u.rw.seg[0].gref = HF_BAD_GREF;	/* never granted */
		hf_one(hf, "invalid-gref");
	}
	{
		struct blkif_request *req = hf_rw(hf, BLKIF_OP_READ, 0, 1, 0, 0, 7);

		req->operation = 0x7f;
		hf_one(hf, "unknown-operation");
	}
	{
		struct blkif_request *req = hf_next(hf);

		req->operation = BLKIF_OP_DISCARD;
		req->u.discard.id = hf->next_id++;
		req->u.discard.sector_number = hf->sectors - 8;
		req->u.discard.nr_sectors = 1ULL << 40;
		hf_one(hf, "discard-past-end");
	}
	{
		/* Both requests in flight at once, on the same grant. */
		hf_rw(hf, BLKIF_OP_READ, 0, 1, 0, 0, 7);
		hf_rw(hf, BLKIF_OP_READ, 8, 1, 0, 0, 7);
		hf_push(hf);
		hf_collect(hf, 2, HF_WAIT_MS);
		hf_verdict(hf, "same-gref-twice-in-flight", NULL);
	}
	hf_probe_alive(hf, "control-read-after");
}

static struct blkif_request *hf_indirect(struct hf *hf, u8 inner_op, unsigned int nseg,
					 unsigned int desc_page)
{
	struct blkif_request *req = hf_next(hf);
	struct blkif_request_segment *segs = page_address(hf->pages[desc_page]);
	unsigned int i;

	/* The descriptor page: one sector from each of the first pages. */
	for (i = 0; i < KAPI_BLKIF_SEGS_PER_INDIRECT_FRAME; i++) {
		segs[i].gref = hf->refs[i % desc_page];
		segs[i].first_sect = 0;
		segs[i].last_sect = 0;
	}
	req->operation = BLKIF_OP_INDIRECT;
	req->u.indirect.indirect_op = inner_op;
	req->u.indirect.nr_segments = nseg;
	req->u.indirect.id = hf->next_id++;
	req->u.indirect.sector_number = 0;
	req->u.indirect.handle = 0;
	for (i = 0; i < KAPI_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		req->u.indirect.indirect_grefs[i] = hf->refs[desc_page];
	return req;
}

static void hf_indirects(struct hf *hf)
{
	/* pages 0..15 data, 16 the descriptor page */
	const unsigned int desc = 16;
	struct blkif_request *req;

	if (!hf->max_indirect) {
		pr_warn("XBC-HOSTILE indirect-* skipped: no feature-max-indirect-segments\n");
		return;
	}
	hf_indirect(hf, BLKIF_OP_READ, 16, desc);
	hf_one(hf, "indirect-control");
	/* One page of descriptors holds 512: the request names one too many. */
	hf_indirect(hf, BLKIF_OP_READ, hf->max_indirect + 1, desc);
	hf_one(hf, "indirect-above-max");
	hf_indirect(hf, BLKIF_OP_DISCARD, 16, desc);
	hf_one(hf, "indirect-inner-discard");
	hf_indirect(hf, BLKIF_OP_INDIRECT, 16, desc);
	hf_one(hf, "indirect-inner-indirect");
	req = hf_indirect(hf, BLKIF_OP_READ, 16, desc);
	req->u.indirect.indirect_grefs[0] = HF_BAD_GREF;
	hf_one(hf, "indirect-bad-gref");
	hf_probe_alive(hf, "indirect-control-after");
}

/* req_prod far past anything the ring can hold, nothing valid behind it. */
static void hf_overflow(struct hf *hf)
{
	unsigned int size = RING_SIZE(&hf->ring);

	hf->ring.req_prod_pvt += 10 * size;
	hf_push(hf);
	hf_collect(hf, size, 3000);
	hf_verdict(hf, "producer-overflow", NULL);
}

static void hf_write_ro(struct hf *hf)
{
	hf_rw(hf, BLKIF_OP_WRITE, 0, 1, 0, 0, 7);
	hf_one(hf, "write-read-only-vbd");
	hf_probe_alive(hf, "write-read-only-control-read");
}

static void hf_event_storm(struct hf *hf)
{
	unsigned long end = jiffies + sustain_seconds * HZ;
	unsigned long n = 0;
	char extra[48];

	pr_warn("XBC-HOSTILE-SUSTAIN event-storm start\n");
	while (time_before(jiffies, end) && !READ_ONCE(hf->gone)) {
		notify_remote_via_irq(hf->irq);
		if (!(++n & 255))
			cond_resched();
	}
	pr_warn("XBC-HOSTILE-SUSTAIN event-storm end\n");
	snprintf(extra, sizeof(extra), "events=%lu", n);
	hf_verdict(hf, "event-storm", extra);
	hf_probe_alive(hf, "event-storm-control-read");
}

/* Reads over more distinct grants than the backend keeps persistently. */
static void hf_grant_flood(struct hf *hf)
{
	unsigned long end = jiffies + sustain_seconds * HZ;
	unsigned int size = RING_SIZE(&hf->ring), page = 0, passes = 0, i;
	char extra[48];

	pr_warn("XBC-HOSTILE-SUSTAIN grant-flood start\n");
	do {
		for (page = 0; page < HF_FLOOD_PAGES && !READ_ONCE(hf->gone);) {
			unsigned int batch = 0;

			for (i = 0; i < size && page < HF_FLOOD_PAGES; i++) {
				hf_rw(hf, BLKIF_OP_READ, (u64)page * 8 % (hf->sectors - 96),
				      BLKIF_MAX_SEGMENTS_PER_REQUEST, page, 0, 7);
				page += BLKIF_MAX_SEGMENTS_PER_REQUEST;
				batch++;
			}
			hf_push(hf);
			if (hf_collect(hf, batch, HF_WAIT_MS) < batch)
				goto out;
		}
		passes++;
	} while (time_before(jiffies, end) && !READ_ONCE(hf->gone));
out:
	pr_warn("XBC-HOSTILE-SUSTAIN grant-flood end\n");
	snprintf(extra, sizeof(extra), "grants=%u passes=%u", HF_FLOOD_PAGES, passes);
	hf_verdict(hf, "grant-flood", extra);
}

/* A full ring of reads, then Closed at once. */
static void hf_inflight_close(struct hf *hf)
{
	unsigned int size = RING_SIZE(&hf->ring), i;
	bool closed;

	for (i = 0; i < size; i++)
		hf_rw(hf, BLKIF_OP_READ, (u64)i * 88, BLKIF_MAX_SEGMENTS_PER_REQUEST,
		      i * BLKIF_MAX_SEGMENTS_PER_REQUEST, 0, 7);
	hf_push(hf);
	xenbus_switch_state(hf->dev, XenbusStateClosing);
	xenbus_switch_state(hf->dev, XenbusStateClosed);
	closed = hf_wait_be(hf, BIT(XenbusStateClosed), HF_WAIT_MS);
	hf_collect(hf, size, 0);
	hf_verdict(hf, "in-flight-then-closed", closed ? "backend-closed" : "backend-not-closed");
}

/* ---- connecting, with good or bad xenstore keys ---- */

enum hf_keys {
	HF_KEYS_GOOD,
	HF_KEYS_RING_ORDER_TOO_BIG,
	HF_KEYS_RING_REF_MISSING,
	HF_KEYS_QUEUES_0,
	HF_KEYS_QUEUES_1000,
	HF_KEYS_PROTOCOL_BOGUS,
};

static int hf_write_keys(struct hf *hf, enum hf_keys keys)
{
	const char *dir = hf->dev->nodename;
	const char *proto = keys == HF_KEYS_PROTOCOL_BOGUS ? "bogus" : XEN_IO_PROTO_ABI_NATIVE;
	int err = 0;

	switch (keys) {
	case HF_KEYS_RING_ORDER_TOO_BIG:
		err = xenbus_printf(XBT_NIL, dir, "ring-page-order", "%u", hf->max_ring_order + 1);
		err = err ?: xenbus_printf(XBT_NIL, dir, "ring-ref0", "%u", hf->ring_ref);
		break;
	case HF_KEYS_RING_REF_MISSING:
		/* Two pages announced, one reference given. */
		err = xenbus_printf(XBT_NIL, dir, "ring-page-order", "%u", 1);
		err = err ?: xenbus_printf(XBT_NIL, dir, "ring-ref0", "%u", hf->ring_ref);
		break;
	case HF_KEYS_QUEUES_0:
	case HF_KEYS_QUEUES_1000:
		err = xenbus_printf(XBT_NIL, dir, "multi-queue-num-queues", "%u",
				    keys == HF_KEYS_QUEUES_0 ? 0 : 1000);
		err = err ?: xenbus_printf(XBT_NIL, dir, "ring-ref", "%u", hf->ring_ref);
		err = err ?: xenbus_printf(XBT_NIL, dir, "queue-0/ring-ref", "%u", hf->ring_ref);
		err = err ?: xenbus_printf(XBT_NIL, dir, "queue-0/event-channel", "%u", hf->evtchn);
		break;
	default:
		err = xenbus_printf(XBT_NIL, dir, "ring-ref", "%u", hf->ring_ref);
		break;
	}
	err = err ?: xenbus_printf(XBT_NIL, dir, "event-channel", "%u", hf->evtchn);
	err = err ?: xenbus_printf(XBT_NIL, dir, "protocol", "%s", proto);
	err = err ?: xenbus_printf(XBT_NIL, dir, "feature-persistent", "%u", 1);
	return err;
}

static int hf_setup(struct hf *hf, enum hf_keys keys)
{
	int err;

	err = xenbus_setup_ring(hf->dev, GFP_KERNEL, &hf->sring, 1, &hf->ring_ref);
	if (err)
		return err;
	SHARED_RING_INIT((struct blkif_sring *)hf->sring);
	FRONT_RING_INIT(&hf->ring, (struct blkif_sring *)hf->sring, XEN_PAGE_SIZE);
	err = xenbus_alloc_evtchn(hf->dev, &hf->evtchn);
	if (err)
		return err;
	err = bind_evtchn_to_irqhandler(hf->evtchn, hf_interrupt, 0, "xbc-hostile", hf);
	if (err < 0)
		return err;
	hf->irq = err;
	err = hf_write_keys(hf, keys);
	if (err)
		return err;
	return xenbus_switch_state(hf->dev, XenbusStateInitialised);
}

static const struct {
	const char *name;
	enum hf_keys keys;
} hf_key_attacks[] = {
	{ "ring-page-order-above-max", HF_KEYS_RING_ORDER_TOO_BIG },
	{ "ring-ref-count-mismatch", HF_KEYS_RING_REF_MISSING },
	{ "num-queues-0", HF_KEYS_QUEUES_0 },
	{ "num-queues-1000", HF_KEYS_QUEUES_1000 },
	{ "protocol-bogus", HF_KEYS_PROTOCOL_BOGUS },
};

static const struct {
	const char *name;
	void (*run)(struct hf *hf);
	unsigned int pages;	/* data pages to grant */
} hf_data_attacks[] = {
	{ "direct", hf_direct, 32 },
	{ "indirect", hf_indirects, 32 },
	{ "overflow", hf_overflow, 32 },
	{ "write-ro", hf_write_ro, 32 },
	{ "event-storm", hf_event_storm, 32 },
	{ "grant-flood", hf_grant_flood, HF_FLOOD_PAGES },
	{ "inflight-close", hf_inflight_close, 32 * BLKIF_MAX_SEGMENTS_PER_REQUEST },
	{ "stuck-initialised", NULL, 32 },
	{ "state-invalid", NULL, 32 },
};

static void hf_work(struct work_struct *work)
{
	struct hf *hf = container_of(work, struct hf, work);
	const char *dir = hf->dev->otherend;
	const u32 settled = BIT(XenbusStateConnected) | BIT(XenbusStateClosing) |
			    BIT(XenbusStateClosed);
	unsigned int i;
	int err;

	if (!hf_wait_be(hf, BIT(XenbusStateInitWait), 4 * HF_WAIT_MS)) {
		pr_warn("XBC-HOSTILE %s no-initwait state=%d\n", hf->attack, hf->be_state);
		goto done;
	}
	hf->max_ring_order = xenbus_read_unsigned(dir, "max-ring-page-order", 0);
	hf->max_queues = xenbus_read_unsigned(dir, "multi-queue-max-queues", 1);

	for (i = 0; i < ARRAY_SIZE(hf_key_attacks); i++) {
		if (strcmp(hf->attack, hf_key_attacks[i].name))
			continue;
		err = hf_setup(hf, hf_key_attacks[i].keys);
		if (err)
			pr_warn("XBC-HOSTILE %s setup-error=%d\n", hf->attack, err);
		hf_wait_be(hf, settled, HF_WAIT_MS);
		hf_verdict(hf, hf->attack, READ_ONCE(hf->be_state) == XenbusStateConnected ?
			   "accepted" : "refused");
		goto done;
	}

	for (i = 0; i < ARRAY_SIZE(hf_data_attacks); i++)
		if (!strcmp(hf->attack, hf_data_attacks[i].name))
			break;
	if (i == ARRAY_SIZE(hf_data_attacks)) {
		pr_warn("XBC-HOSTILE %s unknown-attack\n", hf->attack);
		goto done;
	}
	err = hf_grant_pages(hf, hf_data_attacks[i].pages);
	err = err ?: hf_setup(hf, HF_KEYS_GOOD);
	if (err) {
		pr_warn("XBC-HOSTILE %s setup-error=%d\n", hf->attack, err);
		goto done;
	}
	if (!hf_wait_be(hf, BIT(XenbusStateConnected), 4 * HF_WAIT_MS)) {
		pr_warn("XBC-HOSTILE %s not-connected state=%d\n", hf->attack, hf->be_state);
		goto done;
	}
	if (xenbus_scanf(XBT_NIL, dir, "sectors", "%llu", &hf->sectors) != 1)
		hf->sectors = 0;
	hf->max_indirect = xenbus_read_unsigned(dir, "feature-max-indirect-segments", 0);

	if (!strcmp(hf->attack, "stuck-initialised")) {
		/* Never Connected, and (see hf_backend_changed) never Closed either. */
		msleep(2000);
		hf_verdict(hf, hf->attack, "front-stays-initialised");
		goto done;
	}
	xenbus_switch_state(hf->dev, XenbusStateConnected);
	if (!strcmp(hf->attack, "state-invalid")) {
		xenbus_printf(XBT_NIL, hf->dev->nodename, "state", "%d", 99);
		hf_wait_be(hf, BIT(XenbusStateClosing) | BIT(XenbusStateClosed), HF_WAIT_MS);
		hf_verdict(hf, hf->attack, READ_ONCE(hf->be_state) == XenbusStateConnected ?
			   "ignored" : "backend-closing");
		goto done;
	}
	if (hf->sectors < 1024) {
		pr_warn("XBC-HOSTILE %s disk-too-small sectors=%llu\n", hf->attack, hf->sectors);
		goto done;
	}
	hf_data_attacks[i].run(hf);
done:
	pr_warn("XBC-HOSTILE-END %s\n", hf->attack);
}

static void hf_backend_changed(struct xenbus_device *dev, enum xenbus_state state)
{
	struct hf *hf = dev_get_drvdata(&dev->dev);

	WRITE_ONCE(hf->be_state, state);
	wake_up(&hf->wq);
	/* The one attack that never answers the backend's Closing. */
	if (!strcmp(hf->attack, "stuck-initialised"))
		return;
	if (state == XenbusStateClosing || state == XenbusStateClosed) {
		if (dev->state != XenbusStateClosed)
			xenbus_frontend_closed(dev);
	}
}

static int hf_probe(struct xenbus_device *dev, const struct xenbus_device_id *id)
{
	unsigned int vdev, slot;
	struct hf *hf;
	const char *last = strrchr(dev->nodename, '/');

	if (!last || kstrtouint(last + 1, 10, &vdev) || vdev < HF_FIRST_VDEV)
		return -ENODEV;
	slot = (vdev - HF_FIRST_VDEV) / HF_VDEV_STEP;
	if (slot >= nr_attacks)
		return -ENODEV;
	hf = kzalloc(sizeof(*hf), GFP_KERNEL);
	if (!hf)
		return -ENOMEM;
	hf->dev = dev;
	hf->attack = attacks[slot];
	init_waitqueue_head(&hf->wq);
	INIT_WORK(&hf->work, hf_work);
	hf->be_state = xenbus_read_driver_state(dev->otherend);
	dev_set_drvdata(&dev->dev, hf);
	pr_warn("XBC-HOSTILE-BEGIN %s on %s\n", hf->attack, dev->nodename);
	queue_work(hf_wq, &hf->work);
	return 0;
}

static void hf_remove(struct xenbus_device *dev)
{
	struct hf *hf = dev_get_drvdata(&dev->dev);

	WRITE_ONCE(hf->gone, true);
	wake_up(&hf->wq);
	flush_work(&hf->work);
	hf_release(hf);
	kfree(hf);
}

static const struct xenbus_device_id hf_ids[] = {
	{ "vbd" },
	{ "" }
};

static struct xenbus_driver hf_driver = {
	.name = "xbc-hostile-vbd",
	.ids = hf_ids,
	.probe = hf_probe,
	.remove = hf_remove,
	.otherend_changed = hf_backend_changed,
};

static int __init hf_init(void)
{
	int err;

	if (!xen_domain())
		return -ENODEV;
	hf_wq = alloc_workqueue("xbc-hostile", WQ_UNBOUND, 0);
	if (!hf_wq)
		return -ENOMEM;
	err = xenbus_register_frontend(&hf_driver);
	if (err)
		destroy_workqueue(hf_wq);
	return err;
}
module_init(hf_init);

static void __exit hf_exit(void)
{
	xenbus_unregister_driver(&hf_driver);
	destroy_workqueue(hf_wq);
}
module_exit(hf_exit);

MODULE_DESCRIPTION("Hostile blkif frontend, for xen-blkcxx tests only");
MODULE_LICENSE("GPL");
