#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs in dom0 (started by dom0-stage1 via switch_root). Brings up the Xen
# toolstack, then runs each scenario of the plan in its own PV domU, one after
# the other: load the backend with the scenario's parameters, xl create, check
# the negotiated xenstore keys against what each side was told to do, collect
# the domU's integrity checks from its console, block-detach, unload the
# backend, scan dmesg. Results go to the writable 9p share "out" as
#   RESULT <idx> ok
#   RESULT <idx> fail <reason>
# and the host runner (scripts/xen-e2e) turns them into TAP lines.
# Plan line: idx front back fp_front fp_back vcpus max_queues ring_order indirect
#            domu_kernel domu_initrd topo
set -u
export PATH=/usr/lib/xen-4.17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# shellcheck source=dom0-lib.sh
. "$(dirname "$0")/dom0-lib.sh"	# env: E2E_DIR BACK_KO SLOW DATA_DISK
# shellcheck source=dom0-stores.sh
. "$(dirname "$0")/dom0-stores.sh"	# the stores cell (topo=stores)
# shellcheck source=hostile-front-dom0.sh
. "$(dirname "$0")/hostile-front-dom0.sh"	# run_hostile_front: cells with front=hostile
# shellcheck source=hostile-back-dom0.sh
. "$(dirname "$0")/hostile-back-dom0.sh"	# run_hostile (back=hostile), env: HOSTILE_KO
# shellcheck source=faults-dom0.sh
. "$(dirname "$0")/faults-dom0.sh"	# the faults cells (topo faults); env: FAULT_CYCLES FAULT_RELOADS

# Backing stores: ram0 is the data disk, ram1 carries the tools image.
ram_disks 2
# brd has no write cache and no discard; a loop device over a tmpfs file has
# both, so with DATA_DISK=loop flush, barrier and discard get exercised.
data_disk=/dev/ram0
if [ "${DATA_DISK:-ram}" = loop ]; then
	modprobe loop
	truncate -s $((rd_kib * 1024)) /run/xbc-data.img
	data_disk=$(losetup -f --show /run/xbc-data.img) || data_disk=/dev/ram0
fi
say "toolstack up; data disk $data_disk, tools disk /dev/ram1 (${rd_kib} KiB each)"
dmesg > "$out/dom0-boot-dmesg-$kver.txt"

# What each backend offers in xenstore: the reference values a scenario's
# expectations are computed from. "absent" means the key is not written.
# Ours is expected to offer what the in-tree backend offers by default.
backend_offer() {	# back key
	case "$1:$2" in
	intree:fp | ours:fp) echo "$fp_back" ;;
	intree:indirect | ours:indirect) echo 256 ;;
	intree:ring_order | ours:ring_order) echo 4 ;;
	intree:queues | ours:queues) echo 4 ;;	# loaded with max_queues=4
	qdisk:fp | qdisk:indirect) echo absent ;;
	qdisk:ring_order) echo 4 ;;
	qdisk:queues) echo absent ;;
	esac
}

num() { [ "$1" = absent ] && echo 0 || echo "$1"; }
min() { [ "$1" -lt "$2" ] && echo "$1" || echo "$2"; }

