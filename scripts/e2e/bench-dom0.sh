#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs in dom0 for scripts/bench (started by dom0-stage1 via switch_root).
# Brings up the toolstack (dom0-lib.sh), prefills the data disks, puts
# kprobes with hist triggers on gnttab_map_refs and gnttab_unmap_refs, then
# runs each cell of the plan: load the cell's backend, start its guests (each
# on its own data disk, /bench-init in the domU), give them the go for each
# workload together, and count the grant calls and operations and the
# backend's requests and the blkif event channels' notifications sent and
# interrupts received (evtchn-count.sh) around each workload. Plan line:
#   idx front back fp nguests workload,workload,...
# Output on the 9p share "out": bench-stats (one STAT line per cell and
# workload), results (RESULT <idx> ok|fail <reason>, then DONE).
set -u
export PATH=/usr/lib/xen-4.17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# shellcheck source=dom0-lib.sh
. "$(dirname "$0")/dom0-lib.sh"	# env: E2E_DIR DOMU_KERNEL DOMU_INITRD BACK_KO SLOW RAMP RUNTIME
# shellcheck source=evtchn-count.sh
. "$(dirname "$0")/evtchn-count.sh"

# ram1 carries the tools image; guests 1..4 get ram0, ram2, ram3, ram4. Their
# first 101 MiB (fio's 64 MiB and the token block at 100 MiB) are written
# once, so reads hit real pages and no cell allocates brd pages.
ram_disks 5
data_disks=(/dev/ram0 /dev/ram2 /dev/ram3 /dev/ram4)
max_guests=$(awk 'max < $5 { max = $5 } END { print max }' "$plan_dir/plan")
for d in "${data_disks[@]:0:max_guests}"; do
	dd if=/dev/zero of="$d" bs=1M count=101 oflag=direct 2>/dev/null
done

intree_back=$(find "/lib/modules/$(uname -r)/kernel/drivers/block/xen-blkback" -name 'xen-blkback.ko*' | head -1)
say "toolstack up; in-tree blkback $intree_back, ours ${BACK_KO:-none}"

# Grant calls and operations, counted the same way for both backends: a
# kprobe on each grant-table entry point (count = the 4th argument, %cx) and
# a hist trigger keyed by count. (Debian's kernels lack the function profiler.)
T=/sys/kernel/tracing
[ -e $T/kprobe_events ] || mount -t tracefs nodev $T
echo 256 > $T/buffer_size_kb
probes_ok=yes
[ "${PROBES:-yes}" = yes ] || probes_ok=no
for p in $([ $probes_ok = yes ] && echo map unmap); do
	{ echo "p:xbc/$p gnttab_${p}_refs count=%cx:u32" >> $T/kprobe_events &&
	  echo 'hist:keys=count:vals=hitcount' > "$T/events/xbc/$p/trigger" &&
	  echo 1 > "$T/events/xbc/$p/enable"; } || probes_ok=no
done
say "grant probes: $probes_ok"
ev_probe=$probes_ok
[ $ev_probe = no ] || evtchn_probe_setup || ev_probe=no
say "event-channel send probe: $ev_probe"
probe_sum() {	# map|unmap -> "calls ops"
	if [ $probes_ok = yes ]; then
		awk '/^\{ count:/ { calls += $6; ops += $3 * $6 } END { printf "%d %d", calls, ops }' "$T/events/xbc/$1/hist"
	else
		echo "- -"
	fi
}

# With icount sleep=off, guest time jumps ahead whenever every vCPU idles,
# so libxl's hotplug scripts time out in xl create and in teardown. A
# low-priority spinner on one dom0 vCPU prevents that; it runs only during
# xl create and teardown, never while fio measures.
spinner=
spin() {	# on|off
	if [ "$1" = on ] && [ -z "$spinner" ]; then
		nice -n 19 bash -c 'while :; do :; done' &
		spinner=$!
	elif [ "$1" = off ] && [ -n "$spinner" ]; then
		kill "$spinner"
		wait "$spinner" 2>/dev/null
		spinner=
	fi
}

