#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared by sockfan's selftests: TAP through kselftest's own KTAP
# helpers, and the scenario pieces (network namespace, real nginx
# server, clients, ground truth from ss).  Source it; it sets a cleanup
# trap.

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's: a pyenv or venv first in PATH may lack its modules, and the
# VM image has only Debian's
PY=/usr/bin/python3

# kselftest's ktap_helpers.sh (the exit codes KSFT_*, ktap_* lines, and
# ktap_finished(), which fails a test that ran other than its plan):
# beside the runner once installed, in build/linux-src in the tree
# (scripts/linux-src.sh puts it there)
for f in "$TEST_DIR/../kselftest/ktap_helpers.sh" \
	 "$TEST_DIR/../build/linux-src/tools/testing/selftests/kselftest/ktap_helpers.sh"; do
	if [ -r "$f" ]; then
		# shellcheck source=/dev/null
		. "$f"
		break
	fi
done
if ! declare -F ktap_finished >/dev/null; then
	echo "Bail out! kselftest's ktap_helpers.sh not found beside $TEST_DIR (scripts/linux-src.sh build/linux-src, then install the selftests again)"
	exit 1
fi

# the CLI and client: env override, next to the tests (VM image), or the tree
find_tool() {
	local name=$1 var=$2
	if [ -n "${!var:-}" ]; then
		echo "${!var}"
	elif [ -x "$TEST_DIR/$name" ]; then
		echo "$TEST_DIR/$name"
	elif [ -x "$TEST_DIR/../build/$name" ]; then
		echo "$TEST_DIR/../build/$name"
	else
		command -v "$name" || echo "$name"
	fi
}
SOCKFAN=$(find_tool sockfan SOCKFAN)
CONNECT=$(find_tool sockfan_connect SOCKFAN_CONNECT)
LISTEN=$(find_tool sockfan_listen SOCKFAN_LISTEN)
SOCKFAN_KO=${SOCKFAN_KO:-$TEST_DIR/sockfan.ko}
[ -e "$SOCKFAN_KO" ] || SOCKFAN_KO=$TEST_DIR/../build/kmod/host/sockfan.ko

TMP=$(mktemp -d /tmp/sockfan-test.XXXXXX)
NETNS=()
PIDS=()
SOURCE=
LOADED_KO=0

cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for ns in "${NETNS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
	# after its sockets are gone with the namespaces
	[ "$LOADED_KO" = 0 ] || rmmod sockfan
}
trap cleanup EXIT

diag() {
	echo "# $*"
}

tap_plan() {
	ktap_print_header
	ktap_set_plan "$1"
}

# check NAME GOT WANT: one TAP line, what differed above it
check() {
	if [ "$2" = "$3" ]; then
		ktap_test_pass "$1"
	else
		diag "got '$2', want '$3'"
		ktap_test_fail "$1"
	fi
}

# tap_skip NAME WHY
tap_skip() {
	ktap_test_skip "$1: $2"
}

skip_all() {
	ktap_skip_all "$*"
	exit "$KSFT_SKIP"
}

# SOCKFAN_TEST_KEEP=1 keeps the scenario's files in /tmp/sockfan-kept
tap_exit() {
	[ -n "${SOCKFAN_TEST_KEEP:-}" ] && cp -r "$TMP" /tmp/sockfan-kept
	# what each test costs, for keeping make check within its budget
	diag "$(basename "$0"): $SECONDS s"
	# the totals; KSFT_FAIL unless every planned test passed or skipped
	ktap_finished
}

# require_ipv6 NS: skip unless the namespace's lo has ::1 (a kernel
# without IPv6, or with it disabled, gives it none)
require_ipv6() {
	in_ns "$1" ip -6 addr show dev lo | grep -q 'inet6 ::1/128' ||
		skip_all "no ::1 on lo in a new namespace: IPv6 unavailable or disabled"
}

# the BPF path's CO-RE programs need the kernel's BTF
require_btf() {
	[ -r /sys/kernel/btf/vmlinux ] ||
		skip_all "no /sys/kernel/btf/vmlinux: kernel without BTF, BPF path unavailable"
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, BPF or insmod)"
}