run_scenario() {
	[ "$3" = hostile ] && { run_hostile "$@"; return; }
	case "${12:-}" in faults*) run_faults "$@"; return ;; esac
	idx=$1 front=$2 back=$3 fp_front=$4 fp_back=$5 vcpus=$6 mq=$7 rpo=$8 ind=$9
	if [ "$front" = hostile ]; then
		run_hostile_front "$@"
		return
	fi
	local domu_kernel=${10} domu_initrd=${11} topo=${12:-}
	# The stores cell: two more disks on a file and an LV (dom0-stores.sh).
	local stores=0 stores_disks='' more_vdevs=''
	[ "$topo" = stores ] && stores=1 more_vdevs=$stores_vdevs
	fails=()
	fail() { fails+=("$*"); say "scenario $idx: FAIL: $*"; }
	dom=xbc-$idx
	sdir=$out/scenario-$idx
	mkdir -p "$sdir"
	glog=$out/console/guest-$dom.log
	ln -sf "../console/guest-$dom.log" "$sdir/guest-console.log"
	say "scenario $idx: front=$front back=$back fp=$fp_front/$fp_back vcpus=$vcpus max_queues=$mq max_ring_page_order=$rpo max_indirect_segments=$ind dom0=$kver domU=$(basename "${domu_kernel%/*}")"
	dmesg -C

	# Backend. qdisk is QEMU in dom0 (libxl starts it per domain); both disks
	# then go through it, so no blkback is needed.
	local be_mod='' bt=vbd spec_extra='' tools_access=ro back_args=
	# Cells with our backend also detach and reattach xvda (issue 4).
	local reattach=0
	[ "$back" = ours ] && reattach=1
	case "$back" in
	intree)
		modprobe xen-blkback feature_persistent="$fp_back" max_queues=4 || fail "modprobe xen-blkback failed"
		be_mod=xen_blkback ;;
	ours)
		if [ -z "${BACK_KO:-}" ] || [ ! -f "$BACK_KO" ]; then
			fail "our blkback .ko not found (${BACK_KO:-unset})"
		else
			local before
			before=$(cut -d' ' -f1 /proc/modules)
			# Without persistent grants our backend copies (grant_copy=1,
			# its default); against the in-tree frontend it maps and
			# unmaps instead, as in-tree does, so a default cell runs
			# the map path and its asynchronous unmap (issue 9 defect 6).
			[ "$front" = intree ] && [ "$fp_back" = 0 ] && back_args='grant_copy=0'
			insmod "$BACK_KO" feature_persistent="$fp_back" max_queues=4 $back_args || fail "insmod $BACK_KO failed"
			for m in $(cut -d' ' -f1 /proc/modules); do
				echo "$before" | grep -qx "$m" || be_mod=$m
			done
		fi ;;
	pkg)
		# Ours as the installed DKMS package put it in place: loaded by name,
		# as an administrator would. The in-tree driver has no version.
		modprobe xen-blkback feature_persistent="$fp_back" max_queues=4 || fail "modprobe xen-blkback failed"
		local loaded
		loaded=$(cat /sys/module/xen_blkback/version 2>/dev/null || echo none)
		if [ -n "${PKG_VERSION:-}" ] && [ "$loaded" = "$PKG_VERSION" ]; then
			say "scenario $idx: modprobe loaded $(modinfo -F filename xen-blkback) version $loaded"
		else
			fail "modprobe xen-blkback loaded version '$loaded', not the package's '${PKG_VERSION:-unknown}' (the in-tree driver has none)"
		fi
		# From here on it is our backend.
		back=ours be_mod=xen_blkback ;;
	qdisk)
		# (target= must stay last in a disk spec: it takes the rest.)
		# QEMU 7.2's xen-block refuses a read-only disk ("Block node is
		# read-only"), so qdisk serves the tools disk rw; the domU still
		# mounts it ro.
		bt=qdisk spec_extra=",backendtype=qdisk" tools_access=rw ;;
	esac

	[ "$stores" = 0 ] || stores_setup

	cat > "/run/$dom.cfg" <<EOF
name = "$dom"
type = "pv"
kernel = "$domu_kernel"
ramdisk = "$domu_initrd"
extra = "console=hvc0 loglevel=4 xbc_front=$front xbc_fp=$fp_front xbc_mq=$mq xbc_rpo=$rpo xbc_ind=$ind xbc_reattach=$reattach xbc_pkgver=${PKG_VERSION:-none} xbc_stores=$stores"
memory = 256
vcpus = $vcpus
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ 'format=raw,vdev=xvda,access=rw$spec_extra,target=$data_disk',
         'format=raw,vdev=xvdb,access=$tools_access$spec_extra,target=/dev/ram1'$stores_disks ]
EOF
	cp "/run/$dom.cfg" "$sdir/domu.cfg"

	local t0=$SECONDS
	if [ ${#fails[@]} -eq 0 ] && timeout $((300 * slow)) xl -v create "/run/$dom.cfg" > "$sdir/xl-create.log" 2>&1; then
		say "scenario $idx: domain created in $((SECONDS - t0)) s"
	else
		[ ${#fails[@]} -eq 0 ] && fail "xl create failed: $(grep -iE 'error|fail' "$sdir/xl-create.log" | head -2 | tr '\n' ' ')"
	fi

	local domid
	domid=$(xl domid "$dom" 2>/dev/null || true)
	if [ -n "$domid" ]; then
		if wait_marker XBC-READY 300; then
			say "scenario $idx: domU has both disks after $((SECONDS - t0)) s"
			check_handshake "$domid"
		else
			fail "domU never reported both disks (see guest log)"
		fi
		# Issue 5's lifecycle checks, in the one cell where both drivers are
		# ours with 2 queues (they cost about two minutes, so not in every
		# cell): xl save + restore while fio verifies in the domU. The domU
		# side (domu-init) also unbinds and rebinds the frontend first.
		if [ "$front" = ours ] && [ "$back" = ours ] && [ "$mq" = 2 ] &&
		   wait_marker XBC-SAVE-ME 900; then
			local ts=$SECONDS
			if timeout $((600 * slow)) xl save "$dom" "/run/$dom.save" > "$sdir/xl-save.log" 2>&1 &&
			   timeout $((600 * slow)) xl restore "/run/$dom.save" > "$sdir/xl-restore.log" 2>&1; then
				say "scenario $idx: xl save + restore done in $((SECONDS - ts)) s"
			else
				fail "xl save/restore failed: $(tail -2 "$sdir/xl-save.log" "$sdir/xl-restore.log" | tr '\n' ' ')"
			fi
			rm -f "/run/$dom.save"
			# The restored domain is a new one with a new domid: every later
			# lookup (our vbd's sysfs, the backend's xenstore node) must use it.
			local old_domid=$domid
			domid=$(xl domid "$dom" 2>/dev/null || true)
			if [ -n "$domid" ]; then
				say "scenario $idx: domid $old_domid is domid $domid after restore"
				echo "$domid" > "$sdir/domid-after-restore.txt"
			else
				fail "no domain $dom after xl restore"
			fi
		fi
		[ "$stores" = 0 ] || stores_run "$domid"
		wait_marker XBC-DETACH-ME 900 || fail "domU never finished its checks"
		[ "$stores" = 0 ] || stores_xentop "$domid"
		# Our backend's telemetry while the disks are still attached.
		if [ "$back" = ours ]; then
			grant_telemetry "$domid" > "$sdir/telemetry-before-detach.txt"
			grep -q "^vbd-$domid-51712 persistent_grants/maps " "$sdir/telemetry-before-detach.txt" ||
				fail "no persistent_grants/ of our vbd-$domid-51712 in dom0 sysfs before detach"
		fi
		local v
		for v in xvda xvdb $more_vdevs; do
			timeout $((120 * slow)) xl block-detach "$dom" "$v" >> "$sdir/xl-detach.log" 2>&1 ||
				fail "xl block-detach $v failed: $(tail -1 "$sdir/xl-detach.log")"
		done
		# Our backend: xvda comes back on a fresh connection, then goes again.
		if [ "$reattach" = 1 ]; then
			if wait_marker XBC-REATTACH-ME 300; then
				timeout $((120 * slow)) xl block-attach "$dom" "format=raw,vdev=xvda,access=rw,target=$data_disk" \
					>> "$sdir/xl-detach.log" 2>&1 || fail "xl block-attach xvda failed: $(tail -1 "$sdir/xl-detach.log")"
				wait_marker XBC-REDETACH-ME 300 || fail "domU never finished the reattach check"
				timeout $((120 * slow)) xl block-detach "$dom" xvda >> "$sdir/xl-detach.log" 2>&1 ||
					fail "second xl block-detach xvda failed: $(tail -1 "$sdir/xl-detach.log")"
			else
				fail "domU never asked for the reattach"
			fi
		fi
		await_poweroff
		# The domU's own verdicts.
		local line
		while read -r line; do
			fail "domU $line"
		done < <(glines | grep -a '^XBC-CHECK .* FAIL' | sed 's/^XBC-CHECK //')
		glines | grep -aq '^XBC-CHECK ext4 ok' || [ ${#fails[@]} -gt 0 ] || fail "domU reported no ext4 result"
		glines | grep -aq '^XBC-CHECK fio ok' || [ ${#fails[@]} -gt 0 ] || fail "domU reported no fio result"
		local gbad
		gbad=$(glines | grep -aE "$warn_re" | grep -v '^XBC-' | head -3 | tr '\n' '|')
		[ -z "$gbad" ] || fail "domU console: $gbad"
		[ "$(xs /local/domain/0/backend/$bt/$domid/51712/state)" = absent ] ||
			fail "backend xenstore node /local/domain/0/backend/$bt/$domid/51712 left behind"
	fi

	# Our backend logs its grant totals at each disconnect: after a detach
	# nothing may stay mapped.
	if [ "$back" = ours ] && [ -n "$domid" ]; then
		dmesg | grep -a 'disconnected: grants' > "$sdir/telemetry-at-disconnect.txt"
		[ -s "$sdir/telemetry-at-disconnect.txt" ] || fail "our blkback logged no grant telemetry at disconnect"
		if grep -av ' mapped 0$' "$sdir/telemetry-at-disconnect.txt" | grep -q .; then
			fail "grants still mapped at disconnect: $(grep -av ' mapped 0$' "$sdir/telemetry-at-disconnect.txt" | head -1)"
		fi
		# grant_copy=0: the map path must have run (transient maps).
		if [ -n "$back_args" ] && ! grep -aq ' transient [1-9]' "$sdir/telemetry-at-disconnect.txt"; then
			fail "$back_args: no transient map logged at disconnect"
		fi
	fi
	[ "$stores" = 0 ] || stores_teardown
	if [ -n "$be_mod" ]; then
		sleep 1
		rmmod "$be_mod" || fail "rmmod $be_mod failed in dom0"
	fi
	check_dmesg "$sdir/dom0-dmesg.txt"
	[ -n "$domid" ] && [ -f "/var/log/xen/qemu-dm-$dom.log" ] && cp "/var/log/xen/qemu-dm-$dom.log" "$sdir/"

	report_result "$idx"
	say "scenario $idx: done in $((SECONDS - t0)) s"
	sync
}

# Our blkback's sysfs counters for both disks (docs/blkback.md).
grant_telemetry() {	# domid
	local d f
	for d in /sys/bus/xen-backend/devices/vbd-"$1"-*; do
		[ -d "$d/persistent_grants" ] || continue
		for f in "$d"/persistent_grants/* "$d"/statistics/*; do
			echo "${d##*/} ${f#$d/} $(cat "$f")"
		done
	done
}

