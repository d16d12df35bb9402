# SPDX-License-Identifier: GPL-2.0
#
# sockfan top-level build.  `make` builds the CLI, the BPF object and its
# skeleton, and the module; `make check` runs every test; `make run` runs
# the demo.  Everything it needs is installed by `make deps`.

VERSION		:= 0.1
BUILD		?= $(CURDIR)/build
KERNELS		:= $(BUILD)/kernels
LINUX_SRC	:= $(BUILD)/linux-src

CC		?= gcc
CLANG		?= clang
BPFTOOL		?= bpftool
ARCH_BPF	:= x86

CFLAGS		?= -O2 -g
WARN		:= -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter \
		   -Wmissing-prototypes -Wstrict-prototypes
INCLUDES	:= -I$(CURDIR)/include -I$(BUILD)/bpf -I$(CURDIR)/user
DEFS		:= -DSOCKFAN_VERSION='"$(VERSION)"'

# make install: GNU directory variables; DKMS sources go where dkms looks
PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
UNITDIR		?= $(PREFIX)/lib/systemd/system
DKMSDIR		?= /usr/src/sockfan-$(VERSION)
RST2MAN		?= rst2man
LIBS		:= $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz) \
		   $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd) -lm

# Module: the running kernel's headers when present, else Debian's 6.1.
RUNNING_KDIR	:= /lib/modules/$(shell uname -r)/build
KDIR		?= $(if $(wildcard $(RUNNING_KDIR)/Makefile),$(RUNNING_KDIR),$(shell \
		     scripts/kernel-fetch.sh 6.1 $(KERNELS) 2>/dev/null)/build)