# Backend requests and our backend's grant counters, summed over every vbd
# of the given domids -> "reqs ours_maps ours_unmaps"
vbd_sum() {
	local reqs=0 maps=- unmaps=- id d
	for id in "$@"; do
		for d in /sys/bus/xen-backend/devices/vbd-"$id"-*; do
			[ -d "$d" ] || continue
			reqs=$((reqs + $(cat "$d/statistics/rd_req") + $(cat "$d/statistics/wr_req")))
			if [ -d "$d/persistent_grants" ]; then
				maps=$(( ${maps/-/0} + $(cat "$d/persistent_grants/maps") ))
				unmaps=$(( ${unmaps/-/0} + $(cat "$d/persistent_grants/unmaps") ))
			fi
		done
	done
	echo "$reqs $maps $unmaps"
}
snapshot() { echo "$(probe_sum map) $(probe_sum unmap) $(vbd_sum "$@") $(evtchn_counts) $(cpu_busy_ticks)"; }
delta() {	# "before" "after" -> fieldwise after - before ("-" stays "-")
	local -a b a
	local i r=()
	read -ra b <<< "$1"
	read -ra a <<< "$2"
	for i in "${!a[@]}"; do
		if [ "${a[i]}" = - ] || [ "${b[i]}" = - ]; then r+=(-); else r+=($((a[i] - b[i]))); fi
	done
	echo "${r[*]}"
}

# Sets $sectors to the sectors read and written so far on each guest's data
# disk (xvda, vbd device 51712), in the order of the given domids, and
# $sectors_us to the time of reading them (microseconds, the midpoint).
# Shell builtins only: a fork between reading the clock and the counters
# would put dom0's scheduling delay into the measured window.
read_sectors() {	# domid...
	local id st r w t=${EPOCHREALTIME/./}
	sectors=
	for id in "$@"; do
		st=/sys/bus/xen-backend/devices/vbd-$id-51712/statistics
		read -r r < "$st/rd_sect" && read -r w < "$st/wr_sect" || r=0 w=0
		sectors+="$((r + w)) "
	done
	sectors_us=$(( (t + ${EPOCHREALTIME/./}) / 2 ))
}
# Whether every guest's fio moved its disk between two read_sectors: by more
# than 512 sectors, which fio passes in well under 0.1 s in every workload
# and a guest polling its go token (8 sectors every 0.1 s) does not.
all_moving() {	# "after" "before"
	local -a a b
	local i
	read -ra a <<< "$1"
	read -ra b <<< "$2"
	for i in "${!b[@]}"; do [ "${a[i]:-0}" -gt $((b[i] + 512)) ] || return 1; done
}

# Several guests: each guest's fio times its own run, and the guests start
# up to a poll apart, so summing their IOPS counts time when some run alone.
# dom0 measures instead: once every guest's disk moves, it waits out the
# ramp, reads each data disk's sectors over exactly $RUNTIME seconds, and
# checks that every guest was still moving after the window closed. The
# guests run fio $overrun s longer for that, a margin over their start skew
# (one 0.1 s poll) and dom0's late wake-ups (up to 0.15 s seen with four
# guests keeping both CPUs busy). Appends
#   WINDOW idx k workload guests front back fp: window_ns sectors_g1 ... sectors_gN
overlap_window() {	# idx k wl n front back fp domid...
	local idx=$1 k=$2 wl=$3 n=$4 front=$5 back=$6 fp=$7
	shift 7
	local start t0 t1 a b deadline=$((SECONDS + 20 * slow))
	read_sectors "$@"
	start=$sectors
	until read_sectors "$@"; all_moving "$sectors" "$start"; do
		[ $SECONDS -lt $deadline ] || { echo "not every guest started workload $k ($wl) within 20 s"; return 1; }
		sleep 0.1
	done
	sleep "$RAMP"
	read_sectors "$@"
	a=$sectors t0=$sectors_us
	sleep "$RUNTIME"
	read_sectors "$@"
	b=$sectors t1=$sectors_us
	sleep 0.1
	read_sectors "$@"
	all_moving "$sectors" "$b" ||
		{ echo "workload $k ($wl): a guest stopped before the window closed (sectors $b, then $sectors)"; return 1; }
	echo "WINDOW $idx $k $wl $n $front $back $fp $(((t1 - t0) * 1000)) $(delta "$a" "$b")" >> "$out/bench-stats"
}

