#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# scripts/build-modules with a relative OUTDIR, called from another
# directory than the repo: the modules must land in that directory, taken
# relative to the caller (kbuild itself runs in KDIR, where a relative M=
# would point elsewhere).
#
# usage: tests/build/build-modules-test.sh [KDIR]   (default: newest headers)
# Prints "build-modules: N passed, N failed"; exits non-zero on a failure.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KDIR=${1:-$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)}
WORK=$(mktemp -d /tmp/build-modules-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

if (cd "$WORK" && "$ROOT/scripts/build-modules" "$KDIR" out/rel) > "$WORK/run.log" 2>&1; then
	pass "build-modules KDIR out/rel (run from $WORK) exits 0"
else
	fail "build-modules KDIR out/rel exits non-zero:"
	tail -n 8 "$WORK/run.log" | sed 's/^/    /'
fi
for m in xen-blkfront xen-blkback; do
	if [ -f "$WORK/out/rel/$m.ko" ]; then
		pass "$m.ko is in the relative OUTDIR"
	else
		fail "$m.ko is not in $WORK/out/rel"
	fi
done

echo "build-modules: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