USER_SRCS	:= $(wildcard user/*.c)
USER_OBJS	:= $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
BPF_SRCS	:= $(wildcard bpf/*.bpf.c)
BPF_OBJS	:= $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS	:= $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
HDRS		:= $(wildcard include/sockfan/*.h user/*.h)

# keep the BPF object: bench and VM images reuse it
.SECONDARY:

.PHONY: all deps linux-src cli bpf kmod man run check clean checkpatch vmtest selftests \
	install install-dkms uninstall fuzzers fuzz bench bench-vm stress check-debug

all: cli kmod

deps:
	@scripts/deps.sh

# kselftest's lib.mk, headers and runner, and checkpatch.pl, from Debian's
# linux-source: what selftests/ (the demo's client too) build with
linux-src: deps
	@scripts/linux-src.sh $(LINUX_SRC) >/dev/null

# --- BPF ------------------------------------------------------------------
# vmlinux.h from the running kernel's BTF when it has one; CO-RE relocates
# field offsets at load time, so the object also runs on other kernels.
$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(@D)
	@if [ -r /sys/kernel/btf/vmlinux ]; then \
		$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp; \
	else \
		echo "no /sys/kernel/btf/vmlinux: using BTF of Debian's 6.1 image"; \
		k=$$(scripts/kernel-fetch.sh 6.1 $(KERNELS)) && \
		scripts/vmlinux-btf.sh $$k $@.tmp; \
	fi && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/bpf/vmlinux.h $(wildcard bpf/*.h) include/sockfan/sockfan.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH_BPF) -Wall -Werror \
		-I$(BUILD)/bpf -I$(CURDIR)/include -I$(CURDIR)/bpf -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

bpf: $(BPF_SKELS)

# --- CLI ------------------------------------------------------------------
$(BUILD)/user/%.o: user/%.c $(HDRS) $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(DEFS) $(INCLUDES) -c $< -o $@

$(BUILD)/sockfan: $(USER_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

cli: $(BUILD)/sockfan

# --- module ---------------------------------------------------------------
kmod:
	$(MAKE) -C kmod KDIR=$(KDIR) OUT=$(BUILD)/kmod/host

# --- fuzzers (libFuzzer, ASan, UBSan): make fuzz [FUZZ_SECONDS=600] ---------
FUZZ_TARGETS	:= proc events args cgroup
FUZZ_SECONDS	?= 600
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS	:= $(patsubst user/%.c,$(BUILD)/fuzz/obj/%.o,$(filter-out user/main.c,$(USER_SRCS)))
FUZZERS		:= $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

$(BUILD)/fuzz/obj/%.o: user/%.c $(HDRS) $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(INCLUDES) -c $< -o $@

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(CLANG) -g -O1 -Wall -Werror -fsanitize=fuzzer $(FUZZ_SAN) $(INCLUDES) $^ -o $@ $(LIBS)

fuzzers: $(FUZZERS)

fuzz: $(FUZZERS)
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# --- stress: per VM kernel, the torture test for 600 s and 1000 module
# load/unload cycles under a storm ----------------------------------------
stress: deps all linux-src
	@SOCKFAN_KMOD_CYCLES=1000 SOCKFAN_TORTURE_SECONDS=600 SOCKFAN_KMOD_TIMEOUT=2400 \
		SOCKFAN_VM_TIMEOUT=4000 scripts/check.sh --stress

# --- every selftest on the debug kernel (KASAN, lockdep, kmemleak, ...):
# make check runs part of them there, to stay within its 30 minutes ------
check-debug: deps all linux-src
	@SOCKFAN_VM_TIMEOUT=5400 selftests/vm/run.sh 6.1-debug

# --- benchmarks: not tests; numbers into build/bench/ ------------------------
BENCH_ROUNDS	?= 5
BENCH_SECONDS	?= 5

bench: deps cli $(BUILD)/bench/apply $(BUILD)/bench/syscall-loop
	@$(BUILD)/bench/apply 100000 $(BENCH_ROUNDS) | tee $(BUILD)/bench/apply-$$(hostname)-$$(date +%Y%m%d-%H%M%S).txt
	@bench/run.sh $(BENCH_ROUNDS) $(BENCH_SECONDS)

# the command's side of the ring: records/s the model applies
$(BUILD)/bench/apply: bench/apply.c $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(INCLUDES) -o $@ $^ $(LIBS)

# what a syscall tracepoint adds to every syscall (bench/run.sh runs it)
$(BUILD)/bench/syscall-loop: bench/syscall_loop.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -o $@ $<

# the same side by side in a VM, with the module as a tracer too; and the
# module's /proc files at 100k connections
BENCH_KERNELS	?= 6.1

bench-vm: deps all
	@BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_SECONDS=$(BENCH_SECONDS) bench/vm.sh $(BENCH_KERNELS)

# --- man pages, from the reStructuredText in Documentation/ ---------------
MANPAGES	:= $(BUILD)/man/sockfan.8 $(BUILD)/man/sockfan-proc.5

$(BUILD)/man/sockfan.8: Documentation/sockfan.8.rst
$(BUILD)/man/sockfan-proc.5: Documentation/proc-format.rst
$(MANPAGES):
	@mkdir -p $(@D)
	$(RST2MAN) --halt=warning $< > $@.tmp && mv $@.tmp $@

man: $(MANPAGES)

# --- install ----------------------------------------------------------------
install: cli man
	install -D -m 0755 $(BUILD)/sockfan $(DESTDIR)$(SBINDIR)/sockfan
	install -D -m 0644 $(BUILD)/man/sockfan.8 $(DESTDIR)$(MANDIR)/man8/sockfan.8
	install -D -m 0644 $(BUILD)/man/sockfan-proc.5 $(DESTDIR)$(MANDIR)/man5/sockfan-proc.5
	install -D -m 0644 bash-completion/sockfan $(DESTDIR)$(BASHCOMPDIR)/sockfan
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|' Documentation/deploy/sockfan.service \
		>$(DESTDIR)$(UNITDIR)/sockfan.service

# the module's sources for DKMS; then: dkms install sockfan/$(VERSION)
install-dkms:
	install -d $(DESTDIR)$(DKMSDIR)/kmod $(DESTDIR)$(DKMSDIR)/include/sockfan
	install -m 0644 kmod/Kbuild kmod/Makefile kmod/*.c kmod/*.h $(DESTDIR)$(DKMSDIR)/kmod/
	install -m 0644 include/sockfan/sockfan.h $(DESTDIR)$(DKMSDIR)/include/sockfan/
	sed 's/@VERSION@/$(VERSION)/' kmod/dkms.conf > $(DESTDIR)$(DKMSDIR)/dkms.conf

# a DKMS registration is removed by dkms itself (dkms remove sockfan/VERSION
# --all), before the sources go: on the live system only, not in a DESTDIR
uninstall:
	$(if $(DESTDIR),,-command -v dkms >/dev/null && dkms remove sockfan/$(VERSION) --all)
	rm -f $(DESTDIR)$(SBINDIR)/sockfan $(DESTDIR)$(MANDIR)/man8/sockfan.8 \
		$(DESTDIR)$(MANDIR)/man5/sockfan-proc.5 $(DESTDIR)$(BASHCOMPDIR)/sockfan \
		$(DESTDIR)$(UNITDIR)/sockfan.service
	rm -rf $(DESTDIR)$(DKMSDIR)

# --- tests ----------------------------------------------------------------
checkpatch:
	@scripts/checkpatch.sh

run: deps all linux-src
	@scripts/demo.sh

check: deps all linux-src
	@scripts/check.sh

clean:
	rm -rf $(BUILD)/user $(BUILD)/bpf $(BUILD)/kmod $(BUILD)/sockfan \
		$(BUILD)/selftests $(BUILD)/vm $(BUILD)/man $(BUILD)/fuzz/obj $(FUZZERS)
	$(MAKE) -C selftests clean >/dev/null 2>&1 || true
