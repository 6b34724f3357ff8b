# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Sourced by dom0.sh: the cells with front=hostile (issue 9). One hostile
# domU (/hostile-front-init: tests/hostile/front instead of blkfront) attacks the
# backend of the cell, one attack per vbd, while a well-behaved neighbour
# domU (in-tree blkfront, /bench-init) runs fio randread on its own disk:
# alone, during the attack, alone again, back to back. Output in
# out/scenario-<idx>/: hostile.txt (verdicts, detach and unload results,
# telemetry; read by scripts/e2e/hostile-front-report), dom0-dmesg.txt.
# The bar (docs/hostile-frontend.md) fails the cell only for our backend;
# the in-tree backend's misses are recorded, not asserted.

# One attack per vbd, xvda first. write-ro's vbd is attached read-only.
hostile_front_attacks=(direct indirect overflow write-ro event-storm grant-flood inflight-close
	stuck-initialised state-invalid ring-page-order-above-max ring-ref-count-mismatch
	num-queues-0 num-queues-1000 protocol-bogus)
hostile_sustain=45	# seconds of event storm and grant flood (outlast the neighbour's run)
hostile_nb_runtime=12	# seconds of each neighbour fio phase (plus 2 s ramp)

run_hostile_front() {
	local idx=$1 back=$3 fp_back=$5 domu_kernel=${10} domu_initrd=${11}
	fails=()
	fail() { fails+=("$*"); say "scenario $idx: FAIL: $*"; }
	# The bar binds our backend; for in-tree a miss is a finding.
	bar() { if [ "$back" = ours ]; then fail "$*"; else note "in-tree: $*"; fi; }
	local sdir=$out/scenario-$idx t0=$SECONDS
	local report=$sdir/hostile.txt
	mkdir -p "$sdir"
	: > "$report"
	note() { echo "note $*" >> "$report"; say "scenario $idx: $*"; }
	echo "back $back" >> "$report"
	say "scenario $idx: hostile frontend against $back blkback (${#hostile_front_attacks[@]} attacks)"
	dmesg -C

	case "$back" in
	intree) modprobe xen-blkback feature_persistent="$fp_back" max_queues=4 || fail "modprobe xen-blkback failed" ;;
	ours) insmod "$BACK_KO" feature_persistent="$fp_back" max_queues=4 || fail "insmod $BACK_KO failed" ;;
	*) fail "hostile cells take back=intree or back=ours, not $back" ;;
	esac

	# The hostile vbds share one 64 MiB loop device over tmpfs (discard
	# works on it; libxl lets one domain use a device several times).
	local img=/run/xbc-hostile-$idx.img loopdev
	truncate -s 64M "$img"
	modprobe loop
	loopdev=$(losetup -f --show "$img") || fail "losetup failed"
	# The neighbour reads the first 64 MiB of ram0: make them real pages.
	dd if=/dev/zero of=/dev/ram0 bs=1M count=64 oflag=direct 2>/dev/null
	set_token /dev/ram0 none

	local nb=xbc-$idx-nb dom=xbc-$idx
	cat > "/run/$nb.cfg" <<EOF
name = "$nb"
type = "pv"
kernel = "$domu_kernel"
ramdisk = "$domu_initrd"
extra = "console=hvc0 loglevel=4 rdinit=/bench-init xbc_front=intree xbc_fp=1 xbc_wls=randread4k,randread4k,randread4k xbc_ramp=2 xbc_runtime=$hostile_nb_runtime"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ 'format=raw,vdev=xvda,access=rw,target=/dev/ram0',
         'format=raw,vdev=xvdb,access=ro,target=/dev/ram1' ]
EOF
	# (libxl's block script takes longer than libxl waits for 14 disks at once.)
	local disks='' i=0 a access letters=abcdefghijklmnopqrstuvwxyz hotplug
	hotplug=$(cd "$(dirname "$0")" && pwd)/light-hotplug
	for a in "${hostile_front_attacks[@]}"; do
		access=rw
		[ "$a" = write-ro ] && access=ro
		disks+="${disks:+, }'format=raw,vdev=xvd${letters:i:1},access=$access,script=$hotplug,target=$loopdev'"
		i=$((i + 1))
	done
	local list
	list=$(IFS=,; echo "${hostile_front_attacks[*]}")
	cat > "/run/$dom.cfg" <<EOF