# what every scenario needs: root, the test client and the CLI
require_scenario_tools() {
	require_root
	[ -x "$CONNECT" ] || skip_all "sockfan_connect not built (make -C selftests)"
	[ -x "$SOCKFAN" ] || skip_all "sockfan CLI not built (make)"
	[ -x "$PY" ] || skip_all "Debian's python3 not installed (make deps): the tests read sockfan's JSON with it"
}

# the module tests: a kernel that loads modules, the module built, and
# not loaded by someone else already
require_sockfan_ko() {
	[ -e /proc/modules ] ||
		skip_all "kernel without loadable modules (CONFIG_MODULES off): tested in the VM"
	[ -e "$SOCKFAN_KO" ] || skip_all "$SOCKFAN_KO not built"
	grep -q '^sockfan ' /proc/modules && skip_all "sockfan already loaded by someone else"
}

# vm_param NAME: sockfan_test.NAME=N from the VM's kernel command line
vm_param() {
	sed -n "s/.*sockfan_test\.$1=\([0-9]*\).*/\1/p" /proc/cmdline
}

# require_own_vm: tests that patch kernel text under load run only in a
# single-threaded TCG VM of their own, chosen by sockfan_test.tests=
require_own_vm() {
	local name

	name=$(basename "$0")
	grep -q "sockfan_test\.tests=[^ ]*${name//./\\.}" /proc/cmdline ||
		skip_all "runs in its own single-threaded TCG VM (make check: vm-torture-*, make stress; SOCKFAN_VM_TESTS=$name SOCKFAN_VM_TCG_THREAD=single selftests/vm/run.sh K)"
}

require_nginx() {
	command -v nginx >/dev/null || skip_all "nginx not installed (make deps)"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
	local tries=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || return 1
		sleep 0.1
	done
}

