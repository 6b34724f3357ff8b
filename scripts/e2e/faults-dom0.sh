# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Sourced by dom0.sh: dom0's side of the faults cells (topo "faults", issue
# 8; docs/faults.md). One cell runs one backend/frontend pair through four
# faults with two domUs side by side, the domU side being
# scripts/e2e/faults-domu-init:
#   domU xbc-<n>-d (role=destroy): fio verifying on xvda; dom0 xl-destroys it
#     mid-I/O (fault 2). Its backends must go within 60 s, the domain must not
#     linger as a zombie (a page still mapped by dom0 keeps it), and ours must
#     log "mapped 0".
#   domU xbc-<n> (role=a), one fault after the other:
#     1. its xvda is a dm linear target over the data disk; under fio dom0
#        swaps in the error target (suspend/load/resume): fio must end on EIO
#        within 60 s, then dom0 swaps linear back and the domU checks a region
#        it synced before the fault;
#     3. FAULT_CYCLES (topo faults-full: 50, faults: 5) block-attach/detach cycles of xvdc (another
#        dm linear target) in lock step with the domU, while fio verifies on
#        xvda;
#     4. FAULT_RELOADS (faults-full: 20, faults: 5) unbind + rmmod + insmod of blkfront with
#        its disks attached (the domU does these alone);
#   then the usual detach, and the unload of blkback (the module must go).
# dom0's dmesg and both domU consoles must be free of warnings; every
# disconnect our blkback logs must say "mapped 0".
# Plan line: as run_scenario's, plus the topo.

export DM_DISABLE_UDEV=1	# no udev in dom0: dmsetup makes the /dev/mapper nodes itself

# Swaps the table of dm device $1 (suspend waits for the I/O in flight).
dm_swap() {	# name table
	dmsetup suspend "$1" && dmsetup load "$1" --table "$2" && dmsetup resume "$1"
}

# Writes the config of a faults domU to /run/<name>.cfg.
faults_cfg() {	# name vcpus role xvda-target
	cat > "/run/$1.cfg" <<EOF
name = "$1"
type = "pv"
kernel = "$domu_kernel"
ramdisk = "$domu_initrd"
extra = "console=hvc0 loglevel=4 rdinit=/faults-init xbc_front=$front xbc_fp=$fp_front xbc_mq=$mq xbc_rpo=$rpo xbc_ind=$ind xbc_role=$3 xbc_cycles=$fault_cycles xbc_reloads=$fault_reloads"
memory = 256
vcpus = $2
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ 'format=raw,vdev=xvda,access=rw,target=$4',
         'format=raw,vdev=xvdb,access=ro,target=/dev/ram1' ]
EOF
	cp "/run/$1.cfg" "$sdir/$1.cfg"
}

# The domU's own verdicts and its console's warnings, for domain $dom / $glog.
# One in-tree failure is reported, not failed (docs/faults.md): the in-tree
# blkfront, once unbound, never announces itself to the backend again, so a
# reload leaves its disks gone (shared/docs/xen-under-qemu.md saw it too).
domu_verdicts() {	# what
	local line gbad
	while read -r line; do
		case "$front:$line" in
		"intree:fault-reload FAIL reload 1: xvda/xvdb did not come back"*)
			say "scenario $idx: KNOWN in-tree defect, reported, not failed: $line"
			echo "$line" >> "$sdir/known-intree-defects.txt" ;;
		*) fail "$1: domU $line" ;;
		esac
	done < <(glines | grep -a '^XBC-CHECK .* FAIL' | sed 's/^XBC-CHECK //')
	gbad=$(glines | grep -aE "$warn_re" | grep -v '^XBC-' | head -3 | tr '\n' '|')
	[ -z "$gbad" ] || fail "$1: domU console: $gbad"
}