name = "$dom"
type = "pv"
kernel = "$domu_kernel"
ramdisk = "$domu_initrd"
extra = "console=hvc0 loglevel=5 printk.time=0 rdinit=/hostile-front-init xbc_attacks=$list xbc_sustain=$hostile_sustain"
memory = 192
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ $disks ]
EOF
	cp "/run/$nb.cfg" "$sdir/neighbour.cfg"
	cp "/run/$dom.cfg" "$sdir/hostile.cfg"

	# wait_marker reads the domain and its console from $dom and $glog.
	local nb_log=$out/console/guest-$nb.log hostile_log=$out/console/guest-$dom.log
	wait_nb() { local dom=$nb glog=$nb_log; wait_marker "$@"; }
	wait_hostile() { local glog=$hostile_log; wait_marker "$@"; }

	# Phase 1: the neighbour alone.
	ln -sf "../console/guest-$nb.log" "$sdir/neighbour-console.log"
	ln -sf "../console/guest-$dom.log" "$sdir/guest-console.log"
	if [ ${#fails[@]} -eq 0 ] && timeout $((300 * slow)) xl create "/run/$nb.cfg" > "$sdir/xl-create-nb.log" 2>&1 &&
	   wait_nb "XBC-BENCH-WAIT 1" 300; then
		set_token /dev/ram0 "go 1"
		wait_nb "XBC-BENCH-DONE 1 " 300 || fail "neighbour: alone phase never finished"
	else
		fail "neighbour domU did not come up: $(tail -2 "$sdir/xl-create-nb.log" | tr '\n' ' ')"
	fi

	# Phase 2: the attack. The neighbour's second run starts once the
	# hostile domU's sustained attacks (event storm, grant flood) have begun.
	local ta=$SECONDS
	if [ ${#fails[@]} -eq 0 ]; then
		if timeout $((300 * slow)) xl create "/run/$dom.cfg" > "$sdir/xl-create.log" 2>&1; then
			echo "create $((SECONDS - ta))" >> "$report"
			say "scenario $idx: hostile domU created in $((SECONDS - ta)) s"
		else
			fail "xl create of the hostile domU failed: $(grep -iE 'error|fail' "$sdir/xl-create.log" | head -2 | tr '\n' ' ')"
		fi
	fi
	if [ ${#fails[@]} -eq 0 ]; then
		wait_hostile "XBC-HOSTILE-SUSTAIN" 300 || note "no sustained attack started"
		set_token /dev/ram0 "go 2"
		wait_nb "XBC-BENCH-DONE 2 " 300 || bar "neighbour: its fio run during the attack never finished"
		# Did the sustained attacks outlast the neighbour's measurement?
		local ended
		ended=$(tr -d '\r' < "$hostile_log" | grep -ac 'XBC-HOSTILE-SUSTAIN .* end')
		echo "overlap $([ "$ended" = 0 ] && echo full || echo "partial ($ended of 2 sustained attacks ended first)")" >> "$report"
		wait_hostile "XBC-HOSTILE-ALL-DONE" 300 || note "the hostile domU never finished its attacks"
		tr -d '\r' < "$hostile_log" | grep -ao 'XBC-HOSTILE [^ ].*' | sed 's/^XBC-HOSTILE /verdict /' >> "$report"
	fi

	# The neighbour's device set-up while the hostile vbds are still there
	# (some stuck): a further disk connects and goes (xenwatch not stalled).
	if [ ${#fails[@]} -eq 0 ]; then
		local nbid ts2 st=absent
		nbid=$(xl domid "$nb" 2>/dev/null)
		ts2=$SECONDS
		if timeout $((120 * slow)) xl block-attach "$nb" 'format=raw,vdev=xvdc,access=ro,target=/dev/ram1' > "$sdir/xl-nb-attach.log" 2>&1; then
			while [ $((SECONDS - ts2)) -lt $((60 * slow)) ]; do
				st=$(xs "/local/domain/0/backend/vbd/$nbid/51744/state")
				[ "$st" = 4 ] && break
				sleep 1
			done
		fi
		echo "nb-setup $([ "$st" = 4 ] && echo connected || echo "FAIL state $st") $((SECONDS - ts2))" >> "$report"
		[ "$st" = 4 ] || bar "the neighbour's new disk did not connect while the hostile vbds were attached (state $st)"
		timeout $((120 * slow)) xl block-detach "$nb" xvdc >> "$sdir/xl-nb-attach.log" 2>&1 ||
			bar "the neighbour's new disk did not detach"
	fi

	# Detach every hostile vbd: each must go, whatever state it was left in.
	local domid v ts
	domid=$(xl domid "$dom" 2>/dev/null || true)
	echo "domid ${domid:-none}" >> "$report"
	if [ -n "$domid" ]; then
		i=0
		for a in "${hostile_front_attacks[@]}"; do
			v=xvd${letters:i:1}
			i=$((i + 1))
			ts=$SECONDS
			if timeout $((120 * slow)) xl block-detach "$dom" "$v" >> "$sdir/xl-detach.log" 2>&1; then
				echo "detach $a ok $((SECONDS - ts))" >> "$report"
				continue
			fi
			# libxl's safe detach waits for the guest to let go, which
			# stuck-initialised never does; then only a forced one can work.
			[ "$a" = stuck-initialised ] ||
				bar "xl block-detach $v ($a) failed: $(tail -1 "$sdir/xl-detach.log")"
			if timeout $((120 * slow)) xl block-detach -f "$dom" "$v" >> "$sdir/xl-detach.log" 2>&1; then
				echo "detach $a refused,forced-ok $((SECONDS - ts))" >> "$report"
			else
				echo "detach $a refused,forced-FAIL $((SECONDS - ts))" >> "$report"
				bar "xl block-detach -f $v ($a) failed: $(tail -1 "$sdir/xl-detach.log")"
			fi
		done
	fi

	# Phase 3: the neighbour alone again.
	if [ ${#fails[@]} -eq 0 ]; then
		set_token /dev/ram0 "go 3"
		wait_nb "XBC-BENCH-DONE 3 " 300 || fail "neighbour: second alone phase never finished"
	fi
	xl destroy "$dom" > /dev/null 2>&1
	xl destroy "$nb" > /dev/null 2>&1
	local deadline=$((SECONDS + 120 * slow))
	while compgen -G '/sys/bus/xen-backend/devices/vbd-*' > /dev/null && [ $SECONDS -lt $deadline ]; do sleep 1; done
	compgen -G '/sys/bus/xen-backend/devices/vbd-*' > /dev/null && bar "vbds left in dom0 120 s after the domains were destroyed: $(ls /sys/bus/xen-backend/devices | tr '\n' ' ')"

	# Our blkback logs its grant totals at every disconnect: nothing may stay mapped.
	if [ "$back" = ours ]; then
		dmesg | grep -a 'disconnected: grants' > "$sdir/telemetry-at-disconnect.txt"
		echo "telemetry $(wc -l < "$sdir/telemetry-at-disconnect.txt") disconnects, $(grep -avc ' mapped 0$' "$sdir/telemetry-at-disconnect.txt") with grants mapped" >> "$report"
		[ -s "$sdir/telemetry-at-disconnect.txt" ] || fail "our blkback logged no grant telemetry at disconnect"
		grep -av ' mapped 0$' "$sdir/telemetry-at-disconnect.txt" | grep -q . &&
			fail "grants still mapped at disconnect: $(grep -av ' mapped 0$' "$sdir/telemetry-at-disconnect.txt" | head -1)"
	fi
	sleep 1
	if rmmod xen_blkback; then
		echo "rmmod ok" >> "$report"
	else
		echo "rmmod FAIL" >> "$report"
		bar "rmmod xen_blkback failed"
	fi
	losetup -d "$loopdev" 2>/dev/null
	rm -f "$img"
	dmesg > "$sdir/dom0-dmesg.txt"
	local bad
	bad=$(grep -aE "$warn_re" "$sdir/dom0-dmesg.txt" | head -3 | tr '\n' '|')
	echo "dmesg ${bad:-clean}" >> "$report"
	[ -z "$bad" ] || bar "dom0 dmesg: $bad"
	echo "seconds $((SECONDS - t0))" >> "$report"
	report_result "$idx"
	say "scenario $idx: done in $((SECONDS - t0)) s"
	sync
}
