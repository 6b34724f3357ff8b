# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=sh
# Sourced by scripts/bench's dom0 (bench-dom0.sh) and domU (/bench-init):
# counts the block driver's event-channel traffic on this side, the same way
# for the in-tree and our drivers. Sent: a kprobe on notify_remote_via_irq
# (both drivers' only way to signal the peer; one EVTCHNOP_send hypercall
# each) with a hist trigger keyed by irq. Received: /proc/interrupts. Both
# are summed over the irqs whose /proc/interrupts name contains "blkif"
# ("blkif" for both frontends, "blkif-backend" for both backends).
# cpu_busy_ticks: this domain's busy CPU time (user, nice, system, irq,
# softirq; not idle, iowait or steal) in USER_HZ ticks from /proc/stat. Under
# icount that is virtual time the domain spent executing (its own and Xen's
# instructions on its behalf): where a request's instructions go, per side.

evtchn_probe_setup() {	# -> 0 if the send probe is in place
	evt=/sys/kernel/tracing
	[ -e $evt/kprobe_events ] || mount -t tracefs nodev $evt || return 1
	echo 'p:xbcev/notify notify_remote_via_irq irq=%di:s32' >> $evt/kprobe_events &&
		echo 'hist:keys=irq:vals=hitcount' > $evt/events/xbcev/notify/trigger &&
		echo 1 > $evt/events/xbcev/notify/enable
}

evtchn_counts() {	# -> "sent received" ("-" for sent without the probe)
	evh=/sys/kernel/tracing/events/xbcev/notify/hist
	[ -r $evh ] || evh=
	awk 'NR == FNR {
		if ($0 ~ /blkif/) {
			irq = $1; sub(":", "", irq); blk[irq] = 1
			for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) rx += $i
		}
		next
	}
	/^\{ irq:/ { probed = 1; if ($3 in blk) tx += $6 }
	/^# event histogram/ { probed = 1 }
	END { printf "%s %d", probed ? sprintf("%d", tx) : "-", rx }' \
		/proc/interrupts $evh
}

cpu_busy_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}
