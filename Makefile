# SPDX-License-Identifier: GPL-2.0-only
# xen-blkcxx: the out-of-tree xen-blkfront and xen-blkback modules.
#
#   make                  build both modules in place against KDIR
#   make KDIR=/path       ...against another kernel build or headers tree
#   make modules-check    build in build/kbuild/<kver>/ for every kernel in
#                         KDIRS, W=1, failing on any warning or C++ runtime
#                         symbol (scripts/build-modules)
#   make deb              build/xen-blkcxx-dkms_<version>_all.deb
#   make dist-src DEST=d  copy the module sources (what DKMS builds) to d
#   make check           every test layer (scripts/check), ending 'N passed, N failed'
#   make bench           the side-by-side driver benchmark under Xen (scripts/bench;
#                        BENCH_ARGS="--smoke" or a subset, see docs/benchmarks.md)
#   make clean
#
# kbuild itself reads ./Kbuild (and scripts/kbuild-cxx.mk for the C++ rule);
# this Makefile is only the convenience front end.

# Installed Debian headers packages (a -amd64 tree with a Makefile), newest last.
KDIRS ?= $(patsubst %/Makefile,%,$(shell ls -d /usr/src/linux-headers-*-amd64/Makefile 2>/dev/null | sort -V))
KDIR ?= $(lastword $(KDIRS))

.PHONY: all modules modules-check check bench clean dist-src deb

VERSION := $(shell scripts/package-version)

all: modules

modules:
	@test -n "$(KDIR)" || { echo "no kernel headers found: make KDIR=..." >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Every kernel is checked even if an earlier one fails; the target fails if any did.
modules-check:
	@status=0; for k in $(KDIRS); do scripts/build-modules $$k || status=1; done; exit $$status

check:
	scripts/check

bench:
	scripts/bench $(BENCH_ARGS)

# The sources a DKMS build needs, and nothing else (no tests, no .wip).
dist-src:
	@test -n "$(DEST)" || { echo "usage: make dist-src DEST=dir" >&2; exit 1; }
	mkdir -p $(DEST)
	rsync -a --prune-empty-dirs \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='*.cmd' --exclude='*.wip' --exclude='*.d' \
		--exclude='Module.symvers' --exclude='modules.order' \
		--include='/Kbuild' --include='/Makefile' --include='/dkms.conf' \
		--include='/scripts/' --include='/scripts/kbuild-cxx.mk' \
		--include='/scripts/check-cxx-object' --include='/scripts/package-version' \
		--include='/scripts/dkms-initramfs' \
		--include='/common/***' --include='/blkfront/***' --include='/blkback/***' \
		--exclude='*' \
		./ $(DEST)/

# A Debian xen-blkcxx-dkms package, built from a staged copy of the sources
# plus packaging/debian (dh-sequence-dkms installs them under /usr/src).
deb:
	rm -rf build/deb
	$(MAKE) dist-src DEST=build/deb/xen-blkcxx-$(VERSION)
	cp -r packaging/debian build/deb/xen-blkcxx-$(VERSION)/debian
	cd build/deb/xen-blkcxx-$(VERSION) && dpkg-buildpackage -b -us -uc > ../dpkg-buildpackage.log 2>&1 \
		|| { tail -n 30 ../dpkg-buildpackage.log; exit 1; }
	cp build/deb/xen-blkcxx-dkms_$(VERSION)_all.deb build/
	@echo "built build/xen-blkcxx-dkms_$(VERSION)_all.deb"

clean:
	@test -z "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf build/kbuild build/deb
