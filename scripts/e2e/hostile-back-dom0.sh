# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Sourced by dom0.sh: the hostile-backend cell (back=hostile, front
# ours+intree; docs/hostile-backend.md). One Xen boot, one hostile blkback
# (our blkback built with XBC_HOSTILE, blkback/hostile.hpp), two domUs side
# by side, one with our blkfront and one with the in-tree blkfront, each
# with one disk per attack (the same attack on the same vdev in both). The
# domUs run scripts/e2e/hostile-domu-init and report per disk
#   XBC-HOSTILE <disk> <attack> <result...>
# dom0 collects those into out/scenario-N/hostile-<front>.txt, one line per
# disk, plus a domU-wide line (crash, warnings, detach, unload); the host
# prints the table (scripts/e2e/hostile-report). The cell fails if our
# blkfront misses the bar on any attack (no hang, no warning, disks detach,
# the module unloads); the in-tree results are recorded, not judged.

# The attacks, in vdev order from xvda (51712, then +16 per disk). "none"
# is an honest control disk. The names are blkback/hostile.cpp's.
hostile_attacks="none bad-id stale-id dup-id bad-op bad-status rsp-prod flood keep-grant
	xs-sectors xs-sector-size xs-phys-size xs-indirect xs-ring-order xs-queues-0 xs-queues-huge"
# Each attack disk: a sparse 2 GiB file on a loop device, one per domU
# (the block hotplug script refuses to share a writable disk).
hostile_disk_bytes=$((2 << 30))
# Their hotplug script: the block script's work without its global lock.
hostile_hotplug=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/hostile-hotplug

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
	for a in $hostile_attacks; do
		spec="$spec${spec:+,}$((51712 + 16 * i)):$a"
		names+=("xvd${letters:i:1}:$a")
		i=$((i + 1))
	done
	modprobe loop max_loop=0 2>/dev/null || true
	insmod "$HOSTILE_KO" attacks="$spec" feature_persistent="$fp_back" max_queues=4 ||
		fail "insmod $HOSTILE_KO failed"

	local front doms=() dom cfg n disks
	for front in ours intree; do
		dom=xbc-$idx-$front
		doms+=("$dom")
		disks=
		for n in "${names[@]}"; do
			local f=/run/$dom-${n%%:*}.img dev
			truncate -s "$hostile_disk_bytes" "$f"
			dev=$(losetup -f --show "$f") || fail "losetup $f failed"
			disks="$disks${disks:+, }'format=raw,vdev=${n%%:*},access=rw,script=$hostile_hotplug,target=$dev'"
		done
		cfg=/run/$dom.cfg
		cat > "$cfg" <<EOF
