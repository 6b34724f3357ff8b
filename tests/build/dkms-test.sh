#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Installs the DKMS package as a user would and checks that the system then
# uses our modules, and the in-tree ones again once it is removed.
#
# usage: tests/build/dkms-test.sh [--e2e] DEB   (DEB: from `make deb`; needs root)
#   --e2e: also, while the package is installed, boot Xen (scripts/xen-e2e,
#          under the QEMU lock) with this root as dom0's, and run the cells
#          whose modules are the package's: dom0 loads its blkback by
#          `modprobe xen-blkback`, the domU its blkfront by `modprobe
#          xen-blkfront` (this root's tree, in the domU's initramfs).
#
# Everything happens in a throwaway root: an overlay of / whose writable
# layer is a tmpfs, in a private mount namespace, entered with chroot. The
# host's /lib/modules, /boot, /var/lib/dkms and dpkg database are never
# written, so a Xen e2e run (its dom0 mounts the host's / read-only) still
# sees the in-tree drivers, and a crash leaves nothing but an empty
# directory in /tmp.
#
# First lintian (errors and warnings fail), and the BUILD_EXCLUSIVE_CONFIG
# check. Then in the throwaway root:
#   1. apt-get install ./DEB (no --force: the package must install on its
#      own); then for each installed kernel with headers, xen-blkfront and
#      xen-blkback resolve, for modinfo -k and modprobe, to
#      updates/dkms/ with the package's version, and that kernel's
#      initramfs holds our xen-blkfront;
#   2. apt-get remove: the in-tree drivers resolve again, in the initramfs too;
#   3. apt-get purge (if remove left anything to purge): nothing of the
#      package is left, in-tree still resolves.
# Prints "dkms: N passed, N failed" last; exits non-zero on a failure.
set -u

# Mounts made from here on vanish with this process's mount namespace.
if [ -z "${XBC_DKMS_TEST_NS:-}" ]; then
	exec env XBC_DKMS_TEST_NS=1 unshare --mount --propagation private "$0" "$@"
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
e2e=no
if [ "${1:-}" = --e2e ]; then
	e2e=yes
	shift
fi
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: $0 [--e2e] DEB" >&2
	exit 2
fi
DEB=$(realpath "$1")
PKG=$(dpkg-deb -f "$DEB" Package)
VERSION=$(dpkg-deb -f "$DEB" Version)
NAME=${PKG%-dkms}
MODULES="xen-blkfront xen-blkback"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
	echo "dkms: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# The overlay's lower layer is the root filesystem alone: what the package
# touches must live on it.
for d in /usr /var /boot /lib/modules /etc; do
	if [ "$(stat -c %d "$d")" != "$(stat -c %d /)" ]; then
		fail "$d is not on the root filesystem; the throwaway root needs it there"
		finish
	fi
done
# dpkg's state of the package in ROOT (the host's is /): empty or
# not-installed when dpkg has nothing of it.
dpkg_state() {
	dpkg-query --root="$1" -W -f '${db:Status-Status}' "$PKG" 2>/dev/null
}
case $(dpkg_state /) in
"" | not-installed) ;;
*)
	fail "$PKG is installed on this machine; the test starts from a machine without it"
	finish
	;;
esac

# All state in one tmpfs: unmounting it is the whole cleanup (no rm -rf
# near the bind mounts of /dev, /proc and /sys).
WORK=$(mktemp -d /tmp/dkms-test.XXXXXX)
trap 'umount -R "$WORK" 2>/dev/null; rmdir "$WORK"' EXIT
R=$WORK/root
if ! { mount -t tmpfs -o size=4g xbc-dkms-test "$WORK" &&
	mkdir "$WORK/upper" "$WORK/work" "$R" &&
	mount -t overlay -o "lowerdir=/,upperdir=$WORK/upper,workdir=$WORK/work" xbc-dkms-test "$R" &&
	mount --rbind /proc "$R/proc" && mount --rbind /sys "$R/sys" && mount --rbind /dev "$R/dev"; }; then
	fail "cannot set up the throwaway root (needs root and overlayfs)"
	finish
fi
cp "$DEB" "$R/tmp/"

in_root() {
	chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
		DEBIAN_FRONTEND=noninteractive "$@"
}