# wait_for_output SECS WANT CMD...: until CMD prints WANT, at most SECS
# (CMD runs again each try: a "$(...)" argument to wait_for would not)
wait_for_output() {
	local end=$((SECONDS + $1)) want=$2

	shift 2
	while [ "$("$@" 2>/dev/null)" != "$want" ]; do
		# by the clock: CMD itself may take a while (a slow VM)
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# netns_try VAR PREFIX: a fresh namespace with lo up, its name in VAR; 1
# if none can be made
# (not printed: a command substitution's subshell would lose NETNS)
netns_try() {
	local ns="$2-$$-${#NETNS[@]}"
	ip netns add "$ns" || return 1
	NETNS+=("$ns")
	ip -n "$ns" link set lo up || return 1
	printf -v "$1" '%s' "$ns"
}

# netns_new VAR PREFIX: the same, and the test fails without one
netns_new() {
	netns_try "$@" && return 0
	diag "cannot create a network namespace ($2)"
	exit "$KSFT_FAIL"
}

# netns_inode NAME: the inode sockfan and /proc/PID/ns/net name it by
netns_inode() {
	stat -L -c %i "/run/netns/$1"
}

# in_ns NS CMD...: CMD in the network namespace NS; "" is the caller's
# own (the torture test's storm in the VM's initial namespace)
in_ns() {
	local ns=$1
	shift
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$@"
	else
		"$@"
	fi
}

# ns_exec NS: the words that run a command in NS, for a command whose
# $! must be the command itself ("ip netns exec" execs; a function forks)
ns_exec() {
	[ -z "$1" ] || printf '%s\n' ip netns exec "$1"
}

# nginx_start NS PORT [workers=N] [listen=ARGS] ...: selftests/nginx.sh
source "$TEST_DIR/nginx.sh"

# httpd_start NS PORT: python's http.server (one thread per connection,
# blocking accept()), on 127.0.0.1, gone after 300 s at the latest
httpd_start() {
	local ns=$1 port=$2 dir="$TMP/httpd-$2"

	mkdir -p "$dir"
	ip netns exec "$ns" timeout 300 "$PY" -m http.server --bind 127.0.0.1 \
		--directory "$dir" "$port" >"$dir.log" 2>&1 &
	PIDS+=($!)
	if ! wait_for 20 ss_has_listener "$ns" "$port"; then
		diag "python3 -m http.server did not come up on port $port:"
		sed 's/^/# /' "$dir.log"
		return 1
	fi
}

# how long clients hold their connections when the test ends them itself
# (cleanup kills them): the kselftest timeout, whatever the kernel's speed
CLIENT_HOLD=300

# clients_start NS DST PORT N SRCS HOLD [WAIT]: N held connections from
# the SRCS (comma-separated, may be empty); waits until all are up.  With
# WAIT, connects without blocking and gives up on those not up after WAIT
# seconds; CLIENTS_UP says how many are.
clients_start() {
	local ns=$1 dst=$2 port=$3 n=$4 srcs=$5 hold=$6 wait=${7:-}
	local out="$TMP/clients.$RANDOM" ready="^connected $n\$"

	[ -n "$wait" ] && ready="^connected [0-9]+ of $n\$"
	# shellcheck disable=SC2086,SC2046 # -w and its value, or nothing
	$(ns_exec "$ns") "$CONNECT" -d "$dst" -p "$port" -n "$n" -s "$srcs" -t "$hold" \
		${wait:+-w $wait} >"$out" 2>&1 &
	PIDS+=($!)
	# shellcheck disable=SC2034 # for the tests, to end the clients
	CLIENTS_PID=$!
	if ! wait_for $((30 + ${wait:-0})) grep -qE "$ready" "$out"; then
		diag "clients failed: $(cat "$out")"
		return 1
	fi
	# shellcheck disable=SC2034 # for the tests
	CLIENTS_UP=$(awk '$1 == "connected" { print $2 }' "$out")
}

# --- the capture path under test ----------------------------------------
# source_setup bpf|proc: skip unless that path can run here; proc loads
# sockfan.ko when /proc/net/sockfan is missing (cleanup unloads it)
source_setup() {
	SOURCE=$1
	case "$SOURCE" in
	bpf)
		require_btf
		;;
	proc)
		[ -d /proc/net/sockfan ] && return 0
		[ -e /proc/modules ] ||
			skip_all "kernel without loadable modules (CONFIG_MODULES off): module path is tested in the VM"
		[ -e "$SOCKFAN_KO" ] || skip_all "$SOCKFAN_KO not built"
		insmod "$SOCKFAN_KO" || { diag "insmod $SOCKFAN_KO failed"; exit $KSFT_FAIL; }
		LOADED_KO=1
		;;
	*)
		diag "unknown source '$SOURCE' (bpf or proc)"
		exit $KSFT_FAIL
		;;
	esac
}

# sockfan_view NS PORT OUT [ARGS...]: `sockfan ports --json` for one port
# of the namespace, run inside it (the proc source shows the caller's
# namespace); stdout to OUT, stderr to OUT.err.  The sockfan_* readers
# below answer from it.
sockfan_view() {
	local ns=$1 port=$2 out=$3

	shift 3
	in_ns "$ns" "$SOCKFAN" ports --json --source "$SOURCE" --port "$port" \
		--netns "$(netns_inode "$ns")" "$@" >"$out" 2>"$out.err"
}

# expect NAME RC PATTERN CMD...: exit code RC and stderr matching PATTERN
expect() {
	local name=$1 rc=$2 pattern=$3 got
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ $got = "$rc" ] && grep -qE -e "$pattern" "$TMP/err"; then
		check "$name" ok ok
	else
		check "$name" "rc=$got: $(head -c 300 "$TMP/err" | tr '\n' ' ')" "rc=$rc, stderr ~ /$pattern/"
	fi
}

# serve_start ADDR:PORT [ARGS...]: `sockfan serve` in the background on
# ADDR:PORT (the caller's namespace) until it serves; SERVE_PID is its
# pid (in PIDS too).  1, with its messages, if it does not within 30 s.
serve_start() {
	local listen=$1

	shift
	"$SOCKFAN" serve --listen "$listen" "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	wait_for 30 grep -q '^# serving' "$TMP/serve.err" && return 0
	diag "sockfan serve did not start: $(cat "$TMP/serve.err")"
	return 1
}

