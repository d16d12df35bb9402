#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad input to the sockfan command gets a clear message and a non-zero
# exit, never a crash: bad arguments (usage, exit 2), a module that is not
# loaded, malformed /proc records, missing privileges (exit 1).
source "$(dirname "$0")/lib.sh"

[ -x "$SOCKFAN" ] || skip_all "sockfan CLI not built (make)"

tap_plan 50

expect "no command: usage, exit 2" 2 'no command given' "$SOCKFAN"
expect "unknown command: exit 2" 2 "unknown command 'frobnicate'" "$SOCKFAN" frobnicate
expect "bad --source: exit 2" 2 "--source wants auto, bpf, proc or diag, not 'carrier-pigeon'" \
	"$SOCKFAN" ports --source carrier-pigeon
expect "port out of range: exit 2" 2 '--port wants a port number 1-65535' \
	"$SOCKFAN" ports --port 70000
expect "port not a number: exit 2" 2 "not '8o'" "$SOCKFAN" ports --port 8o
expect "stray argument: exit 2" 2 "unexpected argument 'extra'" "$SOCKFAN" ports extra
# a filter naming something this host does not have: a failure (1), no empty table
expect "unknown netns name: exit 1" 1 'no such network namespace' \
	"$SOCKFAN" ports --source bpf --netns no-such-ns-here
expect "netns inode nobody has: exit 1" 1 '--netns 123: no network namespace has that inode' \
	"$SOCKFAN" ports --netns 123
expect "netns path that is no namespace: exit 1" 1 '/etc/passwd is not a network namespace' \
	"$SOCKFAN" ports --netns /etc/passwd
expect "--pid of no process: exit 1" 1 '--pid 999999: no such process' \
	"$SOCKFAN" ports --pid 999999
expect "trace --netns 123: exit 1" 1 '--netns 123: no network namespace has that inode' \
	"$SOCKFAN" trace --netns 123 --duration 1
expect "bad --src address: exit 2" 2 "--src wants an address with an optional /prefix .*not '10.0.0.300'" \
	"$SOCKFAN" ports --src 10.0.0.300
expect "prefix too long: exit 2" 2 "--dst wants .*not '10.0.0.0/33'" \
	"$SOCKFAN" top --dst 10.0.0.0/33
expect "-4 with -6: exit 2" 2 '-4 and -6 exclude each other' "$SOCKFAN" ports -4 -6
expect "bad --pid: exit 2" 2 "--pid wants a process id, not '-1'" "$SOCKFAN" trace --pid -1
expect "--interval below 0.1 s: exit 2" 2 "--interval wants seconds 0.1-86400" \
	"$SOCKFAN" top --interval 0.01
expect "--count without --interval: exit 2" 2 '--count needs --interval' \
	"$SOCKFAN" ports --count 3
expect "--prom with --interval: exit 2" 2 'not with --interval' \
	"$SOCKFAN" ports --prom --interval 1
expect "--source diag --duration: exit 2" 2 'one sock_diag snapshot: --duration needs --source bpf$' \
	"$SOCKFAN" ports --source diag --duration 1
expect "top --source diag: exit 2" 2 'snapshot: looking again \(--interval, top\) needs' \
	"$SOCKFAN" top --source diag
expect "--source diag --no-seed: exit 2" 2 'snapshot: --no-seed would leave it nothing to show' \
	"$SOCKFAN" ports --source diag --no-seed
expect "bad SOCKFAN_RING_KB: named, exit 1" 1 'SOCKFAN_RING_KB wants a power of two from 4 to 1048576' \
	env SOCKFAN_RING_KB=3000 "$SOCKFAN" trace --duration 1
expect "bad SOCKFAN_PLAN: named, exit 1" 1 "SOCKFAN_PLAN wants a hook plan from 1 to 4 .*not '0'" \
	env SOCKFAN_PLAN=0 "$SOCKFAN" trace --duration 1