run_faults() {
	idx=$1 front=$2 back=$3 fp_front=$4 fp_back=$5 vcpus=$6 mq=$7 rpo=$8 ind=$9
	domu_kernel=${10} domu_initrd=${11}
	# Issue 8's counts take about 10 minutes per cell under TCG (a hotplug
	# cycle about 7 s); the default run does a tenth of the cycles.
	fault_cycles=50 fault_reloads=20
	[ "${12}" = faults ] && fault_cycles=5 fault_reloads=5
	fault_cycles=${FAULT_CYCLES:-$fault_cycles} fault_reloads=${FAULT_RELOADS:-$fault_reloads}
	fails=()
	fail() { fails+=("$*"); say "scenario $idx: FAIL: $*"; }
	sdir=$out/scenario-$idx
	mkdir -p "$sdir"
	say "scenario $idx: faults, front=$front back=$back fp=$fp_front/$fp_back vcpus=$vcpus, $fault_cycles hotplug cycles, $fault_reloads reloads"
	dmesg -C
	local t0=$SECONDS ta be_mod=xen_blkback
	case "$back" in
	intree) modprobe xen-blkback feature_persistent="$fp_back" max_queues=4 || fail "modprobe xen-blkback failed" ;;
	ours) insmod "$BACK_KO" feature_persistent="$fp_back" max_queues=4 || fail "insmod ${BACK_KO:-(no BACK_KO)} failed" ;;
	*) fail "faults cells need back=intree or back=ours, not $back" ;;
	esac

	# Three dm linear targets over the data disk: xvda of domU a, the
	# hotplugged xvdc, and xvda of the destroyed domU.
	modprobe dm-mod
	local sz_a=163840 sz_c=32768 sz_d=65536	# sectors: 80 + 16 + 32 MiB
	local lin_a="0 $sz_a linear $data_disk 0"
	dmsetup create xbcf-a --table "$lin_a" &&
	dmsetup create xbcf-c --table "0 $sz_c linear $data_disk $sz_a" &&
	dmsetup create xbcf-d --table "0 $sz_d linear $data_disk $((sz_a + sz_c))" ||
		fail "dmsetup create failed"
	# What xvdc must read in every cycle.
	dd if=/dev/urandom of=/dev/mapper/xbcf-c bs=4k count=1 oflag=direct 2>/dev/null

	local doma=xbc-$idx domd=xbc-$idx-d
	faults_cfg "$doma" "$vcpus" a /dev/mapper/xbcf-a
	faults_cfg "$domd" 1 destroy /dev/mapper/xbcf-d
	local d
	for d in "$doma" "$domd"; do
		ln -sf "../console/guest-$d.log" "$sdir/guest-console-$d.log"
		[ ${#fails[@]} -eq 0 ] || break
		timeout $((300 * slow)) xl -v create "/run/$d.cfg" > "$sdir/xl-create-$d.log" 2>&1 ||
			fail "xl create $d failed: $(grep -iE 'error|fail' "$sdir/xl-create-$d.log" | head -2 | tr '\n' ' ')"
	done
	say "scenario $idx: domains created in $((SECONDS - t0)) s"
	local ida idd
	ida=$(xl domid "$doma" 2>/dev/null || true)
	idd=$(xl domid "$domd" 2>/dev/null || true)

	# --- fault 2: xl destroy mid-I/O.
	dom=$domd glog=$out/console/guest-$domd.log
	if [ -n "$idd" ]; then
		if wait_marker XBC-F2-DESTROY-ME 600; then
			glines | grep -aq '^XBC-F2-DESTROY-ME fio-running' || fail "fault 2: fio was not running in $domd"
			sleep 2
			domu_verdicts "fault 2"
			ta=$SECONDS
			xl destroy "$domd" > "$sdir/xl-destroy.log" 2>&1 || fail "fault 2: xl destroy failed: $(tail -1 "$sdir/xl-destroy.log")"
			# Gone means: no backend in xenstore, no backend device in sysfs,
			# and no domain left dying (dom0 still mapping its pages keeps it).
			local gone=no
			while [ $((SECONDS - ta)) -lt $((60 * slow)) ]; do
				if [ "$(xs "/local/domain/0/backend/vbd/$idd/51712")" = absent ] &&
				   [ "$(xs "/local/domain/0/backend/vbd/$idd/51728")" = absent ] &&
				   ! ls -d /sys/bus/xen-backend/devices/vbd-"$idd"-* >/dev/null 2>&1 &&
				   ! xl list | awk -v id="$idd" '$2 == id { f = 1 } END { exit !f }'; then
					gone=yes; break
				fi
				sleep 1
			done
			xl list > "$sdir/xl-list-after-destroy.txt" 2>&1
			if [ "$gone" = yes ]; then
				say "scenario $idx: fault 2: domain $idd and its vbds gone $((SECONDS - ta)) s after xl destroy"
			else
				fail "fault 2: 60 s after xl destroy of domain $idd: backend $(xs "/local/domain/0/backend/vbd/$idd/51712/state"), sysfs $(ls -d /sys/bus/xen-backend/devices/vbd-"$idd"-* 2>/dev/null | tr '\n' ' '), xl list $(xl list | awk -v id="$idd" '$2 == id' | tr -s ' ')"
			fi
			if [ "$back" = ours ]; then
				local l
				for d in 51712 51728; do
					l=$(dmesg | grep -a "backend/vbd/$idd/$d: disconnected: grants" | tail -1)
					say "scenario $idx: fault 2: ${l:-no disconnect line for $d}"
					case "$l" in
					*' mapped 0') ;;
					'') fail "fault 2: our blkback logged no disconnect for vbd $idd/$d" ;;
					*) fail "fault 2: grants still mapped after destroy: $l" ;;
					esac
				done
			fi
		else
			fail "fault 2: $domd never started fio"
			xl destroy "$domd" 2>/dev/null
		fi
	fi

	# --- fault 1: the backing device starts failing.
	dom=$doma glog=$out/console/guest-$doma.log
	if [ -n "$ida" ] && wait_marker XBC-F1-GO 600; then
		sleep 2
		dm_swap xbcf-a "0 $sz_a error" || fail "fault 1: cannot load the error target"
		ta=$SECONDS
		say "scenario $idx: fault 1: xbcf-a is an error target"
		if wait_marker XBC-F1-FIO-DONE 60 1; then
			say "scenario $idx: fault 1: fio in the domU ended $((SECONDS - ta)) s after the error target went live"
		else
			fail "fault 1: fio in the domU still running 60 s after the backing device started failing (hang)"
		fi
		wait_marker XBC-F1-RESTORE-ME 120 1 || fail "fault 1: the domU never asked for the restore"
		dm_swap xbcf-a "$lin_a" || fail "fault 1: cannot load the linear target again"
		say "scenario $idx: fault 1: xbcf-a is linear again"
	elif [ -n "$ida" ]; then
		fail "fault 1: domU never started fio (see its console)"
	fi

	# --- fault 3: attach/detach cycles of xvdc while fio verifies on xvda.
	if [ -n "$ida" ] && wait_marker XBC-F3-GO 300; then
		# The light hotplug script (scripts/e2e/light-hotplug): the block
		# script, slow under TCG on a loaded host, overran libxl's hotplug
		# timeout in a 50-cycle run; what is tested is the drivers' attach.
		local i spec="format=raw,vdev=xvdc,access=rw,script=$(cd "$(dirname "$0")" && pwd)/light-hotplug,target=/dev/mapper/xbcf-c"
		ta=$SECONDS
		for i in $(seq "$fault_cycles"); do
			if ! timeout $((120 * slow)) xl block-attach "$doma" "$spec" >> "$sdir/xl-hotplug.log" 2>&1; then
				fail "fault 3: cycle $i: xl block-attach failed: $(tail -1 "$sdir/xl-hotplug.log")"; break
			fi
			if ! wait_marker "XBC-F3-UP $i " 120 0.3; then
				fail "fault 3: cycle $i: the domU never saw xvdc"; break
			fi
			if ! timeout $((120 * slow)) xl block-detach "$doma" xvdc >> "$sdir/xl-hotplug.log" 2>&1; then
				fail "fault 3: cycle $i: xl block-detach failed: $(tail -1 "$sdir/xl-hotplug.log")"; break
			fi
			if ! wait_marker "XBC-F3-DOWN $i " 120 0.3; then
				fail "fault 3: cycle $i: the domU never saw xvdc go"; break
			fi
		done
		say "scenario $idx: fault 3: $i cycles in $((SECONDS - ta)) s"
		[ "$(xs "/local/domain/0/backend/vbd/$ida/51744/state")" = absent ] ||
			fail "fault 3: backend node of xvdc left behind after the last detach"
		if [ "$back" = ours ]; then
			local n
			n=$(dmesg | grep -ac "backend/vbd/$ida/51744: disconnected: grants")
			[ "$n" -ge "$fault_cycles" ] || fail "fault 3: our blkback logged $n disconnects of xvdc, expected $fault_cycles"
		fi
	elif [ -n "$ida" ]; then
		fail "fault 3: domU never started its fio loop"
	fi

	# --- fault 4 runs in the domU alone; then detach both disks.
	if [ -n "$ida" ]; then
		ta=$SECONDS
		wait_marker XBC-F4-DONE 900 || fail "fault 4: the domU never finished its reloads"
		say "scenario $idx: fault 4: reloads took $((SECONDS - ta)) s"
		if wait_marker XBC-DETACH-ME 300; then
			for d in xvda xvdb; do
				timeout $((120 * slow)) xl block-detach "$doma" "$d" >> "$sdir/xl-detach.log" 2>&1 ||
					fail "xl block-detach $d failed: $(tail -1 "$sdir/xl-detach.log")"
			done
		fi
		await_poweroff
		domu_verdicts "domU a"
		for d in fault-error fault-hotplug fault-reload; do
			glines | grep -aq "^XBC-CHECK $d " || fail "domU reported no $d result"
		done
		for d in 51712 51728; do
			[ "$(xs "/local/domain/0/backend/vbd/$ida/$d")" = absent ] ||
				fail "backend xenstore node vbd/$ida/$d left behind"
		done
	fi

	if [ "$back" = ours ]; then
		dmesg | grep -a 'disconnected: grants' > "$sdir/telemetry-at-disconnect.txt"
		say "scenario $idx: our blkback logged $(wc -l < "$sdir/telemetry-at-disconnect.txt") disconnects"
		if grep -av ' mapped 0$' "$sdir/telemetry-at-disconnect.txt" | grep -q .; then
			fail "grants still mapped at disconnect: $(grep -av ' mapped 0$' "$sdir/telemetry-at-disconnect.txt" | head -1)"
		fi
	fi
	sleep 1
	rmmod "$be_mod" || fail "rmmod $be_mod failed in dom0"
	dmsetup remove xbcf-a; dmsetup remove xbcf-c; dmsetup remove xbcf-d
	check_dmesg "$sdir/dom0-dmesg.txt"
	report_result "$idx"
	say "scenario $idx: done in $((SECONDS - t0)) s"
	sync
}