name = "$dom"
type = "pv"
kernel = "$domu_kernel"
ramdisk = "$domu_initrd"
extra = "console=hvc0 loglevel=4 rdinit=/hostile-init xbc_front=$front xbc_fp=$fp_front xbc_mq=$mq xbc_rpo=$rpo xbc_ind=$ind xbc_disks=$(IFS=,; echo "${names[*]}")"
memory = 256
vcpus = $vcpus
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ $disks ]
EOF
		cp "$cfg" "$sdir/domu-$front.cfg"
		ln -sf "../console/guest-$dom.log" "$sdir/guest-console-$front.log"
	done
	# Both domains at once: together they cost one domU's time.
	[ ${#fails[@]} -eq 0 ] && for dom in "${doms[@]}"; do
		timeout $((300 * slow)) xl -v create "/run/$dom.cfg" > "$sdir/xl-create-${dom##*-}.log" 2>&1 ||
			fail "xl create $dom failed: $(grep -iE 'error|fail' "$sdir/xl-create-${dom##*-}.log" | head -2 | tr '\n' ' ')"
	done
	say "scenario $idx: domains created after $((SECONDS - t0)) s"

	# Each domain: wait for its attacks to finish, detach every disk, let
	# it unload blkfront and power off. In parallel; each is bounded.
	local pids=()
	for dom in "${doms[@]}"; do
		hostile_finish_domain "$dom" "${names[@]}" > "$sdir/finish-${dom##*-}.log" 2>&1 &
		pids+=($!)
	done
	# By pid: a bare wait would also wait for the log's tee (dom0-lib.sh).
	wait "${pids[@]}"
	cat "$sdir"/finish-*.log

	for front in ours intree; do
		dom=xbc-$idx-$front
		glog=$out/console/guest-$dom.log
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

# In a subshell per domain: waits for XBC-DETACH-ME, detaches every disk,
# waits for XBC-END, destroys what is left. Writes nothing but its log.
hostile_finish_domain() {	# dom name...
	dom=$1
	shift
	glog=$out/console/guest-$dom.log
	local n t=$SECONDS
	if ! wait_marker XBC-DETACH-ME $((600 * slow)); then
		say "$dom: never asked for the detach ($((SECONDS - t)) s)"
	else
		say "$dom: attacks done after $((SECONDS - t)) s; detaching"
		# A frontend stuck in its xenwatch stalls every later detach: at
		# most 150 s for all of them, then xl destroy cleans up.
		local until=$(( SECONDS + 150 * slow ))
		for n in "$@"; do
			xl domid "$dom" >/dev/null 2>&1 || break
			glines | grep -q '^XBC-END' && break	# the domU gave up waiting
			[ $SECONDS -lt $until ] || { say "$dom: detach time used up at ${n%%:*}"; break; }
			timeout $((30 * slow)) xl block-detach "$dom" "${n%%:*}" >/dev/null 2>&1 ||
				say "$dom: xl block-detach ${n%%:*} failed or timed out"
		done
		wait_marker XBC-END $((180 * slow)) || say "$dom: no XBC-END"
	fi
	local deadline=$(( SECONDS + 60 * slow ))
	while xl domid "$dom" >/dev/null 2>&1 && [ $SECONDS -lt $deadline ]; do sleep 2; done
	if xl domid "$dom" >/dev/null 2>&1; then
		say "$dom: still running; xl destroy"
		echo "XBC-DOM0 destroyed" >> "$glog"
		xl destroy "$dom"
	fi
	say "$dom: finished after $((SECONDS - t)) s"
}

# One line per disk ("<disk> <attack> <what happened> ok|BAD"), then
# "domU <what> ok|BAD" lines for the whole domain, from its console.
hostile_results() {	# front
	local line disk attack check i=0 letters=abcdefghijklmnopqrstuvwxyz
	for attack in $hostile_attacks; do
		disk=xvd${letters:i:1}
		i=$((i + 1))
		line=$(glines | grep -a "^XBC-HOSTILE $disk " | tail -1)
		if [ -n "$line" ]; then
			line=${line#XBC-HOSTILE }
			# A read that hung and was still stuck after the detach.
			glines | grep -aq "^XBC-HOSTILE-STUCK $disk " &&
				line="${line% *} still-stuck-after-detach ${line##* }"
			echo "$line"
		else
			echo "$disk $attack no result BAD"
		fi
	done
	# Whole domain: crash, warnings, detach, unload.
	if glines | grep -aqE 'Kernel panic|kernel BUG'; then
		echo "domU crashed: $(glines | grep -aE 'Kernel panic|kernel BUG' | head -1 | cut -c1-100) BAD"
	fi
	glines | grep -aq '^XBC-DOM0 destroyed' && echo "domU hung: destroyed by dom0 BAD"
	local warns
	warns=$(glines | grep -aE "$warn_re" | grep -v '^XBC-' | head -2 | cut -c1-100 | tr '\n' '|')
	if [ -n "$warns" ]; then
		echo "domU warnings: $warns BAD"
	else
		echo "domU warnings: none ok"
	fi
	for check in detach unload; do
		line=$(glines | grep -a "^XBC-CHECK $check " | tail -1)
		case "$line" in
		*" ok"*) echo "domU $check: ${line#XBC-CHECK $check ok } ok" ;;
		*FAIL*) echo "domU $check: ${line#XBC-CHECK $check FAIL } BAD" ;;
		*) echo "domU $check: never reported BAD" ;;
		esac
	done
}