expect "explain without a port: exit 2" 2 'which port\? \(explain PORT\)' "$SOCKFAN" explain
expect "explain port out of range: exit 2" 2 "PORT wants a port number 1-65535, not '0'" \
	"$SOCKFAN" explain 0
expect "explain with --port: exit 2" 2 'the port is the argument' \
	"$SOCKFAN" explain 80 --port 80
expect "explain --interval: points to top" 2 'draws once; for a live view use sockfan top' \
	"$SOCKFAN" explain 80 --interval 1
expect "serve --listen without a port: exit 2" 2 "--listen wants ADDR:PORT .*not '127.0.0.1'" \
	"$SOCKFAN" serve --listen 127.0.0.1
expect "serve --source diag: exit 2" 2 'a sock_diag snapshot counts nothing over time' \
	"$SOCKFAN" serve --source diag
expect "serve --interval: exit 2" 2 'each scrape is a look' "$SOCKFAN" serve --interval 1
expect "serve --hook-cost --source proc: exit 2" 2 'about the BPF programs: not with --source proc' \
	"$SOCKFAN" serve --hook-cost --source proc
expect "serve --snapshot-age --source proc: exit 2" 2 'about the BPF programs: not with --source proc' \
	"$SOCKFAN" serve --snapshot-age 10 --source proc
expect "serve --snapshot-age 1h: exit 2" 2 "--snapshot-age wants seconds 0-3600, not '1h'" \
	"$SOCKFAN" serve --snapshot-age 1h
check "serve --help: no timing option (each scrape is a look)" \
	"$("$SOCKFAN" serve --help | grep -cE -- '--(duration|interval|count) ')" 0
expect "ports --hist --json: exit 2" 2 'draws the histograms as text' \
	"$SOCKFAN" ports --hist --json --duration 1
expect "ports --hist --source diag: exit 2" 2 'what the kernel aggregates' \
	"$SOCKFAN" ports --hist --source diag
expect "ports --hist without time: exit 2" 2 'needs time for the programs to count' \
	"$SOCKFAN" ports --hist

# the /proc reader against files that break the spec
mkdir -p "$TMP/proc"
good_hdrs() {
	echo "cookie family laddr lport backlog qlen overflows drops handshakes accepted hits pid comm" >"$TMP/proc/listeners"
	echo "cookie family laddr lport raddr rport listener pid comm age_ms segs_in state" >"$TMP/proc/conns"
	echo "port listeners established accepted closed peers lifetime_sum_us wait_sum_us wait_max_us refused owner_pid owner_comm" >"$TMP/proc/ports"
	printf 'name value\nconns 2\nstrays 4\n' >"$TMP/proc/stats"
	echo "port hist count sum_us slots" >"$TMP/proc/hist"
}
good_hdrs
echo "7 inet 0.0.0.0 80 511 0 0 0 2 2 5 100 nginx" >>"$TMP/proc/listeners"
echo "9 inet 10.0.0.1 80 10.0.0.2 5555 7 101 nginx 10 4 ESTAB" >>"$TMP/proc/conns"
echo "11 inet 10.0.0.1 80 10.0.0.3 5556 7 0 - 5 1 ESTAB" >>"$TMP/proc/conns"
echo "80 1 2 5 3 2 3000 500 200 0 100 nginx" >>"$TMP/proc/ports"
printf '80 handshake 5 90 3:2,4:3\n80 accept_wait 5 500 0:4,7:1\n80 lifetime 3 3000 9:3\n' \
	>>"$TMP/proc/hist"
"$SOCKFAN" ports --json --source proc --proc-dir "$TMP/proc" --no-seed --port 80 >"$TMP/out" 2>"$TMP/out.err"
check "well-formed files: 1 listener, 2 established, 5 accepted, 3 closed, 2 peers" \
	"$(sockfan_row "$TMP/out" 80)" "1 2 5 3 2"
check "the module's histograms: 5 handshakes, 5 accept waits, 3 lifetimes" \
	"$(sockfan_json "$TMP/out" hists 80)" "5 5 3"