# http_get URL: the body (python: no curl in the VM image)
http_get() {
	"$PY" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")' "$1"
}

# interrupt PID: ^C to a command started in the background through a
# function (in_ns), whether the subshell exec'd it or forked it
interrupt() {
	pkill -INT -P "$1" 2>/dev/null
	kill -INT "$1" 2>/dev/null
}

# check_window FILE NS PORT N [NOTE]: a followed window's look at a
# server whose N clients are all accepted and stay: 5 checks against ss
# (listeners, established, accepted = N, peers, four-tuples; NOTE after
# the last one's name)
check_window() {
	local file=$1 ns=$2 port=$3 n=$4 listen estab accepted peers

	read -r listen estab accepted _ peers <<<"$(sockfan_row "$file" "$port")"
	check "one listening socket" "$listen" "$(ss_listeners "$ns" "$port")"
	check "established sockets on port $port match ss" "$estab" "$(ss_established "$ns" "$port")"
	check "accepted = established (accept queue empty per ss)" "$accepted" "$n"
	check "distinct peers match ss" "$peers" "$(ss_peers "$ns" "$port")"
	check "four-tuples match ss${5:+ ($5)}" "$(sockfan_tuples "$file" | md5sum)" \
		"$(ss_tuples "$ns" "$port" | md5sum)"
}

# check_no_record_lost FILE: the bpf window's JSON says 0 lost; the
# proc source has nothing to lose
check_no_record_lost() {
	if [ "$SOURCE" = bpf ]; then
		check "no record lost" "$(sockfan_lost "$1")" 0
	else
		tap_skip "no record lost" "the proc source has no ring buffer to lose records from"
	fi
}

# sockfan's view of a window of activity: bpf follows the events from
# a window's bound when view_end ends it: on any kernel's speed the
# scenario ends first (the debug kernel under TCG is ~3x slower)
VIEW_MAX=240

# view_begin until view_end, SECONDS at most (seeding covers nothing
# then); proc reads the module's state at view_end.  view_end returns
# sockfan's exit code.  ARGS (--json, ...) go to sockfan ports, the same
# to both.
# view_begin NS PORT OUT SECONDS [ARGS...]
view_begin() {
	local ns=$1 port=$2 out=$3 secs=$4

	shift 4
	[ "$SOURCE" = bpf ] || return 0
	sockfan_view "$ns" "$port" "$out" --duration "$secs" "$@" &
	VIEWER_PID=$!
	wait_for 30 grep -q '^# attached' "$out.err" && return 0
	diag "sockfan did not attach:"
	sed 's/^/# /' "$out.err"
	return 1
}

# view_end NS PORT OUT [ARGS...]
view_end() {
	local ns=$1 port=$2 out=$3 rc

	shift 3
	if [ "$SOURCE" = bpf ]; then
		# the scenario is over and its events are in the ring buffer:
		# a second for the last ones (a server's own close), then end
		# the window early the way ^C does; its duration stays the bound
		sleep 1
		interrupt "$VIEWER_PID"
		wait "$VIEWER_PID"
		rc=$?
	else
		sockfan_view "$ns" "$port" "$out" "$@"
		rc=$?
	fi
	sed 's/^/# /' "$out" "$out.err"
	return $rc
}

# storm_start NS PORT N SRCS SECONDS [PAUSE]: rounds of N connections to
# PORT that open and close at once, PAUSE seconds apart (default none),
# in the background until storm_stop or for SECONDS at most (STORM_PID)
storm_start() {
	local ns=$1 port=$2 n=$3 srcs=$4 secs=$5 pause=${6:-0}

	touch "$TMP/storm"
	(
		end=$((SECONDS + secs))
		while [ -e "$TMP/storm" ] && [ $SECONDS -lt $end ]; do
			in_ns "$ns" "$CONNECT" -d 127.0.0.1 -p "$port" -n "$n" -s "$srcs" -t 0 \
				>/dev/null 2>&1
			[ "$pause" = 0 ] || sleep "$pause"
		done
	) &
	STORM_PID=$!
	PIDS+=("$STORM_PID")
}

