# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Host-side pieces shared by scripts/xen-e2e and scripts/bench (sourced):
# the .ko check, the per-clone run lock, and starting and watching the one
# QEMU that boots Xen with a given dom0 kernel. Which Debian release is "6.1"
# or "6.12" is scripts/debian-kver's to say.

# Our modules must match the booted kernel exactly (vermagic, modversions).
ko_problem() {	# ko kver -> prints why it cannot be used there, or nothing
	[ -f "$1" ] || { echo "$1 not built (scripts/build-modules /usr/src/linux-headers-$2)"; return; }
	local vm
	vm=$(modinfo -F vermagic "$1" 2>/dev/null | cut -d' ' -f1)
	[ "$vm" = "$2" ] || echo "$1 is built for '$vm', the booted kernel is $2 (scripts/build-modules /usr/src/linux-headers-$2)"
}

# One run at a time per clone: two QEMUs on 2 cores starve each other, and
# the artifacts in build/e2e are shared. A second run waits here (fd 9).
lock_e2e_dir() {	# dir
	exec 9> "$1/.lock"
	if ! flock -n 9; then
		echo "# another ${0##*/} run holds $1/.lock; waiting for it"
		flock 9
	fi
}

# Starts Xen under QEMU in the background and sets qemu_pid, qemu_start and
# qemu_limit. Xen boots e2e_dir/xen.elf with dom0 kernel kver (the
# per-kernel artifacts in e2e_dir/kver/ of scripts/e2e/build-artifacts);
# dom0 mounts root (9p "root") as its root, runs dom0_script with the plan in
# plan_dir, and writes to logs/out (9p "out"). The console goes to
# logs/serial-<kver>.log, QEMU's own output to logs/qemu-<kver>.log. The
# remaining arguments are QEMU's accelerator, CPU count and memory options.
start_xen() {	# logs e2e_dir kver limit root dom0_script plan_dir xen_args qemu-options...
	local logs=$1 dir=$2 kver=$3 root=$5 script=$6 plan=$7 xen_args=$8
	qemu_limit=$4
	shift 8
	mkdir -p "$logs/out"
	timeout -k 15 "$qemu_limit" qemu-system-x86_64 "$@" -cpu qemu64 \
		-display none -monitor none -serial "file:$logs/serial-$kver.log" -no-reboot -nic none \
		-kernel "$dir/xen.elf" \
		-append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all $xen_args bootscrub=0 ucode=no" \
		-initrd "$dir/$kver/vmlinux console=hvc0 earlyprintk=xen loglevel=7 xbc_dom0=$script xbc_plan=$plan,$dir/$kver/dom0.cpio.gz" \
		-virtfs "local,path=$root,mount_tag=root,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$logs/out,mount_tag=out,security_model=none" \
		< /dev/null > "$logs/qemu-$kver.log" 2>&1 &
	qemu_pid=$!
	qemu_start=$SECONDS
	trap 'kill "$qemu_pid" 2>/dev/null' EXIT INT TERM
}

# Waits for that QEMU, echoing each line dom0 appends to out/results (the
# share may already hold an earlier boot's); sets qemu_rc. Once dom0 wrote
# "DONE <kver>", QEMU gets 60 s to power off before it is killed (a dom0 that
# panics on the way leaves Xen waiting to reboot).
watch_xen() {	# logs kver
	local seen=0 total line done_at=
	if [ -f "$1/out/results" ]; then seen=$(wc -l < "$1/out/results"); fi
	while kill -0 "$qemu_pid" 2>/dev/null; do
		sleep 5
		[ -f "$1/out/results" ] || continue
		if [ -z "$done_at" ] && grep -qx "DONE $2" "$1/out/results"; then
			done_at=$SECONDS
		elif [ -n "$done_at" ] && [ $((SECONDS - done_at)) -gt 60 ]; then
			echo "# dom0 $2 is done but QEMU did not exit; killing it"
			kill "$qemu_pid" 2>/dev/null
		fi
		total=$(wc -l < "$1/out/results")
		while [ "$seen" -lt "$total" ]; do
			seen=$((seen + 1))
			line=$(sed -n "${seen}p" "$1/out/results")
			echo "# progress after $((SECONDS - qemu_start)) s: $line"
		done
	done
	qemu_rc=0
	wait "$qemu_pid" || qemu_rc=$?
	trap - EXIT INT TERM
	echo "# QEMU (dom0 $2) exited with $qemu_rc after $((SECONDS - qemu_start)) s"
	if [ "$qemu_rc" = 124 ]; then echo "# QEMU hit the $qemu_limit s time limit and was killed"; fi
}