run_cell() {
	local idx=$1 front=$2 back=$3 fp=$4 n=$5 wls=$6
	local fails=() g k wl domids=() doms=() overrun=0 why
	[ "$n" -gt 1 ] && overrun=2
	# ours+NAME=VALUE: our blkfront with one extra parameter.
	local fparam=
	case $front in *+*) fparam=${front#*+} ;; esac
	fail() { fails+=("$*"); say "cell $idx: FAIL: $*"; }
	say "cell $idx: front=$front back=$back fp=$fp/$fp guests=$n workloads=$wls"
	dmesg -C
	# ours-copy / ours-map: our backend with grant_copy=1 / =0, so both
	# data paths can share one run; plain ours keeps the module's default.
	local ko=$intree_back extra=
	case $back in
	ours) ko=${BACK_KO:-} ;;
	ours-copy) ko=${BACK_KO:-} extra=grant_copy=1 ;;
	ours-map) ko=${BACK_KO:-} extra=grant_copy=0 ;;
	esac
	# shellcheck disable=SC2086 # $extra: zero or one word
	insmod "$ko" feature_persistent="$fp" max_queues=4 $extra || fail "insmod $ko $extra failed"
	spin on
	for g in $(seq 1 "$n"); do
		dom=xbcb-$idx-$g
		doms+=("$dom")
		set_token "${data_disks[g - 1]}" none
		cat > "/run/$dom.cfg" <<CFG
name = "$dom"
type = "pv"
kernel = "$DOMU_KERNEL"
ramdisk = "$DOMU_INITRD"
extra = "console=hvc0 loglevel=4 rdinit=/bench-init xbc_front=${front%%+*} xbc_fparam=$fparam xbc_fp=$fp xbc_wls=$wls xbc_ramp=$RAMP xbc_runtime=$RUNTIME xbc_overrun=$overrun xbc_probes=${PROBES:-yes} xbc_cell=$idx"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ 'format=raw,vdev=xvda,access=rw,target=${data_disks[g - 1]}',
         'format=raw,vdev=xvdb,access=ro,target=/dev/ram1' ]
CFG
		[ ${#fails[@]} -eq 0 ] || break
		timeout $((300 * slow)) xl create "/run/$dom.cfg" > "$out/bench/$dom-create.log" 2>&1 ||
			fail "xl create $dom failed: $(grep -iE 'error|fail' "$out/bench/$dom-create.log" | head -2 | tr '\n' ' ')"
		domids+=("$(xl domid "$dom" 2>/dev/null)")
	done
	# xl create returns after the hotplug scripts ran: the guests boot
	# without the spinner taking half of QEMU's time.
	spin off
	for dom in "${doms[@]}"; do
		[ ${#fails[@]} -eq 0 ] || break
		glog=$out/console/guest-$dom.log
		wait_marker "XBC-BENCH-WAIT 1" 600 || fail "$dom never became ready: $(glines | grep -a 'XBC-CHECK.*FAIL\|XBC-BENCH-FAIL' | head -2 | tr '\n' ' ')"
	done
	k=0
	for wl in ${wls//,/ }; do
		k=$((k + 1))
		[ ${#fails[@]} -eq 0 ] || break
		local before after
		before=$(snapshot "${domids[@]}")
		for g in $(seq 1 "$n"); do set_token "${data_disks[g - 1]}" "go $k"; done
		if [ "$n" -gt 1 ]; then
			why=$(overlap_window "$idx" "$k" "$wl" "$n" "$front" "$back" "$fp" "${domids[@]}") || fail "$why"
		else
			# Stay off the CPU while fio measures (polling costs dom0 instructions).
			sleep $((RAMP + RUNTIME))
		fi
		for dom in "${doms[@]}"; do
			glog=$out/console/guest-$dom.log
			wait_marker "XBC-BENCH-DONE $k " 900 || { fail "$dom: workload $k ($wl) never finished"; break; }
		done
		after=$(snapshot "${domids[@]}")
		# STAT idx k workload guests front back fp: map_calls map_ops unmap_calls unmap_ops reqs ours_maps ours_unmaps
		#   back_notifies back_irqs dom0_busy_ticks
		echo "STAT $idx $k $wl $n $front $back $fp $(delta "$before" "$after")" >> "$out/bench-stats"
	done
	spin on
	for dom in "${doms[@]}"; do
		glog=$out/console/guest-$dom.log
		[ ${#fails[@]} -eq 0 ] && ! wait_marker XBC-BENCH-FIN 300 && fail "$dom never finished"
		xl destroy "$dom" > /dev/null 2>&1
	done
	local deadline=$((SECONDS + 120 * slow))
	while compgen -G '/sys/bus/xen-backend/devices/vbd-*' > /dev/null && [ $SECONDS -lt $deadline ]; do sleep 1; done
	rmmod xen_blkback || fail "rmmod xen_blkback failed"
	spin off
	check_dmesg "$out/bench/cell-$idx-dmesg.txt"
	report_result "$idx"
	say "cell $idx: done"
	sync
}

mkdir -p "$out/bench"
run_plan run_cell