storm_stop() {
	rm -f "$TMP/storm"
	wait "$STORM_PID"
}

# module_stat NAME [NS]: a value of /proc/net/sockfan/stats, in NS's
# namespace (default: the caller's)
module_stat() {
	if [ -n "${2:-}" ]; then
		in_ns "$2" awk -v n="$1" '$1 == n { print $2 }' /proc/net/sockfan/stats
	else
		awk -v n="$1" '$1 == n { print $2 }' /proc/net/sockfan/stats
	fi
}


# --- the kernel's own bug finders ----------------------------------------
# kernel_log.pat lists, one extended regex a line, what the kernel prints
# when it finds a bug: WARN/BUG/Oops, KASAN, UBSAN, KFENCE, lockdep, RCU
# checks and stalls, debug objects, kmemleak, the slab's leftovers, and
# the module's own "still held" at unload.  The VM's /init greps the
# whole log with it too.
KLOG_PATTERNS=$TEST_DIR/kernel_log.pat
KMEMLEAK=/sys/kernel/debug/kmemleak

# klog_mark: from here on the test answers for the kernel log
klog_mark() {
	KLOG_MARK="sockfan-selftest $(basename "$0") $$ $RANDOM"
	echo "$KLOG_MARK" >/dev/kmsg
}

# klog_since: the kernel log since klog_mark
klog_since() {
	dmesg | sed -n "/$KLOG_MARK/,\$p"
}

# klog_bad: what the bug finders printed since klog_mark
klog_bad() {
	klog_since | grep -E -f "$KLOG_PATTERNS"
}

# check_klog: one TAP line, the offending lines as diagnostics
check_klog() {
	local bad

	bad=$(klog_bad)
	check "kernel log clean since the test began (no report of kernel_log.pat)" "$bad" ""
	[ -z "$bad" ] || echo "$bad" | head -n 40 | sed 's/^/# /'
}

# kmemleak_clear: forget what kmemleak suspects now (boot, earlier tests)
kmemleak_clear() {
	[ -w "$KMEMLEAK" ] || return 0
	echo scan >"$KMEMLEAK" && echo clear >"$KMEMLEAK"
}

# kmemleak_report: scan twice (an object is reported once it stayed
# unreferenced over a scan, and 5 s old) and print the suspects' reports
kmemleak_report() {
	[ -w "$KMEMLEAK" ] || return 0
	sleep 5
	echo scan >"$KMEMLEAK" && echo scan >"$KMEMLEAK" && cat "$KMEMLEAK"
}

# --- ground truth: the kernel's own view through ss (sock_diag) ---------
ss_has_listener() {
	[ "$(ss_listeners "$1" "$2")" -ge 1 ]
}

ss_listeners() {
	in_ns "$1" ss -Hltn "sport = :$2" | wc -l
}

# ss_port_state_count NS PORT STATE: TCP sockets of local port PORT in
# STATE (ss's state names)
ss_port_state_count() {
	in_ns "$1" ss -Htn state "$3" "sport = :$2" | wc -l
}

ss_established() {
	ss_port_state_count "$1" "$2" established
}

# accept-queue depth summed over the port's listeners (ss Recv-Q)
ss_accept_queue() {
	in_ns "$1" ss -Hltn "sport = :$2" | awk '{ q += $2 } END { print q + 0 }'
}

# conditions for wait_for, which runs its command again each time (a
# "$(...)" in its arguments would be expanded once, before it starts)
accept_queue_empty() {
	[ "$(ss_accept_queue "$1" "$2")" = 0 ]
}

none_established() {
	[ "$(ss_established "$1" "$2")" = 0 ]
}

ss_peers() {
	in_ns "$1" ss -Htn state established "sport = :$2" |
		awk '{ a = $4; sub(/:[0-9]+$/, "", a); print a }' | sort -u | wc -l
}

