#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# DKMS build of the packaged sources against every installed kernel headers
# tree, in a throwaway DKMS tree (--dkmstree/--sourcetree/--installtree), so
# /var/lib/dkms and /lib/modules are never touched.
#
# usage: tests/build/dkms-test.sh [DEB]
#   DEB: a xen-blkcxx-dkms .deb (from `make deb`); its /usr/src tree is what
#        gets built. Without it, the sources are staged with `make dist-src`.
# Per kernel: dkms build succeeds, and both .ko files come out. Prints
# "dkms: N passed, N failed" last; exits non-zero on a failure.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAME=xen-blkcxx
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$ROOT/dkms.conf")
WORK=$(mktemp -d /tmp/dkms-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src" "$WORK/dkms" "$WORK/install"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

if [ $# -ge 1 ]; then
	dpkg-deb -x "$1" "$WORK/deb" || { echo "cannot unpack $1" >&2; exit 2; }
	mv "$WORK/deb/usr/src/$NAME-$VERSION" "$WORK/src/"
else
	make -s -C "$ROOT" dist-src DEST="$WORK/src/$NAME-$VERSION" > /dev/null
fi

tree="--dkmstree $WORK/dkms --sourcetree $WORK/src --installtree $WORK/install"
# dkms signs what it builds, generating a key in /var/lib/dkms unless told
# otherwise; keep that in the throwaway tree too (dkms reads these from the
# environment when framework.conf leaves them unset, as Debian's does).
export mok_signing_key="$WORK/mok.key" mok_certificate="$WORK/mok.pub"
# shellcheck disable=SC2086
if dkms add -m "$NAME" -v "$VERSION" $tree > "$WORK/add.log" 2>&1; then
	pass "dkms add $NAME/$VERSION"
else
	fail "dkms add $NAME/$VERSION"; sed 's/^/    /' "$WORK/add.log"
fi

for kdir in $(ls -d /usr/src/linux-headers-*-amd64 | sort -V); do
	[ -f "$kdir/Makefile" ] || continue
	kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")
	log=$WORK/build-$kver.log
	# shellcheck disable=SC2086
	if dkms build -m "$NAME" -v "$VERSION" -k "$kver" --kernelsourcedir "$kdir" $tree > "$log" 2>&1; then
		pass "dkms build for $kver"
	else
		fail "dkms build for $kver"; tail -n 30 "$log" | sed 's/^/    /'
		tail -n 30 "$WORK/dkms/$NAME/$VERSION/build/make.log" 2>/dev/null | sed 's/^/    /'
	fi
	for m in xen-blkfront xen-blkback; do
		ko=$(find "$WORK/dkms/$NAME/$VERSION/$kver" -name "$m.ko*" 2>/dev/null | head -n 1)
		if [ -n "$ko" ]; then
			pass "$m for $kver ($(basename "$ko"))"
		else
			fail "$m for $kver: no module in the DKMS tree"
		fi
	done
done

echo "dkms: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
