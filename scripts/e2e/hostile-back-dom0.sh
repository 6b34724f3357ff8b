# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Sourced by dom0.sh: the hostile-backend cell (back=hostile, front
# ours+intree; docs/hostile-backend.md). One Xen boot, one hostile blkback
# (our blkback built with XBC_HOSTILE, blkback/hostile.hpp), domUs side by
# side: one with our blkfront and every attack, and the in-tree blkfront's
# attacks split over three (see hostile_intree_tag), one disk per attack
# (the same attack on the same vdev everywhere). The
# domUs run scripts/e2e/hostile-back-domu-init and report per disk
#   XBC-HOSTILE <disk> <attack> <result...>
# dom0 collects those into out/scenario-N/hostile-<front>.txt, one line per
# disk, plus a domU-wide line (crash, warnings, detach, unload); the host
# prints the table (scripts/e2e/hostile-report). The cell fails if our
# blkfront misses the bar on any attack (no hang, no warning, disks detach,
# the module unloads); the in-tree results are recorded, not judged.

# The attacks, in vdev order from xvda (51712, then +16 per disk). "none"
# is an honest control disk. The names are blkback/hostile.cpp's.
hostile_back_attacks="none bad-id stale-id dup-id bad-op bad-status rsp-prod flood keep-grant
	xs-sectors xs-sector-size xs-phys-size xs-indirect xs-ring-order xs-queues-0 xs-queues-huge"
# Attacks dom0 plays on the backend's xenstore while fio verifies on the
# disk (the module serves these disks honestly), on the next vdevs (xvdq,
# xvdr): the backend goes Closing and then Connected again (a driver domain
# restart), and the backend vanishes (its xenstore directory removed, as
# the toolstack does when a driver domain dies; dom0's xenbus then removes
# the backend device, which stops serving the rings).
hostile_dom0_attacks="closing-reconnect vanish"
# The tools image (fio) for those disks' load, read-only, as the last vdev.
hostile_tools_vdev=xvdz
# Each attack disk: a sparse 2 GiB file on a loop device, one per domU
# (the block hotplug script refuses to share a writable disk).
hostile_disk_bytes=$((2 << 30))
# Attacks known to oops the in-tree blkfront in its xenwatch thread at
# probe (sector-size 3: a NULL dereference in create_empty_buffers while
# the partitions are read), which would stop every other disk of that
# domU: the in-tree side runs them in a domU of their own, intree-solo.
hostile_solo="xs-sector-size"
# The in-tree blkfront BUG()s when its backend comes back after Closing
# (BUG_ON(info->nr_rings) in negotiate_mq), which ends that domU before
# its other attacks report: it meets the dom0 attacks in intree-load.
hostile_intree_tag() {	# attack -> the in-tree domU's tag that runs it
	if [[ " $hostile_solo " == *" $1 "* ]]; then
		echo intree-solo
	elif [[ " $hostile_dom0_attacks " == *" $1 "* ]]; then
		echo intree-load
	else
		echo intree
	fi
}
hostile_tags="ours intree intree-solo intree-load"
# Memory per domU, MiB: the host has about 1000 free for all four.
# intree-solo only probes (and oopses); intree-load runs fio on two disks.
declare -gA hostile_mem=([ours]=256 [intree]=256 [intree-solo]=128 [intree-load]=192)
# Their hotplug script: the block script's work without its global lock.
hostile_hotplug=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/light-hotplug
# The domU kernel's own memory debugging, switched on at boot (a KASAN
# kernel cannot boot as a Xen PV guest: docs/hostile-backend.md): red
# zones, poison and consistency checks on every slab object, freed pages
# poisoned and checked when reused. The domU checks and scans at its end.
hostile_domu_debug="slub_debug=FZPU page_poison=1"

