# SPDX-License-Identifier: GPL-2.0-only
# kbuild rule for C++ objects, included by the top-level Kbuild.
#
# It mirrors kbuild's own C rule (rule_cc_o_c in scripts/Makefile.build) so
# that C++ objects get the same treatment as C ones:
#  - if_changed_rule + cmd_and_fixdep: a changed command line or an edited
#    header rebuilds the object (fixdep turns the -MMD output into .cmd deps);
#  - cmd_objtool + gen_objtooldep: objtool runs with the kernel's own options
#    (ORC, retpoline, rethunk, SLS...), or is deferred to the module link on
#    kernels that link-time objtool (6.12 with IBT), exactly as for C;
#  - the flags are kbuild's per-object C flags, so code generation matches
#    (-mcmodel=kernel, -mno-red-zone, -mno-sse, return thunks, stack
#    protector, -pg -mfentry, modname/basename defines).
# Then every C++ object goes through scripts/check-cxx-object, which fails
# the build on any C++ runtime, libgcc or static-initialisation leftovers.
#
# Works with the 6.1 and 6.12 kbuild: both define _c_flags, modkern_cflags,
# basename_flags, modname_flags, cmd_objtool and a pattern-specific
# objtool-enabled for $(obj)/%.o, which this rule inherits.

# g++ from the same toolchain as the kernel's CC (keeps a ccache prefix or a
# target triplet: gcc-12 -> g++-12, x86_64-linux-gnu-gcc-12 -> ...-g++-12).
XBC_CXX := $(subst gcc,g++,$(CC))

# Options in kbuild's C set that are C-only: g++ warns that they do not
# apply to C++ (W=1 adds some). Any new one shows up as a "warning:" in the
# build log, which scripts/build-modules fails on.
XBC_CXX_REMOVE := -std=gnu11 -std=gnu89 \
	-Wstrict-prototypes -Werror=strict-prototypes \
	-Werror=implicit-function-declaration -Werror=implicit-int \
	-Werror=incompatible-pointer-types -Werror=designated-init \
	-Wpointer-sign -Wno-pointer-sign \
	-Wmissing-prototypes -Wold-style-definition -Wnested-externs \
	-Wmissing-parameter-type -Wold-style-declaration \
	-Wdeclaration-after-statement -Wno-declaration-after-statement \
	-Woverride-init -Wno-override-init

# pahole 1.24 cannot encode C++ DWARF into module BTF ("Unsupported
# DW_TAG_reference_type"), and kernels whose headers can build module BTF
# (Debian 6.12) then fail the .ko link. -g1 keeps line tables and function
# names (addr2line, objdump -S) without the type information pahole reads.
XBC_CXX_DEBUG := $(if $(filter -g%,$(KBUILD_CFLAGS)),-g1)

# The freestanding C++ dialect: no exceptions, RTTI, guard variables,
# atexit registration, unwind tables or C++ library headers. -fcheck-new:
# operator new may return NULL here, so constructors must not run on it.
# Include paths as in the host tests: xbc/ and kapi/ headers, and module
# headers by their path from the top ("blkback/backend.hpp").
# -fno-reorder-blocks-and-partition: no "<fn>.cold" split-off symbols. objtool
# refuses a .cold symbol whose parent's name exceeds 128 characters, and
# mangled C++ names easily do (xbc::PersistentGrants::add is 133).
XBC_CXXFLAGS := -std=gnu++20 -fno-exceptions -fno-rtti \
	-fno-threadsafe-statics -fno-use-cxa-atexit -ffreestanding \
	-fcheck-new -fno-unwind-tables -fno-asynchronous-unwind-tables \
	-nostdinc -isystem $(shell $(XBC_CXX) -print-file-name=include) \
	-I$(src)/common/include -I$(src) \
	-fno-reorder-blocks-and-partition \
	$(XBC_CXX_DEBUG)

# Per-directory and per-object C++ options, like ccflags-y/CFLAGS_foo.o for
# C: cxxflags-y and CXXFLAGS_foo.o come last, so they can override ours.
# LINUXINCLUDE and the forced -include of compiler_types.h/kconfig.h are left
# out on purpose: g++ cannot parse kernel headers, and C++ never includes one.
xbc_cxx_flags = -Wp,-MMD,$(depfile) \
	$(filter-out $(XBC_CXX_REMOVE),$(_c_flags) $(modkern_cflags)) \
	$(basename_flags) $(modname_flags) $(XBC_CXXFLAGS) \
	$(cxxflags-y) $(CXXFLAGS_$(target-stem).o)

XBC_CHECK_CXX_OBJECT = $(src)/scripts/check-cxx-object

quiet_cmd_cxx_o_cpp = CXX $(quiet_modtag) $@
      cmd_cxx_o_cpp = $(XBC_CXX) $(xbc_cxx_flags) -c -o $@ $< \
		$(cmd_objtool) ; \
		NM='$(NM)' READELF='$(READELF)' $(CONFIG_SHELL) $(XBC_CHECK_CXX_OBJECT) $@

define rule_cxx_o_cpp
	$(call cmd_and_fixdep,cxx_o_cpp)
	$(call cmd,gen_objtooldep)
endef

$(obj)/%.o: $(src)/%.cpp $(XBC_CHECK_CXX_OBJECT) FORCE
	$(call if_changed_rule,cxx_o_cpp)
