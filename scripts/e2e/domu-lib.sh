# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=sh
# Sourced by the domU inits (/init = domu-init, /bench-init): mounts, the
# kernel command line, the XBC-CHECK helpers; loads the ext4 stack in the
# background and the chosen blkfront with its parameters, and waits for the
# data disk xvda and the tools disk xvdb (XBC-BLKFRONT, XBC-QUEUES,
# XBC-READY); then mounts the tools disk on /tools (tools=yes) for run_tool.
export PATH=/bin:/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp

# xbc_<name>=<value> on the kernel command line sets $<name>.
front=intree fp=1 mq=4 rpo=0 ind=32 reattach=0 pkgver=none stores=0 fparam=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	xbc_[a-z]*=*)
		name=${arg%%=*}
		eval "${name#xbc_}=\${arg#*=}" ;;
	esac
done

up() { cut -d' ' -f1 /proc/uptime; }
check_ok() { echo "XBC-CHECK $1 ok${2:+ ($2)} [t=$(up)]"; }
check_fail() { echo "XBC-CHECK $1 FAIL $2 [t=$(up)]"; }

# Waits up to $2 seconds for the shell condition $1.
wait_for() {
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ "$i" -gt "$2" ] && return 1
		sleep 1
	done
	return 0
}

warn_re='WARNING:|BUG:|Oops|Call Trace|kernel BUG|general protection|KASAN'

# The ext4 stack loads in the background while blkfront connects: module
# loading is slow under TCG, and the connect mostly waits on dom0.
(
	for ko in $(cat /lib/mods/order); do
		# crc32c-intel needs SSE4.2, which -cpu qemu64 lacks; crc32c_generic covers it.
		insmod "/lib/mods/$ko" 2>/dev/null
	done
) &
ext4_loader=$!

ko=/lib/xbc/$front/xen-blkfront.ko
before=$(cut -d' ' -f1 /proc/modules)
front_mod=
blkfront_params="feature_persistent=$fp max_queues=$mq max_ring_page_order=$rpo max_indirect_segments=$ind${fparam:+ $fparam}"
# shellcheck disable=SC2086 # the parameters are words
if [ "$front" = pkg ]; then
	# The package as installed (front=pkg): by name, through the installed
	# tree's modules.dep, as a guest's initramfs loads it. It must be ours:
	# the package's version (the in-tree driver carries none).
	if modprobe xen-blkfront $blkfront_params; then
		front_mod=xen_blkfront
		got=$(cat /sys/module/xen_blkfront/version 2>/dev/null || echo none)
		if [ "$got" = "$pkgver" ]; then
			check_ok load "modprobe xen-blkfront: $(modprobe -D xen-blkfront | tail -n 1 | cut -d' ' -f2) version $got: $blkfront_params"
		else
			check_fail load "modprobe xen-blkfront loaded version '$got' ($(modprobe -D xen-blkfront | tail -n 1)), not the package's '$pkgver'"
		fi
	else
		check_fail load "modprobe xen-blkfront failed"
	fi
	# From here on it is our frontend.
	front=ours
elif [ ! -f "$ko" ]; then
	check_fail load "no $front blkfront in the initramfs"
elif insmod "$ko" $blkfront_params; then
	for m in $(cut -d' ' -f1 /proc/modules); do
		echo "$before" | grep -qx "$m" || front_mod=$m
	done
	check_ok load "$front blkfront as module $front_mod: $blkfront_params"
else
	check_fail load "insmod $ko failed"
fi

# fio and the other tools, once the tools disk is mounted on /tools.
LD=/tools/lib/ld-linux-x86-64.so.2
run_tool() { t=$1; shift; "$LD" --library-path /tools/lib "/tools/bin/$t" "$@"; }

# A caller with disks of its own (hostile-back-domu-init) waits for them itself.
[ "${xbc_own_disks:-}" = yes ] && return 0

if wait_for '[ -b /dev/xvda ] && [ -b /dev/xvdb ]' 180; then
	dmesg | grep 'blkfront: xvda:' | sed 's/^/XBC-BLKFRONT /'
	echo "XBC-QUEUES $(ls -d /sys/block/xvda/mq/* 2>/dev/null | wc -l)"
	echo "XBC-READY [t=$(up)]"
	disks=yes
else
	check_fail devices "xvda/xvdb did not appear within 180 s"
	disks=no
fi

wait "$ext4_loader"
tools=no
if [ "$disks" = yes ] && mount -t ext4 -o ro /dev/xvdb /tools; then
	tools=yes
fi
