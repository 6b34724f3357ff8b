# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=sh
# Sourced by domu-init in the stores cell (xbc_stores=1) with the tools disk
# mounted: the domU side of dom0-stores.sh. xvdc is a file in dom0 (on the
# block script's loop device), xvdd an LVM logical volume.
#   filedisk  fio verify on xvdc
#   resize    XBC-RESIZE-ME; dom0 grows both disks by 32 MiB while fio
#             verifies on xvdd (short runs, one after the other, until the
#             new sizes show); both sizes grow, blkfront says so, and fio
#             verifies the new space at the end of xvdd
#   discard   48 MiB written to xvdd, then blkdiscard of all of it;
#             XBC-DISCARDED: dom0 checks its store and our ds_req

# fio random writes with a crc32c verify, fatal on the first mismatch.
store_fio() {	# log fio-args...
	log=$1
	shift
	run_tool fio --name=xbc-store --direct=1 --ioengine=libaio --iodepth=8 \
		--rw=randwrite --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0 --randrepeat=0 "$@" > "$log" 2>&1 &&
		! grep -qi 'verify:.*bad\|crc32c: verify failed' "$log"
}

size_of() { cat "/sys/block/$1/size"; }

if ! wait_for '[ -b /dev/xvdc ] && [ -b /dev/xvdd ]' 120; then
	check_fail stores "xvdc/xvdd did not appear within 120 s"
	# dom0 need not wait out its timeouts: its own checks fail too.
	echo "XBC-RESIZE-ME (no disks)"
	echo "XBC-DISCARDED (no disks)"
else
	if store_fio /tmp/fio-file.log --filename=/dev/xvdc --size=32M --bssplit=4k/50:64k/50; then
		check_ok filedisk "fio randwrite+verify 32 MiB on the file-backed xvdc"
	else
		tail -20 /tmp/fio-file.log | sed 's/^/XBC-FIO-FILE /'
		check_fail filedisk "fio verify failed on xvdc"
	fi

	c0=$(size_of xvdc) d0=$(size_of xvdd)
	rm -f /tmp/resized /tmp/fio-runs
	(
		n=0
		while [ ! -e /tmp/resized ]; do
			n=$((n + 1))
			store_fio /tmp/fio-resize.log --filename=/dev/xvdd --size=4M --bs=4k ||
				{ echo "FAIL $n" > /tmp/fio-runs; exit 1; }
		done
		echo "$n" > /tmp/fio-runs
	) &
	fio_loop=$!
	echo "XBC-RESIZE-ME xvdc=$c0 xvdd=$d0 [t=$(up)]"
	# A backend sees a resize when its ring next runs: read xvdc now and then.
	if wait_for 'dd if=/dev/xvdc of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null;
			[ "$(size_of xvdc)" -gt "$c0" ] && [ "$(size_of xvdd)" -gt "$d0" ]' 300; then
		running=no
		kill -0 "$fio_loop" 2>/dev/null && running=yes
		touch /tmp/resized
		wait "$fio_loop"
		c1=$(size_of xvdc) d1=$(size_of xvdd)
		runs=$(cat /tmp/fio-runs 2>/dev/null)
		if [ "$running" = no ] || [ "${runs#FAIL}" != "$runs" ]; then
			tail -20 /tmp/fio-resize.log | sed 's/^/XBC-FIO-RESIZE /'
			check_fail resize "fio on xvdd across the resize: ${runs:-no result} (still running when the size changed: $running)"
		elif store_fio /tmp/fio-new.log --filename=/dev/xvdd --offset=$((d0 * 512)) \
				--size=$(((d1 - d0) * 512)) --bs=64k; then
			check_ok resize "xvdc $c0 -> $c1, xvdd $d0 -> $d1 sectors, while $runs fio verify runs went on on xvdd; the new $(((d1 - d0) / 2048)) MiB verified too; $(dmesg | grep -ci 'setting capacity') capacity message(s)"
		else
			tail -20 /tmp/fio-new.log | sed 's/^/XBC-FIO-NEW /'
			check_fail resize "fio verify failed in the new space of xvdd"
		fi
		dmesg | grep -i 'setting capacity' | sed 's/^/XBC-CAPACITY /'
	else
		touch /tmp/resized
		wait "$fio_loop"
		check_fail resize "sizes still xvdc $(size_of xvdc) (was $c0), xvdd $(size_of xvdd) (was $d0) 300 s after XBC-RESIZE-ME"
	fi

	if dd if=/dev/zero of=/dev/xvdd bs=1M count=48 oflag=direct 2>/dev/null &&
	   blkdiscard /dev/xvdd; then
		check_ok discard "48 MiB written to xvdd, then all $(size_of xvdd) sectors discarded (discard_max_bytes $(cat /sys/block/xvdd/queue/discard_max_bytes))"
	else
		check_fail discard "writing or discarding xvdd failed (discard_max_bytes $(cat /sys/block/xvdd/queue/discard_max_bytes))"
	fi
	echo "XBC-DISCARDED [t=$(up)]"
fi
