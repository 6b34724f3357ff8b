# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Host-side pieces shared by scripts/xen-e2e and scripts/bench (sourced):
# the stock kernel, the .ko check, the per-clone run lock, and starting and
# watching the one QEMU that boots Xen.

# The stock kernel is whatever linux-image-amd64 points at (6.1.0-56-amd64 today).
stock_kver() {
	dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null | sed -n 's/^linux-image-\([^ ,]*\).*/\1/p'
}

# Our modules must match the booted kernel exactly (vermagic, modversions).
ko_problem() {	# ko kver -> prints why it cannot be used, or nothing
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
		echo "# another run holds $1/.lock; waiting for it"
		flock 9
	fi
}

# Starts Xen under QEMU in the background and sets qemu_pid. dom0 runs
# dom0_script with the plan in plan_dir, and writes to logs/out (9p "out").
# The remaining arguments are QEMU's accelerator, CPU and memory options.
start_xen() {	# logs limit e2e_dir dom0_script plan_dir xen_args qemu-options...
	local logs=$1 limit=$2 dir=$3 script=$4 plan=$5 xen_args=$6
	shift 6
	mkdir -p "$logs/out"
	timeout -k 15 "$limit" qemu-system-x86_64 "$@" -cpu qemu64 \
		-display none -monitor none -serial "file:$logs/serial.log" -no-reboot -nic none \
		-kernel "$dir/xen.elf" \
		-append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all bootscrub=0 ucode=no $xen_args" \
		-initrd "$dir/vmlinux console=hvc0 earlyprintk=xen loglevel=7 xbc_dom0=$script xbc_plan=$plan,$dir/dom0.cpio.gz" \
		-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$logs/out,mount_tag=out,security_model=none" \
		< /dev/null > "$logs/qemu.log" 2>&1 &
	qemu_pid=$!
	qemu_start=$SECONDS
	trap 'kill "$qemu_pid" 2>/dev/null' EXIT INT TERM
}

# Waits for that QEMU, echoing each new line dom0 appends to out/results;
# sets qemu_rc. Once dom0 wrote DONE, QEMU gets 60 s to power off before it
# is killed (a dom0 that panics on the way leaves Xen waiting to reboot).
watch_xen() {	# logs
	local seen=0 total line done_at=
	while kill -0 "$qemu_pid" 2>/dev/null; do
		sleep 5
		[ -f "$1/out/results" ] || continue
		if [ -z "$done_at" ] && grep -q '^DONE' "$1/out/results"; then
			done_at=$SECONDS
		elif [ -n "$done_at" ] && [ $((SECONDS - done_at)) -gt 60 ]; then
			echo "# dom0 is done but QEMU did not exit; killing it"
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
	echo "# QEMU exited with $qemu_rc after $((SECONDS - qemu_start)) s"
	if [ "$qemu_rc" = 124 ]; then echo "# QEMU hit its time limit and was killed"; fi
}
