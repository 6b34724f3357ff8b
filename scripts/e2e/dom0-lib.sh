# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Sourced by the dom0 scripts (dom0.sh, bench-dom0.sh) right after
# switch_root: reads xbc_plan= from the kernel command line, mounts the
# results share "out" (dom0's output goes there too), sources the plan's env
# and brings up the Xen toolstack: oxenstored, xen-init-dom0, xenconsoled
# logging each guest console to out/console/. Sets kver to this dom0's kernel
# release (one results share serves one Xen boot per dom0 kernel).
plan_dir=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	xbc_plan=*) plan_dir=${arg#xbc_plan=} ;;
	esac
done

# init must not exit before Xen powers off (a panic, and QEMU lingers): with
# icount sleep=off a plain "sleep 60" is over at once.
power_off() {
	sync
	echo o > /proc/sysrq-trigger
	while :; do sleep 60; done
}

# devtmpfs has no /dev/fd or /dev/stdin; the hotplug scripts' locking loops
# forever on "stat -L /dev/stdin" without them.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr

# xenconsoled gives each guest console a pty.
mkdir -p /dev/pts
mount -t devpts -o ptmxmode=0666 devpts /dev/pts
[ -e /dev/ptmx ] || ln -sf pts/ptmx /dev/ptmx
# A fresh /run (the host's is visible through the overlay). /tmp stays the
# overlay's: a clone may live under /tmp and must stay visible.
mount -t tmpfs tmpfs /run
mkdir -p /xbc-out
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /xbc-out; then
	echo "xbc-dom0: FATAL: cannot mount the results share"
	power_off
fi
out=/xbc-out
exec > >(tee -a "$out/dom0.log") 2>&1
say() { echo "xbc-dom0[$(cut -d' ' -f1 /proc/uptime)]: $*"; }

# shellcheck source=/dev/null
. "$plan_dir/env"	# E2E_DIR BACK_KO SLOW, and the caller's own
slow=${SLOW:-1}

say "bringing up the toolstack"
mkdir -p /proc/xen /run/xenstored /run/xen /var/log/xen /var/lib/xen /var/run/xen-hotplug "$out/console"
mount -t xenfs xenfs /proc/xen
modprobe -a xen-evtchn xen-gntdev xen-gntalloc xen-privcmd
XENSTORED_ROOTDIR=/run/xenstored oxenstored --pid-file /run/xenstored.pid
for _ in $(seq 60); do
	xenstore-read -s / >/dev/null 2>&1 && break
	sleep 1
done
xen-init-dom0
# Guest consoles are logged straight onto the results share, so the host
# sees them live and keeps them even if dom0 dies.
xenconsoled --log=guest --log-dir="$out/console"
# (Not uname -r: a root from tests/build/dkms-test.sh has a uname that names
# its newest kernel, whatever runs.)
kver=$(cat /proc/sys/kernel/osrelease)
xl info > "$out/xl-info-$kver.txt" 2>&1

# brd RAM disks /dev/ram0.. of rd_kib KiB each (at least 128 MiB, and room for
# the tools image); /dev/ram1 gets the tools image.
ram_disks() {	# count
	local tools_kib=$(( ($(stat -c %s "$E2E_DIR/tools.img") + 1023) / 1024 ))
	rd_kib=$(( tools_kib > 131072 ? tools_kib : 131072 ))
	modprobe brd rd_nr="$1" rd_size=$rd_kib
	dd if="$E2E_DIR/tools.img" of=/dev/ram1 bs=1M conv=fsync 2>/dev/null
}

# The go token of /bench-init (bench-domu-init): a 4 KiB block at 100 MiB
# of a guest's data disk, read by the guest with O_DIRECT.
token_block=25600	# 4 KiB blocks: 100 MiB
set_token() {	# disk text
	printf '%s\n' "$2" | dd of="$1" bs=4k seek=$token_block count=1 conv=sync oflag=direct 2>/dev/null
}

warn_re='WARNING:|BUG:|Oops|Call Trace|kernel BUG|general protection|KASAN'

# Waits for a marker line in the guest console log $glog of domain $dom,
# polling every $3 seconds (default 2; the faults cells' lock-step hotplug
# cycles poll faster). Returns 1 on timeout or when the domain is gone
# (checked every 10 s: xl is slow to start under TCG).
wait_marker() {	# marker seconds [poll]
	local deadline=$(( SECONDS + $2 * slow )) next_check=$(( SECONDS + 10 ))
	while [ $SECONDS -lt $deadline ]; do
		glines | grep -q "^$1" && return 0
		if [ $SECONDS -ge $next_check ]; then
			next_check=$(( SECONDS + 10 ))
			if ! xl domid "$dom" >/dev/null 2>&1; then
				glines | grep -q "^$1"
				return
			fi
		fi
		sleep "${3:-2}"
	done
	return 1
}

# After the detach: the domU $dom must reach XBC-END and power off within
# 60 s; fail()s otherwise (and destroys it).
await_poweroff() {
	wait_marker XBC-END 300 || fail "domU never reached XBC-END after detach"
	local deadline=$(( SECONDS + 60 * slow ))
	while xl domid "$dom" >/dev/null 2>&1 && [ $SECONDS -lt $deadline ]; do sleep 2; done
	if xl domid "$dom" >/dev/null 2>&1; then
		fail "domU $dom did not power off"
		xl destroy "$dom"
	fi
}

xs() { xenstore-read "$1" 2>/dev/null || echo absent; }

# The guest console log, without the carriage returns the tty adds.
glines() { tr -d '\r' < "$glog" 2>/dev/null; }


# Saves dom0's dmesg to a file; fail()s on any warning in it.
check_dmesg() {	# file
	dmesg > "$1"
	local bad
	bad=$(grep -E "$warn_re" "$1" | head -3 | tr '\n' '|')
	[ -z "$bad" ] || fail "dom0 dmesg: $bad"
}

# Reports a scenario or cell to the host: RESULT <idx> ok, or fail and the
# reasons collected in the fails array.
report_result() {	# idx
	if [ ${#fails[@]} -eq 0 ]; then
		echo "RESULT $1 ok" >> "$out/results"
	else
		local IFS='; '
		echo "RESULT $1 fail ${fails[*]}" >> "$out/results"
	fi
}

# Runs a function on each line of the plan, then tells the host this boot
# is done (DONE <kver>) and powers off.
run_plan() {	# function
	local line
	while read -r line; do
		case "$line" in ''|'#'*) continue ;; esac
		# shellcheck disable=SC2086
		"$1" $line
	done < "$plan_dir/plan"
	say "all scenarios done"
	echo "DONE $kver" >> "$out/results"
	power_off
}