# "0 ?": accepted, by a task the reader may not know; "0 -": in the queue
echo "13 inet 10.0.0.1 80 10.0.0.4 5557 7 0 ? 7 1 CLOSE-WAIT" >>"$TMP/proc/conns"
"$SOCKFAN" ports --json --source proc --proc-dir "$TMP/proc" --no-seed --port 80 >"$TMP/out" 2>"$TMP/out.err"
check "a hidden task ('0 ?') is accepted, '0 -' is in queue" \
	"$(sockfan_conns "$TMP/out" accepted) $(sockfan_conns "$TMP/out" queued)" "2 1"
check "the module's state column: one CLOSE-WAIT, counted apart from ESTAB" \
	"$(sockfan_conns "$TMP/out" accepted CLOSE-WAIT) $(sockfan_col "$TMP/out" 80 ESTAB CLOSE-WAIT)" "1 2 1"

good_hdrs
echo "7 inet 0.0.0.0 80 511 0 0 0 2 5 100" >>"$TMP/proc/listeners"
expect "record with a missing field: line named" 1 'listeners line 2: wrong number of fields' \
	"$SOCKFAN" ports --source proc --proc-dir "$TMP/proc" --no-seed

good_hdrs
echo "9 inet 10.0.0.300 80 10.0.0.2 5555 7 101 nginx 10 4 ESTAB" >>"$TMP/proc/conns"
expect "bad address: line named" 1 'conns line 2: IPv4 address expected' \
	"$SOCKFAN" ports --source proc --proc-dir "$TMP/proc" --no-seed

good_hdrs
echo "80 accept_wait 5 500 0:4,7:2" >>"$TMP/proc/hist"
expect "histogram whose slots do not add up: line named" 1 'hist line 2: slots do not add up' \
	"$SOCKFAN" ports --source proc --proc-dir "$TMP/proc" --no-seed

good_hdrs
echo "80 queue 1 5 0:1" >>"$TMP/proc/hist"
expect "unknown histogram: line named" 1 'hist line 2: histogram must be' \
	"$SOCKFAN" ports --source proc --proc-dir "$TMP/proc" --no-seed

good_hdrs
echo "port listeners established" >"$TMP/proc/ports"
expect "truncated header: named" 1 'ports line 1: unexpected header' \
	"$SOCKFAN" ports --source proc --proc-dir "$TMP/proc" --no-seed

if [ -d /proc/net/sockfan ]; then
	tap_skip "module not loaded: clear message" "the module is loaded here"
else
	expect "module not loaded: says insmod" 1 'module is not loaded \(insmod sockfan.ko' \
		"$SOCKFAN" ports --source proc
fi

# a kernel without BTF: hide /sys/kernel/btf in a private mount namespace
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	expect "no kernel BTF: names CONFIG_DEBUG_INFO_BTF and --source proc, exit 1" 1 \
		'no kernel BTF at /sys/kernel/btf/vmlinux.*use --source proc' \
		unshare -m sh -c 'mount -t tmpfs none /sys/kernel/btf && exec "$0" top --source bpf -n 1 -i 1' "$SOCKFAN"
else
	tap_skip "no kernel BTF: clear error" "needs root and unshare for a private mount namespace"
fi

# like ss: a user sees the namespaces it may enter, and is told of the rest
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && netns_try NS sfcliu; then
	expect "unprivileged snapshot: exit 0, other namespaces left out and said" 0 \
		'network namespaces? left out: entering one needs CAP_SYS_ADMIN' \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKFAN" ports
else
	tap_skip "unprivileged snapshot" "needs root, setpriv and a network namespace"
fi

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	expect "unprivileged BPF load: clear error, exit 1" 1 'cannot load the BPF programs|not root' \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKFAN" ports --source bpf
else
	tap_skip "unprivileged BPF load" "needs root and setpriv to drop privileges"
fi
tap_exit
