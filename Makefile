# SPDX-License-Identifier: GPL-2.0-only
# xen-blkcxx: the out-of-tree xen-blkfront and xen-blkback modules.
#
#   make                  build both modules in place against KDIR
#   make KDIR=/path       ...against another kernel build or headers tree
#   make modules-check    build in build/kbuild/<kver>/ for every kernel in
#                         KDIRS, W=1, failing on any warning or C++ runtime
#                         symbol (scripts/build-modules)
#   make clean
#
# kbuild itself reads ./Kbuild (and scripts/kbuild-cxx.mk for the C++ rule);
# this Makefile is only the convenience front end.

# Installed Debian headers packages (a -amd64 tree with a Makefile), newest last.
KDIRS ?= $(patsubst %/Makefile,%,$(shell ls -d /usr/src/linux-headers-*-amd64/Makefile 2>/dev/null | sort -V))
KDIR ?= $(lastword $(KDIRS))

.PHONY: all modules modules-check clean

all: modules

modules:
	@test -n "$(KDIR)" || { echo "no kernel headers found: make KDIR=..." >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Every kernel is checked even if an earlier one fails; the target fails if any did.
modules-check:
	@status=0; for k in $(KDIRS); do scripts/build-modules $$k || status=1; done; exit $$status

clean:
	@test -z "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf build/kbuild
