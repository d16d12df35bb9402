#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared by sockfan's selftests: kselftest exit codes, nested TAP lines,
# and the scenario pieces (network namespace, real nginx server, clients,
# ground truth from ss).  Source it; it sets a cleanup trap.

readonly KSFT_PASS=0
readonly KSFT_FAIL=1
readonly KSFT_SKIP=4

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

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
SOCKFAN_KO=${SOCKFAN_KO:-$TEST_DIR/sockfan.ko}
[ -e "$SOCKFAN_KO" ] || SOCKFAN_KO=$TEST_DIR/../build/kmod/host/sockfan.ko

TMP=$(mktemp -d /tmp/sockfan-test.XXXXXX)
NETNS=()
PIDS=()
tap_n=0
tap_failed=0

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
}
trap cleanup EXIT

diag() {
	echo "# $*"
}

tap_plan() {
	echo "TAP version 13"
	echo "1..$1"
}

# check NAME GOT WANT: one nested TAP line
check() {
	tap_n=$((tap_n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $tap_n $1"
	else
		echo "not ok $tap_n $1 # got '$2', want '$3'"
		tap_failed=1
	fi
}

tap_skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n $1 # SKIP $2"
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit $KSFT_SKIP
}

tap_exit() {
	[ $tap_failed = 0 ] && exit $KSFT_PASS
	exit $KSFT_FAIL
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, BPF or insmod)"
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

# netns_new VAR PREFIX: a fresh namespace with lo up, its name in VAR
# (not printed: a command substitution's subshell would lose NETNS)
netns_new() {
	local ns="$2-$$-${#NETNS[@]}"
	ip netns add "$ns" || return 1
	NETNS+=("$ns")
	ip -n "$ns" link set lo up || return 1
	printf -v "$1" '%s' "$ns"
}

# netns_inode NAME: the inode sockfan and /proc/PID/ns/net name it by
netns_inode() {
	stat -L -c %i "/run/netns/$1"
}

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# nginx_start NS PORT [WORKERS]: Debian's nginx, foreground, own prefix
nginx_start() {
	local ns=$1 port=$2 workers=${3:-1} dir="$TMP/nginx-$port"
	mkdir -p "$dir/logs" "$dir/tmp"
	cat > "$dir/nginx.conf" <<-CONF
	user root;
	worker_processes $workers;
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log;
	events { worker_connections 4096; }
	http {
		access_log off;
		client_body_temp_path $dir/tmp;
		proxy_temp_path $dir/tmp;
		fastcgi_temp_path $dir/tmp;
		uwsgi_temp_path $dir/tmp;
		scgi_temp_path $dir/tmp;
		client_header_timeout 120s;
		server {
			listen $port;
			location / { return 200 "sockfan\n"; }
		}
	}
	CONF
	# ip netns exec execs: $! is nginx itself (a function would fork)
	ip netns exec "$ns" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' \
		>"$dir/logs/stdout" 2>&1 &
	PIDS+=($!)
	if ! wait_for 20 ss_has_listener "$ns" "$port"; then
		diag "nginx did not come up on port $port:"
		sed 's/^/# /' "$dir/logs/error.log" "$dir/logs/stdout" 2>/dev/null
		return 1
	fi
}

# clients_start NS DST PORT N SRCS HOLD: N held connections; waits until up
clients_start() {
	local ns=$1 dst=$2 port=$3 n=$4 srcs=$5 hold=$6 out="$TMP/clients.$#.$RANDOM"
	ip netns exec "$ns" "$CONNECT" -d "$dst" -p "$port" -n "$n" -s "$srcs" -t "$hold" \
		>"$out" 2>&1 &
	PIDS+=($!)
	CLIENTS_PID=$!
	if ! wait_for 30 grep -q "^connected $n" "$out"; then
		diag "clients failed: $(cat "$out")"
		return 1
	fi
}

# --- ground truth: the kernel's own view through ss (sock_diag) ---------
ss_has_listener() {
	[ "$(ss_listeners "$1" "$2")" -ge 1 ]
}

ss_listeners() {
	in_ns "$1" ss -Hltn "sport = :$2" | wc -l
}

ss_established() {
	in_ns "$1" ss -Htn state established "sport = :$2" | wc -l
}

# accept-queue depth summed over the port's listeners (ss Recv-Q)
ss_accept_queue() {
	in_ns "$1" ss -Hltn "sport = :$2" | awk '{ q += $2 } END { print q + 0 }'
}

ss_peers() {
	in_ns "$1" ss -Htn state established "sport = :$2" |
		awk '{ a = $4; sub(/:[0-9]+$/, "", a); print a }' | sort -u | wc -l
}

# "laddr:lport raddr:rport" per connection, sorted
ss_tuples() {
	in_ns "$1" ss -Htn state established "sport = :$2" |
		awk '{ print $3, $4 }' | sort
}

# --- sockfan's view ------------------------------------------------------
# sockfan_row FILE PORT: "LISTEN ESTAB ACCEPTED CLOSED PEERS" of the port
sockfan_row() {
	awk -v p="$2" '$1 ~ /^[0-9]+$/ && $2 == p { print $3, $4, $5, $6, $7; exit }' "$1"
}

# four-tuples of the ESTAB lines of `sockfan ports --port`, as ss prints them
sockfan_tuples() {
	awk '$1 == "ESTAB" { print $2, $3 }' "$1" | sort
}