run_hostile() {
	idx=$1
	local fp_front=$4 fp_back=$5 vcpus=$6 mq=$7 rpo=$8 ind=$9 domu_kernel=${10} domu_initrd=${11}
	fails=()
	fail() { fails+=("$*"); say "scenario $idx: FAIL: $*"; }
	sdir=$out/scenario-$idx
	mkdir -p "$sdir"
	say "scenario $idx: hostile backend, ours and in-tree blkfront side by side, fp=$fp_front/$fp_back"
	dmesg -C
	local t0=$SECONDS
	if [ -z "${HOSTILE_KO:-}" ] || [ ! -f "$HOSTILE_KO" ]; then
		fail "hostile blkback .ko not found (${HOSTILE_KO:-unset})"
		report_result "$idx"
		return
	fi

	local spec='' letters=abcdefghijklmnopqrstuvwxyz i=0 a
	local -a names=()
	for a in $hostile_back_attacks $hostile_dom0_attacks; do
		[[ " $hostile_dom0_attacks " == *" $a "* ]] || spec="$spec${spec:+,}$((51712 + 16 * i)):$a"
		names+=("xvd${letters:i:1}:$a")
		i=$((i + 1))
	done
	modprobe loop max_loop=0 2>/dev/null || true
	# grant_copy=0: the XSA-396 attack (keep-grant) needs the guest pages
	# mapped, as in-tree blkback and QEMU's map mode do; grant copy maps none.
	insmod "$HOSTILE_KO" attacks="$spec" feature_persistent="$fp_back" grant_copy=0 max_queues=4 ||
		fail "insmod $HOSTILE_KO failed"

	# The domains, by tag: ours gets every disk; the in-tree blkfront gets
	# them in three domUs (hostile_intree_tag).
	local tag front doms=() dom cfg n disks
	local -A dom_names=()
	for n in "${names[@]}"; do
		dom_names[ours]+=" $n"
		dom_names[$(hostile_intree_tag "${n#*:}")]+=" $n"
	done
	for tag in $hostile_tags; do
		front=${tag%%-*}
		dom=xbc-$idx-$tag
		doms+=("$dom")
		disks=
		# shellcheck disable=SC2086
		set -- ${dom_names[$tag]}
		for n in "$@"; do
			local f=/run/$dom-${n%%:*}.img dev
			truncate -s "$hostile_disk_bytes" "$f"
			dev=$(losetup -f --show "$f") || fail "losetup $f failed"
			disks="$disks${disks:+, }'format=raw,vdev=${n%%:*},access=rw,script=$hostile_hotplug,target=$dev'"
		done
		# fio for the dom0 attacks' load (intree-solo has none of them).
		[ "$tag" = intree-solo ] ||
			disks="$disks, 'format=raw,vdev=$hostile_tools_vdev,access=ro,script=$hostile_hotplug,target=/dev/ram1'"
		cfg=/run/$dom.cfg
		cat > "$cfg" <<EOF
name = "$dom"
type = "pv"
kernel = "$domu_kernel"
ramdisk = "$domu_initrd"
extra = "console=hvc0 loglevel=4 $hostile_domu_debug rdinit=/hostile-back-init xbc_front=$front xbc_fp=$fp_front xbc_mq=$mq xbc_rpo=$rpo xbc_ind=$ind xbc_disks=$(IFS=,; echo "$*")"
memory = ${hostile_mem[$tag]}
vcpus = $vcpus
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ $disks ]
EOF
		cp "$cfg" "$sdir/domu-$tag.cfg"
		ln -sf "../console/guest-$dom.log" "$sdir/guest-console-$tag.log"
	done
	# All domains at once: together they cost one domU's time.
	[ ${#fails[@]} -eq 0 ] && for tag in $hostile_tags; do
		timeout $((300 * slow)) xl -v create "/run/xbc-$idx-$tag.cfg" > "$sdir/xl-create-$tag.log" 2>&1 ||
			fail "xl create xbc-$idx-$tag failed: $(grep -iE 'error|fail' "$sdir/xl-create-$tag.log" | head -2 | tr '\n' ' ')"
	done
	say "scenario $idx: domains created after $((SECONDS - t0)) s"

	# Each domain: wait for its attacks to finish, detach every disk, let
	# it unload blkfront and power off. In parallel; each is bounded.
	local pids=()
	for tag in ours intree-load; do
		hostile_dom0_attack "xbc-$idx-$tag" > "$sdir/dom0-attacks-$tag.log" 2>&1 &
		pids+=($!)
	done
	for tag in $hostile_tags; do
		# shellcheck disable=SC2086
		hostile_finish_domain "xbc-$idx-$tag" ${dom_names[$tag]} > "$sdir/finish-$tag.log" 2>&1 &
		pids+=($!)
	done
	# By pid: a bare wait would also wait for the log's tee (dom0-lib.sh).
	wait "${pids[@]}"
	cat "$sdir"/finish-*.log

	for front in ours intree; do
		hostile_results "$front" > "$sdir/hostile-$front.txt"
		if [ "$front" = ours ]; then
			local bad
			bad=$(grep -v ' ok$' "$sdir/hostile-$front.txt" | grep -v '^domU ' | head -3 | tr '\n' '|')
			[ -z "$bad" ] || fail "our blkfront: $bad"
			bad=$(grep '^domU ' "$sdir/hostile-$front.txt" | grep -v ' ok$' | tr '\n' '|')
			[ -z "$bad" ] || fail "our blkfront: $bad"
		fi
	done

	# A destroyed domain's vbds go a moment after it does.
	local tries=0
	until rmmod xen_blkback 2>/dev/null; do
		tries=$((tries + 1))
		[ $tries -lt $((30 * slow)) ] || { fail "rmmod of the hostile blkback failed in dom0 for 30 s"; break; }
		sleep 1
	done
	local l
	for l in $(losetup -a | grep "/run/xbc-$idx-" | cut -d: -f1); do losetup -d "$l"; done
	rm -f /run/xbc-"$idx"-*.img
	dmesg > "$sdir/dom0-dmesg.txt"
	# dom0 warnings are noted, not judged: the attacks are ours.
	grep -E "$warn_re" "$sdir/dom0-dmesg.txt" | head -3 > "$sdir/dom0-warnings.txt"
	report_result "$idx"
	say "scenario $idx: done in $((SECONDS - t0)) s"
	sync
}

oops_re='Oops|kernel BUG|Kernel panic'

hostile_vdev() {	# xvdX -> its device number as libxl writes it
	local letters=abcdefghijklmnopqrstuvwxyz l=${1#xvd}
	l=${letters%%"$l"*}
	# xvda..xvdp: 202 << 8 | disk << 4; from xvdq on, the extended form.
	if [ ${#l} -lt 16 ]; then
		echo $((51712 + 16 * ${#l}))
	else
		echo $(((1 << 28) | (${#l} << 8)))
	fi
}

# In a subshell per domain: the dom0 attacks (hostile_dom0_attacks), each
# once the domU says fio is verifying on its disk (XBC-HOSTILE-LOAD <disk>).
hostile_dom0_attack() {	# dom
	dom=$1
	glog=$out/console/guest-$dom.log
	local i=0 letters=abcdefghijklmnopqrstuvwxyz a disk domid be fe n
	local -a todo=()
	for a in $hostile_back_attacks $hostile_dom0_attacks; do
		[[ " $hostile_dom0_attacks " == *" $a "* ]] && todo+=("xvd${letters:i:1}:$a")
		i=$((i + 1))
	done
	domid=$(xl domid "$dom") || return
	# All at once: the domU loads every such disk at the same time.
	for n in "${todo[@]}"; do
		hostile_dom0_attack_disk "$n" &
	done
	wait
}

hostile_dom0_attack_disk() {	# disk:attack
	local n=$1 disk a be fe
	disk=${n%%:*} a=${n#*:}
	be=/local/domain/0/backend/vbd/$domid/$(hostile_vdev "$disk")
	fe=/local/domain/$domid/device/vbd/$(hostile_vdev "$disk")
	wait_marker "XBC-HOSTILE-LOAD $disk" $((240 * slow)) 2 ||
		{ say "$dom: $disk: no load, no attack"; return; }
	sleep 2	# fio well under way
	xenstore-exists "$be/state" || { say "$dom: $disk: no backend node $be"; return; }
	case "$a" in
	closing-reconnect)
		say "$dom: $disk: backend state Closing under load"
		xenstore-write "$be/state" 5
		# The frontend answers Closed, and the backend driver, seeing
		# that, disconnects its rings and says Closed itself.
		wait_for_xs "$fe/state" 6 20 && say "$dom: $disk: frontend Closed"
		wait_for_xs "$be/state" 6 20 && say "$dom: $disk: backend driver Closed"
		sleep 2
		say "$dom: $disk: backend state Connected again"
		xenstore-write "$be/state" 4
		wait_for_xs "$fe/state" 4 60 && say "$dom: $disk: frontend Connected again" ;;
	vanish)
		say "$dom: $disk: the backend vanishes (xenstore-rm $be)"
		xenstore-rm "$be"
		wait_for_xs "$fe/state" 6 30 && say "$dom: $disk: frontend Closed" ;;
	esac
	say "$dom: $disk: frontend state $(xenstore-read "$fe/state" 2>/dev/null)"
}

wait_for_xs() {	# path value seconds
	local end=$(( SECONDS + $3 * slow ))
	until [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ]; do
		[ $SECONDS -lt $end ] || { say "${dom:-}: $1 not $2 after $3 s"; return 1; }
		sleep 0.5
	done
}

# In a subshell per domain: waits for XBC-DETACH-ME, detaches every disk,
# waits for XBC-END, destroys what is left. A domU that oopses is destroyed
# at once: its xenwatch may be dead, and nothing more would happen in it.
hostile_finish_domain() {	# dom name...
	dom=$1
	shift
	glog=$out/console/guest-$dom.log
	local n t=$SECONDS state=timeout
	local deadline=$(( SECONDS + 360 * slow ))
	while [ $SECONDS -lt $deadline ]; do
		glines | grep -aq '^XBC-DETACH-ME' && { state=detach; break; }
		glines | grep -aqE "$oops_re" && { state=oops; break; }
		xl domid "$dom" >/dev/null 2>&1 || { state=gone; break; }
		sleep 3
	done
	if [ "$state" = detach ]; then
		say "$dom: attacks done after $((SECONDS - t)) s; detaching"
		# A frontend stuck in its xenwatch stalls every later detach: at
		# most 150 s for all of them, then xl destroy cleans up.
		local until=$(( SECONDS + 150 * slow ))
		for n in "$@" "$hostile_tools_vdev:tools"; do
			xl domid "$dom" >/dev/null 2>&1 || break
			# The vanished disk has no backend left for libxl to detach:
			# remove the frontend's node, as a forced detach does.
			if [ "${n#*:}" = vanish ]; then
				xenstore-rm "/local/domain/$(xl domid "$dom")/device/vbd/$(hostile_vdev "${n%%:*}")"
				continue
			fi
			# (the solo domU has no tools disk)
			[ "${n#*:}" = tools ] && [ "$dom" != "${dom%-solo}" ] && continue
			glines | grep -aq '^XBC-END' && break	# the domU gave up waiting
			[ $SECONDS -lt $until ] || { say "$dom: detach time used up at ${n%%:*}"; break; }
			timeout $((30 * slow)) xl block-detach "$dom" "${n%%:*}" >/dev/null 2>&1 ||
				say "$dom: xl block-detach ${n%%:*} failed or timed out"
		done
		wait_marker XBC-END $((180 * slow)) || say "$dom: no XBC-END"
		deadline=$(( SECONDS + 60 * slow ))
		while xl domid "$dom" >/dev/null 2>&1 && [ $SECONDS -lt $deadline ]; do sleep 2; done
	else
		say "$dom: no detach request after $((SECONDS - t)) s ($state)"
	fi
	if xl domid "$dom" >/dev/null 2>&1; then
		say "$dom: still running; xl destroy"
		echo "XBC-DOM0 destroyed ($state)" >> "$glog"
		xl destroy "$dom"
	fi
	say "$dom: finished after $((SECONDS - t)) s"
}

# For one frontend: one line per attack ("<disk> <attack> <what happened>
# ok|BAD"), from the console of the domU that ran it, then "domU <what>
# ok|BAD" lines for its main domU (crash, warnings, detach, unload).
hostile_results() {	# front
	local line disk attack check i=0 letters=abcdefghijklmnopqrstuvwxyz tag
	for attack in $hostile_back_attacks $hostile_dom0_attacks; do
		disk=xvd${letters:i:1}
		i=$((i + 1))
		tag=$1
		[ "$1" = intree ] && tag=$(hostile_intree_tag "$attack")
		glog=$out/console/guest-xbc-$idx-$tag.log
		line=$(glines | grep -a "^XBC-HOSTILE $disk " | tail -1)
		if [ -n "$line" ]; then
			line=${line#XBC-HOSTILE }
			# A read that hung and was still stuck after the detach.
			glines | grep -aq "^XBC-HOSTILE-STUCK $disk " &&
				line="${line% *} still-stuck-after-detach ${line##* }"
			echo "$line"
		elif glines | grep -aqE "$oops_re"; then
			echo "$disk $attack domU ($tag) oopsed before a result: $(glines | grep -aE "$oops_re|BUG:" | head -1 | cut -c1-90) BAD"
		else
			echo "$disk $attack no result ($(glines | grep -a '^XBC-DOM0' | tail -1)) BAD"
		fi
	done
	glog=$out/console/guest-xbc-$idx-$1.log
	if glines | grep -aqE "$oops_re"; then
		echo "domU crashed: $(glines | grep -aE "$oops_re|BUG:" | head -1 | cut -c1-100) BAD"
	fi
	line=$(glines | grep -a '^XBC-DOM0 destroyed' | tail -1)
	[ -z "$line" ] || echo "domU destroyed: by dom0 ${line#XBC-DOM0 destroyed } BAD"
	local warns
	warns=$(glines | grep -aE "$warn_re" | grep -v '^XBC-' | head -2 | cut -c1-100 | tr '\n' '|')
	if [ -n "$warns" ]; then
		echo "domU warnings: $warns BAD"
	else
		echo "domU warnings: none ok"
	fi
	for check in detach unload dmesg; do
		line=$(glines | grep -a "^XBC-CHECK $check " | tail -1)
		case "$line" in
		*" ok"*) echo "domU $check: ${line#XBC-CHECK "$check" ok } ok" ;;
		*FAIL*) echo "domU $check: ${line#XBC-CHECK "$check" FAIL } BAD" ;;
		*) echo "domU $check: never reported BAD" ;;
		esac
	done
}
