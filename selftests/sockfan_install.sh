#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What `make install` and `make install-dkms` put on a system, in a
# DESTDIR: the command runs, the man pages pass mandoc's linter and
# render, bash completes subcommands and options, and DKMS builds the
# module from the installed sources for one of Debian's kernels.  Needs
# the source tree (not in the VM image).
source "$(dirname "$0")/lib.sh"

# the source tree: SOCKFAN_SRC (make check runs the installed tests), or
# the one these tests sit in
TOP=${SOCKFAN_SRC:-$(cd "$TEST_DIR/.." && pwd)}
[ -f "$TOP/Makefile" ] && [ -d "$TOP/kmod" ] ||
	skip_all "no source tree next to the tests (installed copy, e.g. the VM image)"

tap_plan 12

ROOT=$TMP/root
make -s -C "$TOP" install install-dkms DESTDIR="$ROOT" PREFIX=/usr >"$TMP/make" 2>&1
check "make install install-dkms DESTDIR PREFIX=/usr: exit 0" $? 0
sed 's/^/# /' "$TMP/make"
check "files in place" "$(cd "$ROOT" && ls usr/sbin/sockfan usr/share/man/man8/sockfan.8 \
	usr/share/man/man5/sockfan-proc.5 usr/share/bash-completion/completions/sockfan \
	usr/lib/systemd/system/sockfan.service usr/src/sockfan-*/dkms.conf 2>&1 | wc -l)" 6
if command -v systemd-analyze >/dev/null; then
	# the unit names the installed command: verify it where it would run
	sed "s|ExecStart=/usr/sbin/sockfan|ExecStart=$ROOT/usr/sbin/sockfan|" \
		"$ROOT/usr/lib/systemd/system/sockfan.service" >"$TMP/sockfan.service"
	# --man=no: the man page it names is in the DESTDIR, not installed here
	systemd-analyze verify --man=no "$TMP/sockfan.service" >"$TMP/verify" 2>&1
	check "sockfan.service: systemd-analyze verify finds nothing" "$?: $(head -c 300 "$TMP/verify")" "0: "
else
	tap_skip "sockfan.service: systemd-analyze verify" "systemd not installed"
fi
if command -v promtool >/dev/null; then
	promtool check config "$TOP/Documentation/deploy/prometheus-scrape.yml" >"$TMP/promcfg" 2>&1
	check "Documentation/deploy/prometheus-scrape.yml: promtool check config" \
		"$?: $(grep -c "SUCCESS: .* is valid" "$TMP/promcfg")" "0: 1"
else
	tap_skip "prometheus-scrape.yml: promtool check config" "promtool not installed (make deps)"
fi
check "installed command runs: --version" \
	"$("$ROOT/usr/sbin/sockfan" --version | grep -cE '^sockfan [0-9.]+ \(event ABI [0-9]+\)$')" 1

if command -v mandoc >/dev/null; then
	mandoc -Tlint -Werror "$ROOT"/usr/share/man/man*/sockfan* >"$TMP/lint" 2>&1
	check "man pages: mandoc -Tlint finds no error" "$?: $(head -c 300 "$TMP/lint")" "0: "
	check "sockfan(8) renders NAME and every command" \
		"$(mandoc -Tascii "$ROOT/usr/share/man/man8/sockfan.8" | col -b |
		   grep -cE '^NAME$|^ +sockfan - |^ +(ports|top|trace)( |$)|^ +explain PORT( |$)')" 6
	check "sockfan-proc(5) renders each file's section" \
		"$(mandoc -Tascii "$ROOT/usr/share/man/man5/sockfan-proc.5" | col -b |
		   grep -cE '^(PORTS|LISTENERS|CONNS|STATS)$')" 4
else
	for t in "mandoc -Tlint" "sockfan(8) renders" "sockfan-proc(5) renders"; do
		tap_skip "man pages: $t" "mandoc not installed (make deps)"
	done
fi

# complete LINE: what bash offers for the last word of LINE
complete_line() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sockfan
		echo "${COMPREPLY[*]}"' _ "$ROOT/usr/share/bash-completion/completions/sockfan" "$@"
}
# every command sockfan --help lists, and the global options
check "bash completion: commands" "$(complete_line sockfan '')" \
	"$("$ROOT/usr/sbin/sockfan" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 }
		on { printf "%s ", $1 }')--verbose --help --version"
check "bash completion: an option and its values" \
	"$(complete_line sockfan explain 80 --d) / $(complete_line sockfan top --source '')" \
	"--dst --duration --dot / auto bpf proc diag"

# DKMS: build from the installed sources against Debian 6.1's headers
kver=$(ls "$TOP/build/kernels" 2>/dev/null | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$' | head -n 1)
if ! command -v dkms >/dev/null; then
	tap_skip "dkms builds the module" "dkms not installed (make deps)"
	tap_skip "dkms module's vermagic" "dkms not installed (make deps)"
elif [ -z "$kver" ]; then
	tap_skip "dkms builds the module" "no Debian 6.1 headers in build/kernels (make check fetches them)"
	tap_skip "dkms module's vermagic" "no Debian 6.1 headers in build/kernels"
else
	ver=$(awk -F'"' '/^PACKAGE_VERSION=/ { print $2 }' "$ROOT"/usr/src/sockfan-*/dkms.conf)
	dk=(--sourcetree "$ROOT/usr/src" --dkmstree "$TMP/dkms")
	mkdir -p "$TMP/dkms"
	dkms add -m sockfan -v "$ver" "${dk[@]}" >"$TMP/dkms.log" 2>&1 &&
	dkms build -m sockfan -v "$ver" -k "$kver" "${dk[@]}" \
		--kernelsourcedir "$TOP/build/kernels/$kver/build" >>"$TMP/dkms.log" 2>&1
	rc=$?
	ko=$(find "$TMP/dkms" -name sockfan.ko | head -n 1)
	check "dkms add + build for $kver: exit 0, sockfan.ko built" "$rc ${ko:+built}" "0 built"
	[ $rc = 0 ] || sed 's/^/# /' "$TMP/dkms.log" "$TMP"/dkms/sockfan/*/build/make.log 2>/dev/null
	check "dkms module's vermagic names $kver" \
		"$(modinfo -F vermagic "$ko" 2>/dev/null | awk '{ print $1 }')" "$kver"
fi
tap_exit