# Endpoints as ss and sockfan print them, made comparable: a v4-mapped
# IPv6 address ([::ffff:127.0.0.2]:80, an IPv4 peer of a dual-stack
# listener) becomes the IPv4 one (127.0.0.2:80) on both sides.
norm_endpoints() {
	sed -E 's/\[::ffff:([0-9.]+)\]/\1/g'
}

# "laddr:lport raddr:rport" per connection, sorted
ss_tuples() {
	in_ns "$1" ss -Htn state established "sport = :$2" |
		awk '{ print $3, $4 }' | norm_endpoints | sort
}

# "laddr:lport raddr:rport pid/comm" per connection: the process holding
# it and its name, as ss -p prints them (users:(("nginx",pid=12,fd=5)))
ss_tuple_tasks() {
	in_ns "$1" ss -Htnp state established "sport = :$2" |
		awk '{ t = "-"
			if (match($0, /\(\("[^"]*",pid=[0-9]+/)) {
				split(substr($0, RSTART + 3, RLENGTH - 3), f, /",pid=/)
				t = f[2] "/" f[1]
			}
			print $3, $4, t }' | norm_endpoints | sort
}

# "laddr:lport raddr:rport pid" per connection: the process holding it
ss_tuple_pids() {
	ss_tuple_tasks "$@" | sed -E 's,^([^ ]+ [^ ]+ [0-9]+)/.*,\1,'
}

# ss_pid_established NS PORT PID: connections on the port PID holds
ss_pid_established() {
	in_ns "$1" ss -Htnp state established "sport = :$2" | grep -c "pid=$3,"
}

# ss_listen_queue NS PORT: "Recv-Q Send-Q" of each listener: the accept
# queue's depth and its limit (the listen() backlog, capped by somaxconn)
ss_listen_queue() {
	in_ns "$1" ss -Hltn "sport = :$2" | awk '{ print $2, $3 }'
}

# ss_listen_drops NS PORT: the listener's sk_drops as the kernel shows it
# (the d of ss -m's skmem)
ss_listen_drops() {
	in_ns "$1" ss -Hltnm "sport = :$2" | grep -o 'skmem:([^)]*' | grep -o ',d[0-9]*' | tr -d ',d'
}

# ss_listener_ids NS PORT: "cookie inode" of each listener; the cookie is
# what ss -e prints as sk:HEX, in decimal as sockfan prints it
ss_listener_ids() {
	local sk ino

	# -e also looks up cgroups and complains on stderr when there is no
	# cgroup2 mount: that part is not used
	in_ns "$1" ss -Hltne "sport = :$2" 2>/dev/null |
		awk '{ sk = ino = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^sk:/)
					sk = substr($i, 4)
				if ($i ~ /^ino:/)
					ino = substr($i, 5)
			}
			print sk, ino }' |
		while read -r sk ino; do
			echo "$((16#$sk)) $ino"
		done
}