# Test speed only (a minute less per initramfs): xen-blkfront, as on a
# guest booting from xvda, and no other driver; light compression. With
# Debian's MODULES=most it gets in by the same path (manual_add_modules,
# by name through modules.dep).
if [ -f "$R/etc/initramfs-tools/initramfs.conf" ]; then
	printf 'MODULES=list\nCOMPRESSLEVEL=1\n' >> "$R/etc/initramfs-tools/initramfs.conf"
	echo xen-blkfront >> "$R/etc/initramfs-tools/modules"
fi

# Installed kernels with headers, as DKMS finds them.
kernels=
for build in /lib/modules/*/build; do
	[ -f "$build/Makefile" ] || continue
	kver=${build#/lib/modules/}
	kernels="$kernels ${kver%/build}"
done
[ -n "$kernels" ] || { fail "no installed kernel with headers"; finish; }

# The throwaway root runs the newest of them, as a machine does after its
# last kernel upgrade, whatever this one runs: then dkms by default builds
# for that kernel only, and the package must still cover the older ones.
# (/usr/sbin: it comes before /usr/bin in apt's DPkg::Path.)
# shellcheck disable=SC2086 # one kernel a line
newest=$(printf '%s\n' $kernels | sort -V | tail -n 1)
printf '#!/bin/sh\n[ "$*" = -r ] && echo %s || exec /usr/bin/uname "$@"\n' "$newest" \
	> "$R/usr/sbin/uname"
chmod +x "$R/usr/sbin/uname"

# resolves KVER WHERE: every module resolves for modinfo -k and modprobe to
# WHERE (ours: updates/dkms at the package's version; in-tree:
# kernel/drivers/block).
resolves() {
	kver=$1 where=$2
	for m in $MODULES; do
		file=$(in_root modinfo -k "$kver" -F filename "$m" 2>&1)
		loads=$(in_root modprobe -S "$kver" --show-depends "$m" 2>&1 | tail -n 1)
		case $where in
		ours)
			version=$(in_root modinfo -k "$kver" -F version "$m" 2>&1)
			case $file in
			"/lib/modules/$kver/updates/dkms/$m.ko"*) ;;
			*) fail "$kver $m: modinfo resolves to '$file', not updates/dkms"; continue ;;
			esac
			[ "$version" = "$VERSION" ] ||
				{ fail "$kver $m: version '$version', the package is $VERSION"; continue; }
			;;
		in-tree)
			case $file in
			"/lib/modules/$kver/kernel/drivers/block/"*) ;;
			*) fail "$kver $m: modinfo resolves to '$file', not the in-tree driver"; continue ;;
			esac
			;;
		esac
		case $loads in
		"insmod $file"*) pass "$kver $m: modinfo and modprobe resolve to $where ($file)" ;;
		*) fail "$kver $m: modinfo resolves to $file but modprobe would do '$loads'" ;;
		esac
	done
}

# initramfs_has KVER WHERE: the kernel's initramfs holds the xen-blkfront
# modprobe resolves to (ours in updates/dkms, or the in-tree one).
initramfs_has() {
	kver=$1 where=$2
	initrd=/boot/initrd.img-$kver
	if ! in_root sh -c 'command -v lsinitramfs' > /dev/null || [ ! -f "$R$initrd" ]; then
		echo "     ($kver has no initramfs-tools initramfs: not checked)"
		return
	fi
	got=$(in_root lsinitramfs "$initrd" | grep '/xen-blkfront\.ko')
	case $where in
	ours) want=updates/dkms/xen-blkfront.ko label=our ;;
	in-tree) want=kernel/drivers/block/xen-blkfront.ko label="the in-tree" ;;
	esac
	case $got in
	*"/$kver/$want"*) pass "$kver initramfs holds $label xen-blkfront" ;;
	*) fail "$kver initramfs: xen-blkfront is '$(printf '%s ' "$got")', not $where" ;;
	esac
}

# apt_get LOG ARGS...: runs apt-get in the throwaway root, quiet unless it fails.
apt_get() {
	log=$WORK/$1.log
	shift
	if in_root apt-get -y "$@" > "$log" 2>&1; then
		pass "apt-get $*"
	else
		fail "apt-get $*"
		tail -n 30 "$log" | sed 's/^/    /'
		make_log=$R/var/lib/dkms/$NAME/$VERSION/build/make.log
		[ -f "$make_log" ] && tail -n 30 "$make_log" | sed 's/^/    make.log: /'
	fi
}

# Debian policy, as lintian checks it (warnings included).
if lintian --fail-on error,warning "$DEB" > "$WORK/lintian.log" 2>&1; then
	pass "lintian $(basename "$DEB")"
else
	fail "lintian $(basename "$DEB"):"
	grep -v 'root privileges' "$WORK/lintian.log" | sed 's/^/    /'
fi

# BUILD_EXCLUSIVE_CONFIG: for a kernel lacking any one of the listed options,
# dkms skips the package (exit 77) instead of failing the build, and with it
# the apt install. Only the option check runs (a fake kernel tree holding
# just the newest kernel's .config minus that option), in a throwaway DKMS
# tree, so this is quick.
src=$WORK/bx/src/$NAME-$VERSION
mkdir -p "$WORK/bx/deb" "$WORK/bx/src" "$WORK/bx/dkms" "$WORK/bx/kernel"
dpkg-deb -x "$DEB" "$WORK/bx/deb" && mv "$WORK/bx/deb/usr/src/$NAME-$VERSION" "$src"
bx="--dkmstree $WORK/bx/dkms --sourcetree $WORK/bx/src --installtree $WORK/bx/install"
options=$(sed -n 's/^BUILD_EXCLUSIVE_CONFIG="\(.*\)"$/\1/p' "$src/dkms.conf")
[ -n "$options" ] || fail "dkms.conf has no BUILD_EXCLUSIVE_CONFIG"
# shellcheck disable=SC2086
mok_signing_key=$WORK/bx/mok.key mok_certificate=$WORK/bx/mok.pub \
	dkms add -m "$NAME" -v "$VERSION" $bx > "$WORK/bx/add.log" 2>&1 ||
	{ fail "dkms add (throwaway tree)"; sed 's/^/    /' "$WORK/bx/add.log"; }
for option in $options; do
	grep -v "^$option=" "/lib/modules/$newest/build/.config" > "$WORK/bx/kernel/.config"
	# shellcheck disable=SC2086
	mok_signing_key=$WORK/bx/mok.key mok_certificate=$WORK/bx/mok.pub \
		dkms build -m "$NAME" -v "$VERSION" -k "$newest" --kernelsourcedir "$WORK/bx/kernel" $bx \
		> "$WORK/bx/build.log" 2>&1
	rc=$?
	if [ $rc -eq 77 ]; then
		pass "a kernel without $option: dkms skips the package"
	else
		fail "a kernel without $option: dkms build exit $rc, not 77 (skipped)"
		tail -n 5 "$WORK/bx/build.log" | sed 's/^/    /'
	fi
done

apt_get install install "/tmp/$(basename "$DEB")"
sed -n 's/^Building for \(.*\)/     (dkms: building for \1)/p' "$WORK/install.log"
# dkms writes this when it declines to replace a module, and still exits 0.
if grep -q 'DKMS will not replace this module' "$WORK/install.log"; then
	fail "dkms declined to install over the in-tree driver:"
	grep -B 2 'DKMS will not replace' "$WORK/install.log" | sed 's/^/    /'
fi
for kver in $kernels; do
	resolves "$kver" ours
	initramfs_has "$kver" ours
done

# dom0 mounts this root (xen-e2e --root), so the package is what it loads;
# the domU's initramfs gets this root's xen-blkfront tree.
if [ $e2e = yes ]; then
	if flock /tmp/xbc-qemu.lock "$ROOT/scripts/xen-e2e" --root "$R" --only '/pkg ' \
		> "$WORK/e2e.log" 2>&1; then
		pass "xen-e2e: dom0 and the domU run the package's modules ($(tail -n 1 "$WORK/e2e.log"))"
	else
		fail "xen-e2e with the package's modules:"
	fi
	grep -E '^(ok|not ok|#   )' "$WORK/e2e.log" | sed 's/^/    /'
fi

apt_get remove remove "$PKG"
for kver in $kernels; do
	resolves "$kver" in-tree
	initramfs_has "$kver" in-tree
done

# Without conffiles, remove already took the package out of dpkg's
# database: then there is nothing to purge.
if [ "$(dpkg_state "$R")" = config-files ]; then
	apt_get purge purge "$PKG"
fi
left=$(cd "$R" && ls -d "var/lib/dkms/$NAME" usr/src/"$NAME"-* 2>/dev/null;
	dpkg_state "$R" | grep -v not-installed)
if [ -z "$left" ]; then
	pass "purge leaves nothing of $PKG"
else
	fail "purge left: $(printf '%s ' "$left")"
fi
for kver in $kernels; do
	resolves "$kver" in-tree
done

finish
