# SPDX-License-Identifier: GPL-2.0-only
# shellcheck disable=SC2034,SC2154 # shares run_scenario's variables (dom0.sh)
# shellcheck shell=bash
# Sourced by dom0.sh: the dom0 side of the stores cell (topo=stores, issue 12
# item 5). Besides xvda (ram0) and the tools disk, the domU gets two disks on
# real backing stores, served by the cell's blkback:
#   xvdc  a file, target=/run/xbc-store-file.img: libxl's block script puts
#         it on a loop device
#   xvdd  an LVM logical volume, xbcvg/lv0, linear on a loop device over a
#         sparse tmpfs file (which discards punch holes in)
# and dom0 checks, against what the domU (domu-stores.sh) reports:
#   resize   on XBC-RESIZE-ME (the domU is running fio verify on xvdd):
#            lvextend the LV and grow the file (truncate + losetup -c); the
#            domU must see both new sizes
#   discard  on XBC-DISCARDED (the domU wrote 48 MiB to xvdd, then
#            blkdiscard'ed it): our ds_req counter of xvdd moved, and the
#            LV's store (the PV's file) holds less than 16 MiB again
#   xentop   at XBC-DETACH-ME (the domU is idle): xentop -b -x shows, per
#            VBD and in the domain's totals, the OO/RD/WR requests and
#            RD/WR sectors our sysfs statistics/ show
# Uses run_scenario's variables (idx, dom, sdir) and fail/say.

stores_file=/run/xbc-store-file.img
stores_pv=/run/xbc-store-pv.img
stores_vg=xbcvg
stores_vdevs="xvdc xvdd"
stores_mib=64		# both disks at first; each grows by stores_grow_mib
stores_grow_mib=32

# lvm without udev (dom0 runs none) and seeing only our PV's loop device.
lvmx() {	# command args...
	local cmd=$1
	shift
	lvm "$cmd" --config "devices { filter=[\"a|^$stores_pv_dev\$|\",\"r|.*|\"] obtain_device_list_from_udev=0 use_devicesfile=0 }
		activation { udev_sync=0 udev_rules=0 } backup { backup=0 archive=0 }" "$@"
}

# Sets up both stores, and stores_disks to their specs for the domU's config.
stores_setup() {
	stores_disks=
	modprobe loop
	modprobe dm-mod
	mkdir -p /run/lock/lvm
	truncate -s "${stores_mib}M" "$stores_file"
	# Room for the LV to grow, and LVM's metadata.
	truncate -s $(( (stores_mib + stores_grow_mib) * 2 + 8 ))M "$stores_pv"
	stores_pv_dev=$(losetup -f --show "$stores_pv") || { fail "stores: losetup of the PV file failed"; return 1; }
	if ! { lvmx pvcreate -q "$stores_pv_dev" && lvmx vgcreate -q "$stores_vg" "$stores_pv_dev" &&
	       lvmx lvcreate -q -y -n lv0 -L "${stores_mib}M" "$stores_vg"; } > "$sdir/lvm-setup.log" 2>&1; then
		fail "stores: LVM set-up failed: $(tail -2 "$sdir/lvm-setup.log" | tr '\n' ' ')"
		return 1
	fi
	[ -b "/dev/$stores_vg/lv0" ] || lvmx vgscan --mknodes >> "$sdir/lvm-setup.log" 2>&1
	say "scenario $idx: stores: file $stores_file, LV /dev/$stores_vg/lv0 on $stores_pv_dev, ${stores_mib} MiB each"
	stores_disks=",
         'format=raw,vdev=xvdc,access=rw,backendtype=phy,target=$stores_file',
         'format=raw,vdev=xvdd,access=rw,backendtype=phy,target=/dev/$stores_vg/lv0'"
}

# Our vbd's sysfs statistic of one of the domU's disks.
vbd_stat() {	# domid devid name
	cat "/sys/bus/xen-backend/devices/vbd-$1-$2/statistics/$3" 2>/dev/null || echo absent
}