# Compares the keys both ends wrote with what they were configured to do.
check_handshake() {	# domid
	local domid=$1
	local F=/local/domain/$domid/device/vbd/51712
	local B=/local/domain/0/backend/$bt/$domid/51712
	# One dump per end, then parse it: a process per key is slow under TCG.
	xenstore-ls -f "$F" > "$sdir/xenstore-front.txt" 2>&1
	xenstore-ls -f "$B" > "$sdir/xenstore-back.txt" 2>&1

	expect() {	# front|back path want
		local got
		got=$(grep -F "$2 = " "$sdir/xenstore-$1.txt" | head -1)
		if [ -z "$got" ]; then
			got=absent
		else
			got=${got#*= \"}
			got=${got%\"}
		fi
		[ "$got" = "$3" ] || fail "handshake: $1 ${2##*/}=$got, expected $3"
	}
	expect front "$F/state" 4
	expect back "$B/state" 4

	# feature-persistent: each side advertises its parameter; used only if both do.
	local offer_fp offer_ind offer_rpo offer_q
	offer_fp=$(backend_offer "$back" fp)
	offer_ind=$(backend_offer "$back" indirect)
	offer_rpo=$(backend_offer "$back" ring_order)
	offer_q=$(backend_offer "$back" queues)
	expect front "$F/feature-persistent" "$fp_front"
	expect back "$B/feature-persistent" "$offer_fp"
	local want_pers=disabled
	[ "$fp_front" = 1 ] && [ "$(num "$offer_fp")" = 1 ] && want_pers=enabled

	# Indirect segments: the frontend uses min(its max, backend's offer), and
	# only if that exceeds the 11 direct segments.
	expect back "$B/feature-max-indirect-segments" "$offer_ind"
	local want_ind=disabled
	[ "$(min "$ind" "$(num "$offer_ind")")" -gt 11 ] && want_ind=enabled

	local line
	line=$(glines | grep -a '^XBC-BLKFRONT' | tail -1)
	echo "$line" > "$sdir/blkfront-line.txt"
	case "$line" in
	*"persistent grants: $want_pers;"*) ;;
	*) fail "handshake: expected 'persistent grants: $want_pers' in domU dmesg, got '${line#XBC-BLKFRONT }'" ;;
	esac
	case "$line" in
	*"indirect descriptors: $want_ind;"*) ;;
	*) fail "handshake: expected 'indirect descriptors: $want_ind' in domU dmesg, got '${line#XBC-BLKFRONT }'" ;;
	esac

	# Ring pages: order min(front max, back max); the key is written only above 0.
	expect back "$B/max-ring-page-order" "$offer_rpo"
	local want_rpo
	want_rpo=$(min "$rpo" "$(num "$offer_rpo")")
	[ "$want_rpo" = 0 ] && want_rpo=absent
	expect front "$F/ring-page-order" "$want_rpo"

	# Queues: min(front max, domU vCPUs, back max); written only above 1.
	expect back "$B/multi-queue-max-queues" "$offer_q"
	local want_q
	want_q=$(min "$(min "$mq" "$vcpus")" "$(num "$offer_q")")
	[ "$want_q" -le 1 ] && want_q=absent
	expect front "$F/multi-queue-num-queues" "$want_q"
	local hwq
	hwq=$(glines | grep -a '^XBC-QUEUES' | tail -1 | cut -d' ' -f2)
	[ "$hwq" = "$( [ "$want_q" = absent ] && echo 1 || echo "$want_q")" ] ||
		fail "handshake: domU has $hwq blk-mq hardware queues on xvda, expected $want_q"
	say "scenario $idx: handshake keys checked (persistent $want_pers, indirect $want_ind, ring order $want_rpo, queues $want_q)"
}

run_plan run_scenario
