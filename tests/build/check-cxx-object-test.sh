#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Proves that the C++ object check fails the kernel build.
#
# Each case is a one-file C++ module compiled by kbuild through our own rule
# (scripts/kbuild-cxx.mk, so with exactly the modules' flags) in a throwaway
# copy. A bad case must fail the build with check-cxx-object's diagnostic
# for the expected section or symbol, and leave no object behind; the good
# case must build. Cases that the dialect flags already stop at compile
# time (throw, typeid, guarded statics) re-enable the feature for that one
# object (CXXFLAGS_case.o), standing in for someone dropping the flag.
#
# usage: tests/build/check-cxx-object-test.sh [KDIR]
# Prints "check-cxx-object: N passed, N failed"; exits non-zero on a failure.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KDIR=${1:-$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)}
WORK=$(mktemp -d /tmp/check-cxx-object-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0

# run_case NAME EXPECT(ok|the pattern the failure must print) EXTRA_CXXFLAGS SOURCE
run_case() {
	name=$1 expect=$2 extra=$3 source=$4
	dir=$WORK/$name
	mkdir -p "$dir/scripts"
	cp "$ROOT/scripts/kbuild-cxx.mk" "$ROOT/scripts/check-cxx-object" "$dir/scripts/"
	cp -r "$ROOT/common" "$dir/common"
	printf '%s\n' "$source" > "$dir/$name.cpp"
	cat > "$dir/Kbuild" <<KBUILD
obj-m := $name.o
CXXFLAGS_$name.o := $extra
include \$(src)/scripts/kbuild-cxx.mk
KBUILD
	make -C "$KDIR" M="$dir" "$name.o" > "$dir/log" 2>&1
	rc=$?
	if [ "$expect" = ok ]; then
		if [ $rc -eq 0 ] && [ -f "$dir/$name.o" ] && ! grep -q 'warning:' "$dir/log"; then
			passed=$((passed + 1)); echo "PASS $name: builds"
		else
			failed=$((failed + 1)); echo "FAIL $name: expected a clean build"; sed 's/^/    /' "$dir/log"
		fi
	elif [ $rc -ne 0 ] && grep -Eq "$name\.o: forbidden .*$expect" "$dir/log" && [ ! -f "$dir/$name.o" ]; then
		passed=$((passed + 1)); echo "PASS $name: rejected ($(grep -Eo "forbidden .*$expect[^ ]*" "$dir/log" | head -n 1))"
	else
		failed=$((failed + 1)); echo "FAIL $name: expected the check to reject '$expect' (rc=$rc)"; sed 's/^/    /' "$dir/log"
	fi
}

run_case good ok "" '
struct Base { virtual int f() const noexcept = 0; virtual ~Base() = default; };
struct Impl final : Base { int f() const noexcept override { return 1; } };
extern "C" int good_entry(const Base *b) noexcept;
extern "C" int good_entry(const Base *b) noexcept { return b->f(); }
static constexpr int kTable[3] = {1, 2, 3};
extern "C" int good_table(unsigned i) noexcept;
extern "C" int good_table(unsigned i) noexcept { return i < 3 ? kTable[i] : 0; }'

run_case static_ctor '\.init_array' "" '
int next_id() noexcept;
struct Counter { int v; Counter() noexcept : v(next_id()) {} };
Counter g_counter;'

run_case static_dtor '\.fini_array' "" '
void release() noexcept;
struct Guard { ~Guard() { release(); } };
Guard g_guard;'

run_case thread_local_var '\.tbss' "" '
thread_local int t_depth;
int bump() noexcept;
int bump() noexcept { return ++t_depth; }'

run_case throws '__cxa_(allocate_exception|throw)' "-fexceptions" '
int checked(int v);
int checked(int v) { if (v < 0) throw v; return v; }'

run_case popcount '__popcountdi2' "" '
int bits(unsigned long long v) noexcept;
int bits(unsigned long long v) noexcept { return __builtin_popcountll(v); }'

run_case div128 '__udivti3' "" '
unsigned __int128 quot(unsigned __int128 a, unsigned __int128 b) noexcept;
unsigned __int128 quot(unsigned __int128 a, unsigned __int128 b) noexcept { return a / b; }'

run_case guarded_static '__cxa_guard_acquire' "-fthreadsafe-statics" '
int compute() noexcept;
int cached() noexcept;
int cached() noexcept { static int value = compute(); return value; }'

run_case rtti '(_ZTI|_ZTS|_ZTVN10__cxxabiv1)' "-frtti" '
struct Shape { virtual ~Shape(); virtual int sides() const noexcept; };
int Shape::sides() const noexcept { return 0; }
Shape::~Shape() {}'

echo "check-cxx-object: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