# The resize and discard steps, between XBC-READY and XBC-DETACH-ME.
stores_run() {	# domid
	local domid=$1
	# The file disk must be on the block script's loop device.
	local pdev
	pdev=$(xs "/local/domain/0/backend/vbd/$domid/51744/physical-device-path")
	losetup -a > "$sdir/losetup.txt"
	grep -q "$stores_file" "$sdir/losetup.txt" ||
		fail "stores: no loop device over $stores_file (block script; physical-device-path $pdev)"
	say "scenario $idx: stores: xvdc is $pdev"

	if wait_marker XBC-RESIZE-ME 600; then
		local t0=$SECONDS
		if lvmx lvextend -q -L "+${stores_grow_mib}M" "$stores_vg/lv0" > "$sdir/lvextend.log" 2>&1 &&
		   truncate -s "$((stores_mib + stores_grow_mib))M" "$stores_file" &&
		   losetup -c "$(losetup -j "$stores_file" | cut -d: -f1)"; then
			say "scenario $idx: stores: grew the LV and the file by ${stores_grow_mib} MiB in $((SECONDS - t0)) s"
		else
			fail "stores: growing the stores failed: $(tail -2 "$sdir/lvextend.log" | tr '\n' ' ')"
		fi
	else
		fail "stores: the domU never asked for the resize"
	fi

	if wait_marker XBC-DISCARDED 600; then
		local ds pv_kib
		ds=$(vbd_stat "$domid" 51760 ds_req)
		pv_kib=$(du -k "$stores_pv" | cut -f1)
		say "scenario $idx: stores: after the domU's blkdiscard of xvdd: our ds_req $ds, the LV's store $stores_pv holds $pv_kib KiB"
		case "$ds" in
		absent | 0) fail "stores: our blkback counted no discard on xvdd (ds_req $ds)" ;;
		esac
		[ "$pv_kib" -lt 16384 ] ||
			fail "stores: the LV's store still holds $pv_kib KiB after the domU wrote 48 MiB and discarded them: the discard did not reach it"
	else
		fail "stores: the domU never reported its discard"
	fi
}

# xentop's VBD counters against our sysfs, with the domU idle (XBC-DETACH-ME).
stores_xentop() {	# domid
	local domid=$1 d dev before after
	sysfs_stats() {
		for d in /sys/bus/xen-backend/devices/vbd-"$domid"-*; do
			dev=${d##*-}
			echo "$dev $(cat "$d"/statistics/{oo_req,rd_req,wr_req,rd_sect,wr_sect} | paste -sd ' ')"
		done | sort
	}
	before=$(sysfs_stats)
	xentop -b -x -i 1 > "$sdir/xentop.txt" 2>&1
	after=$(sysfs_stats)
	[ "$before" = "$after" ] || fail "xentop: our counters moved while the domU was to be idle"
	# Per VBD: "VBD BlkBack <dev> [ca:NN] OO: n RD: n WR: n RSECT: n WSECT: n";
	# the domain's line: ... VBDS VBD_OO VBD_RD VBD_WR VBD_RSECT VBD_WSECT SSID
	# (counted from the end: MAXMEM(k) can be the two words "no limit").
	local shown totals want_totals
	shown=$(awk '$1 == "VBD" { for (i = 1; i < NF; i++) v[$i] = $(i + 1);
		print $3, v["OO:"], v["RD:"], v["WR:"], v["RSECT:"], v["WSECT:"] }' "$sdir/xentop.txt" | sort)
	totals=$(awk -v dom="$dom" '$1 == dom { print $(NF-6), $(NF-5), $(NF-4), $(NF-3), $(NF-2), $(NF-1) }' "$sdir/xentop.txt")
	want_totals=$(echo "$after" | awk '{ n++; for (i = 2; i <= 6; i++) s[i] += $i }
		END { print n, s[2], s[3], s[4], s[5], s[6] }')
	printf 'sysfs: %s\n' "$after" >> "$sdir/xentop.txt"
	if [ "$shown" = "$after" ] && [ "$totals" = "$want_totals" ]; then
		say "scenario $idx: xentop -b -x shows our counters for all $(echo "$after" | wc -l) VBDs (VBDS OO RD WR RSECT WSECT: $totals)"
	else
		fail "xentop: VBD counters differ from our sysfs: xentop '$(echo "$shown" | tr '\n' '|')' totals '$totals', sysfs '$(echo "$after" | tr '\n' '|')' totals '$want_totals'"
	fi
}

# After the domain is gone: the LV, VG, PV and their files.
stores_teardown() {
	{
		lvmx vgchange -q -an "$stores_vg"
		lvmx vgremove -q -f "$stores_vg"
		losetup -d "$stores_pv_dev"
	} >> "$sdir/lvm-setup.log" 2>&1 || fail "stores: tearing down the LVM store failed: $(tail -1 "$sdir/lvm-setup.log")"
	rm -f "$stores_pv" "$stores_file"
}