# epoll_watchers INO PID...: which of PID have socket inode INO in an
# epoll set (/proc/PID/fdinfo of an epoll fd lists its targets' inodes in
# hex).  A listener that several processes hold is polled by the one that
# accepts from it: with reuseport, each nginx worker polls only its own.
epoll_watchers() {
	local ino pid

	ino=$(printf '%x' "$1")
	shift
	for pid; do
		grep -qs "^tfd:.* ino:$ino sdev:" /proc/"$pid"/fdinfo/* && echo "$pid"
	done
}

# netns_mib NS NAME: a MIB counter of the namespace, e.g.
# TcpExtListenDrops, absolute (-a), without touching nstat's history (-s)
netns_mib() {
	in_ns "$1" nstat -azs "$2" | awk -v n="$2" '$1 == n { print $2 }'
}

# sum of the numbers on stdin, one a line
sum_lines() {
	awk '{ s += $1 } END { print s + 0 }'
}

# --- sockfan's view ------------------------------------------------------
# What `sockfan ports --json` says, as the text views print it ("-" for
# what the source cannot count, PID/COMM, ADDR:PORT), to compare with
# ss: selftests/sockfan_json.py reads the JSON.
sockfan_json() {
	"$PY" "$TEST_DIR/sockfan_json.py" "$@"
}

# sockfan_col FILE PORT NAME...: the named fields of PORT's row, by the
# text table's column names (LISTEN ESTAB CLOSE-WAIT OTHER ACCEPTED CLOSED
# PEERS REFUSED OWNER); with COL_LAST=1 from the last look's document
sockfan_col() {
	local file=$1 port=$2

	shift 2
	sockfan_json "$file" row "$port" "$@"
}

# text_col FILE PORT NAME...: the same from a text table, by its header's
# column names: top's frames (top has no JSON; its rates too, ACCEPT/s,
# REFUSED/s, ...), or the text of `ports`.  The first table that has the
# row, with COL_LAST=1 the last one.
text_col() {
	local file=$1 port=$2

	shift 2
	awk -v p="$port" -v names="$*" -v last="${COL_LAST:-0}" '
		$1 == "NETNS" && $2 == "PORT" { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 ~ /^[0-9]+$/ && $2 == p && !done {
			n = split(names, want, " ")
			r = ""
			for (j = 1; j <= n; j++)
				r = r (j > 1 ? " " : "") (want[j] in col ? $(col[want[j]]) : "?")
			kept = r
			done = !last
		}
		END { if (kept != "") print kept }' "$file"
}

# sockfan_row FILE PORT: "LISTEN ESTAB ACCEPTED CLOSED PEERS" of the port
sockfan_row() {
	sockfan_col "$1" "$2" LISTEN ESTAB ACCEPTED CLOSED PEERS
}

# four-tuples of the port's ESTAB connections, normalised as ss_tuples
# prints them
sockfan_tuples() {
	sockfan_json "$1" tuples | norm_endpoints | sort
}

# sockfan_listener_field FILE ADDR:PORT|COOKIE|all KEY: KEY (backlog,
# qlen, sk_drops, overflows, accepted, hits, owner, cookie) of the
# listeners selected, one a line
sockfan_listener_field() {
	sockfan_json "$1" listener "$2" "$3"
}

# check_overflows NAME OUT JSON SEL WANT: the overflows of listener SEL
# in JSON (sockfan ports) are WANT; a skip that names why where OUT or
# OUT.err (that run's output) says no overflow hook attached
check_overflows() {
	local name=$1 out=$2 json=$3 sel=$4 want=$5

	if grep -q 'overflow=none' "$out.err" "$out" 2>/dev/null; then
		tap_skip "$name" "no hook for overflows here: $(grep -oh -m 1 'overflow=none([^)]*)' \
			"$out.err" "$out" | head -n 1)"
	else
		check "$name" "$(sockfan_listener_field "$json" "$sel" overflows)" "$want"
	fi
}

# sockfan_conns FILE accepted|queued [STATE]: how many connections (of
# STATE, default any) accept() returned, or are still in the queue
sockfan_conns() {
	sockfan_json "$1" conns "$2" ${3:+"$3"}
}

# "laddr:lport raddr:rport pid/comm" of the ESTAB connections: the
# accepting task and its name ("-" while in queue, "?" accepted unseen)
sockfan_tuple_tasks() {
	sockfan_json "$1" tasks accepted | norm_endpoints | sort
}

# "laddr:lport raddr:rport pid" of the ESTAB connections: the accepting
# task ("-" while in queue)
sockfan_tuple_pids() {
	sockfan_tuple_tasks "$1" | sed -E 's,^([^ ]+ [^ ]+ [0-9]+)/.*,\1,'
}

# "laddr:lport raddr:rport pid" of the ESTAB connections: the process
# holding the socket now (what ss -p shows; "-" when not known)
sockfan_tuple_holders() {
	sockfan_json "$1" tasks held | norm_endpoints | sort |
		sed -E 's,^([^ ]+ [^ ]+ [0-9]+)/.*,\1,'
}

# sockfan_lost FILE: records the BPF ring buffer lost
sockfan_lost() {
	sockfan_json "$1" lost
}
