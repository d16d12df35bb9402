#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# servers.sh SERVER bpf|proc: a real server from Debian's archive, its own
# instance in a namespace of the test's own, on loopback, under load from
# its own benchmark client, and sockfan's view of its port against the
# kernel's (ss -tanpe, nstat) read right after it.  SERVER is one of
#   redis            redis-server; redis-benchmark with keep-alive (-k 1)
#                    and a new connection per request (-k 0)
#   nginx            nginx, 2 workers, "listen PORT reuseport"
#   haproxy-threads  haproxy, one process of 2 threads
#   haproxy-procs    2 haproxy processes on one port (SO_REUSEPORT)
#   postgres         PostgreSQL: initdb in a temp dir as user postgres,
#                    listening on 127.0.0.1 and ::1; pgbench with -C (a
#                    connection per transaction) and without
# (nginx and haproxy under wrk, keep-alive and "Connection: close").
#
# Each server is looked at twice:
#   before  sockfan attached first, then the load and HELD idle clients;
#           at a quiet moment (only the held clients left) the window's
#           accepted count must be the namespace's TcpPassiveOpens delta
#           and closed = accepted - HELD; then, the held clients gone, a
#           look must find no connection left
#   after   HELD clients connected and the load running first (open
#           connections, churn in flight), sockfan attached while it
#           runs, compared once the load is over
# With proc, sockfan.ko is loaded once before both: "after" is then the
# module following the load all along (what it finds at insmod is
# sockfan_kmod_seed.sh's subject).
# Both times: the listening sockets (count, cookies, owners per ss -p),
# ESTAB and CLOSE-WAIT counts and the ESTAB four-tuples against ss.
source "$(dirname "$0")/lib.sh"

SERVER=${1:?usage: servers.sh redis|nginx|haproxy-threads|haproxy-procs|postgres bpf|proc}
HELD=5
# the bounds: the "before" load, and how long the "after" one runs
LOAD_SECS=2
CHURN_SECS=4
PG_SERVER_PID=

missing() {
	skip_all "$1 not installed (make deps; not in the VM image)"
}

require_scenario_tools
case "$SERVER" in
redis)
	PORT=6390 LISTENERS=1 HOLDERS=1
	command -v redis-server >/dev/null || missing redis-server
	command -v redis-benchmark >/dev/null || missing redis-benchmark
	;;
nginx)
	PORT=8090 LISTENERS=2 HOLDERS=1
	require_nginx
	command -v wrk >/dev/null || missing wrk
	;;
haproxy-threads | haproxy-procs)
	PORT=8091 HOLDERS=1
	LISTENERS=1
	[ "$SERVER" = haproxy-procs ] && LISTENERS=2
	command -v haproxy >/dev/null || missing haproxy
	command -v wrk >/dev/null || missing wrk
	;;
postgres)
	# two listeners, 127.0.0.1 and ::1; the postmaster accepts and a
	# backend of its own holds each connection
	PORT=5440 LISTENERS=2 HOLDERS=0
	PGBIN=$(find /usr/lib/postgresql/*/bin -maxdepth 0 2>/dev/null | sort -V | tail -n 1)
	[ -x "$PGBIN/initdb" ] || missing "PostgreSQL (initdb)"
	[ -x "$PGBIN/pgbench" ] || missing pgbench
	id postgres >/dev/null 2>&1 || skip_all "no user postgres (the postgresql package makes it)"
	;;
*)
	diag "unknown server '$SERVER'"
	exit $KSFT_FAIL
	;;
esac
source_setup "${2:?usage: servers.sh SERVER bpf|proc}"

# --- the servers ---------------------------------------------------------
redis_start() {
	local ns=$1 port=$2 dir="$TMP/redis-$2"

	mkdir -p "$dir"
	ip netns exec "$ns" timeout 300 redis-server --port "$port" --bind 127.0.0.1 \
		--protected-mode no --save "" --appendonly no --dir "$dir" --logfile "$dir/log" \
		--maxclients 1000 >/dev/null 2>&1 &
	PIDS+=($!)
	wait_for 20 ss_has_listener "$ns" "$port" && return 0
	diag "redis-server did not come up on port $port:"
	sed 's/^/# /' "$dir/log"
	return 1
}

# haproxy_start NS PORT THREADS: one haproxy process answering 200 itself
# (no backend), in the foreground; haproxy sets SO_REUSEPORT on its
# listeners, so a second one shares the port
haproxy_start() {
	local ns=$1 port=$2 threads=$3 dir="$TMP/haproxy-$2"
	local n

	mkdir -p "$dir"
	n=$(find "$dir" -name 'log.*' | wc -l)
	cat > "$dir/haproxy.cfg" <<-CONF
	global
		nbthread $threads
		maxconn 4000
	defaults
		mode http
		timeout client 120s
		timeout connect 5s
		timeout server 5s
		timeout http-request 120s
	frontend fe
		bind 127.0.0.1:$port
		http-request return status 200 content-type text/plain string "sockfan"
	CONF
	ip netns exec "$ns" timeout 300 haproxy -db -f "$dir/haproxy.cfg" \
		>"$dir/log.$n" 2>&1 &
	PIDS+=($!)
	wait_for 20 ss_listeners_at_least "$ns" "$port" $((n + 1)) && return 0
	diag "haproxy did not come up on port $port:"
	sed 's/^/# /' "$dir/log.$n"
	return 1
}

ss_listeners_at_least() {
	[ "$(ss_listeners "$1" "$2")" -ge "$3" ]
}

# as_postgres CMD...: the server refuses to run as root
as_postgres() {
	setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
}

# pg_start NS PORT: initdb in the test's directory, then the postmaster on
# 127.0.0.1 and ::1, its unix socket in that directory too
pg_start() {
	local ns=$1 port=$2 dir="$TMP/pg"

	chmod o+x "$TMP"
	mkdir -p "$dir"
	chown postgres: "$dir"
	if ! as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -N \
		>"$dir/initdb.log" 2>&1; then
		diag "initdb failed:"
		sed 's/^/# /' "$dir/initdb.log"
		return 1
	fi
	echo 'SELECT 1;' > "$dir/select.sql"
	ip netns exec "$ns" setpriv --reuid=postgres --regid=postgres --init-groups -- \
		timeout 300 "$PGBIN/postgres" -D "$dir/data" -p "$port" -k "$dir" \
		-c listen_addresses='127.0.0.1,::1' -c max_connections=100 \
		-c fsync=off -c logging_collector=off >"$dir/log" 2>&1 &
	PIDS+=($!)
	if ! wait_for 30 ss_listeners_at_least "$ns" "$port" 2 ||
	   ! wait_for 30 grep -q 'ready to accept connections' "$dir/log"; then
		diag "postgres did not come up on port $port:"
		sed 's/^/# /' "$dir/log"
		return 1
	fi
	PG_SERVER_PID=$(head -n 1 "$dir/data/postmaster.pid")
}

# a fast shutdown (SIGINT): lib.sh's SIGTERM would be a smart one, which
# waits for the clients
pg_stop() {
	[ -n "$PG_SERVER_PID" ] && kill -INT "$PG_SERVER_PID" 2>/dev/null
	PG_SERVER_PID=
}
trap 'pg_stop; cleanup' EXIT

server_start() {
	case "$SERVER" in
	redis) redis_start "$@" ;;
	nginx) nginx_start "$1" "$2" workers=2 listen="$2 reuseport" ;;
	haproxy-threads) haproxy_start "$1" "$2" 2 ;;
	haproxy-procs) haproxy_start "$1" "$2" 1 && haproxy_start "$1" "$2" 1 ;;
	postgres) pg_start "$@" ;;
	esac
}

# --- the load ------------------------------------------------------------
# load_start NS PORT SECS: the server's benchmark clients in the
# background, for SECS seconds at most: one set with a connection held
# for many requests, one with a connection per request; LOAD_PIDS
load_start() {
	local ns=$1 port=$2 secs=$3 url="http://127.0.0.1:$2/"
	local dir="$TMP/pg" log="$TMP/load.$RANDOM"

	LOAD_PIDS=()
	case "$SERVER" in
	redis)
		# -n far beyond what SECS allows: the time is the bound
		in_ns "$ns" timeout "$secs" redis-benchmark -h 127.0.0.1 -p "$port" \
			-c 10 -n 10000000 -k 1 -t ping -q >"$log.ka" 2>&1 &
		LOAD_PIDS+=($!)
		in_ns "$ns" timeout "$secs" redis-benchmark -h 127.0.0.1 -p "$port" \
			-c 10 -n 10000000 -k 0 -t ping -q >"$log.close" 2>&1 &
		LOAD_PIDS+=($!)
		;;
	nginx | haproxy-*)
		in_ns "$ns" timeout $((secs + 5)) wrk -t1 -c10 -d"${secs}s" "$url" \
			>"$log.ka" 2>&1 &
		LOAD_PIDS+=($!)
		in_ns "$ns" timeout $((secs + 5)) wrk -t1 -c10 -d"${secs}s" \
			-H 'Connection: close' "$url" >"$log.close" 2>&1 &
		LOAD_PIDS+=($!)
		;;
	postgres)
		# -C over one family, connections held for the whole run over
		# the other: PG_CLOSE_HOST says which is -C
		in_ns "$ns" timeout $((secs + 10)) "$PGBIN/pgbench" -h "$PG_CLOSE_HOST" \
			-p "$port" -U postgres -n -f "$dir/select.sql" -c 4 -T "$secs" -C \
			postgres >"$log.close" 2>&1 &
		LOAD_PIDS+=($!)
		in_ns "$ns" timeout $((secs + 10)) "$PGBIN/pgbench" -h "$PG_HELD_HOST" \
			-p "$port" -U postgres -n -f "$dir/select.sql" -c 4 -T "$secs" \
			postgres >"$log.ka" 2>&1 &
		LOAD_PIDS+=($!)
		;;
	esac
	PIDS+=("${LOAD_PIDS[@]}")
	LOAD_LOG=$log
}

load_wait() {
	local p

	for p in "${LOAD_PIDS[@]}"; do
		wait "$p"
	done
	# what the clients say they did, one line each
	grep -hE 'requests/sec|requests in|Requests/sec|tps = |number of (transactions|failed)' \
		"$LOAD_LOG".* 2>/dev/null | tr '\r' '\n' | tail -n 6 | sed 's/^/# load: /'
}

# held_start NS PORT: HELD idle clients that stay for a minute (postgres:
# two of them over IPv6); HELD_PIDS
held_start() {
	local ns=$1 port=$2

	HELD_PIDS=()
	if [ "$SERVER" = postgres ]; then
		clients_start "$ns" 127.0.0.1 "$port" $((HELD - 2)) 127.0.0.2,127.0.0.3 60 || return 1
		HELD_PIDS+=("$CLIENTS_PID")
		clients_start "$ns" ::1 "$port" 2 ::1 60 || return 1
	else
		clients_start "$ns" 127.0.0.1 "$port" "$HELD" 127.0.0.2,127.0.0.3 60 || return 1
	fi
	HELD_PIDS+=("$CLIENTS_PID")
}

held_stop() {
	local p

	for p in "${HELD_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# --- ground truth -----------------------------------------------------------
# ss_live NS PORT: the port's connection sockets in any state but
# TIME-WAIT (and SYN-RECV: not sockets of their own)
ss_live() {
	in_ns "$1" ss -Htan "sport = :$2" |
		awk '$1 != "LISTEN" && $1 != "TIME-WAIT" && $1 != "SYN-RECV"' | wc -l
}

# quiet NS PORT N: N connections left, all accepted
quiet() {
	[ "$(ss_live "$1" "$2")" = "$3" ] && accept_queue_empty "$1" "$2"
}

# json_field FILE PORT KEY: a number of the port's entry ("" if none)
json_field() {
	python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if sys.argv[3] == "lost":
	print(d.get("lost", 0))
else:
	p = [p for p in d.get("ports", []) if p["port"] == int(sys.argv[2])]
	print(p[0].get(sys.argv[3], "") if p else 0)' "$@"
}

# pollers NS PORT: "cookie:pid" of each listener of a server whose
# processes all hold every listener (nginx): the one that polls it
pollers() {
	local cookie ino pid pids

	[ "$SERVER" = nginx ] || return 0
	mapfile -t pids < <(ip netns pids "$1")
	ss_listener_ids "$1" "$2" | while read -r cookie ino; do
		for pid in $(epoll_watchers "$ino" "${pids[@]}"); do
			echo "$cookie:$pid"
		done
	done | tr '\n' ' '
}

# compare NS PORT FILE: servers_compare.py's lines as TAP
compare() {
	local kind name got want

	while IFS='|' read -r kind name got want; do
		case "$kind" in
		check) check "$name" "$got" "$want" ;;
		skip) tap_skip "$name" "$got" ;;
		*) echo "$kind" ;;
		esac
	done < <(POLLERS=$(pollers "$1" "$2") in_ns "$1" python3 "$TEST_DIR/servers_compare.py" \
		"$3" "$2" "$HOLDERS")
}

# which thread of a multi-threaded server accepted: every tid sockfan
# names is a thread of the process it names (/proc/PID/task)
threads_check() {
	local pid tid bad=0 n=0

	[ "$SERVER" = haproxy-threads ] || return 0
	while read -r pid tid; do
		n=$((n + 1))
		[ -d "/proc/$pid/task/$tid" ] || bad=$((bad + 1))
	done < <(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    for p in json.loads(line)["ports"]:
        for c in p.get("connection_sockets", []):
            a = c.get("accepted_by") or {}
            if "tid" in a:
                print(a["pid"], a["tid"])' "$1")
	diag "haproxy threads: $(ls /proc/"$(ip netns pids "$NS" | head -n 1)"/task 2>/dev/null |
		tr '\n' ' '); accepting threads in sockfan: $(grep -o '"tid":[0-9]*' "$1" | sort | uniq -c |
		tr '\n' ' ')"
	check "haproxy threads: each accepting tid is a thread of its pid ($n named)" "$bad" 0
}

check_lost() {
	if [ "$SOURCE" = bpf ]; then
		check "no record lost" "$(json_field "$1" "$PORT" lost)" 0
	else
		tap_skip "no record lost" "the proc source has no ring buffer to lose records from"
	fi
}

# --- the two timings ------------------------------------------------------
# window_end before|after FILE: once only the held clients are left, the
# window's look (JSON in FILE) against ss, the same for both timings
window_end() {
	local timing=$1 out=$2

	wait_for 20 quiet "$NS" $PORT "$HELD" || diag "not quiet: $(ss_live "$NS" $PORT) live"
	view_end "$NS" $PORT "$out"
	check "$timing: sockfan ports --source $SOURCE --json exits 0" $? 0
	compare "$NS" $PORT "$out"
	threads_check "$out"
	check "$timing: ss has the scenario's $LISTENERS listener(s) and $HELD connections" \
		"$(ss_listeners "$NS" $PORT) $(ss_established "$NS" $PORT)" "$LISTENERS $HELD"
}

# sockfan first: every connection of the window is seen from its start
before() {
	local out="$TMP/before.json" p0 p1 accepted closed

	diag "--- before: sockfan attached, then the load and $HELD held clients"
	PG_CLOSE_HOST=127.0.0.1 PG_HELD_HOST=::1
	p0=$(netns_mib "$NS" TcpPassiveOpens)
	view_begin "$NS" $PORT "$out" 60 || exit $KSFT_FAIL
	load_start "$NS" $PORT $LOAD_SECS
	held_start "$NS" $PORT || exit $KSFT_FAIL
	load_wait
	window_end before "$out"
	p1=$(netns_mib "$NS" TcpPassiveOpens)
	accepted=$(json_field "$out" $PORT accepted)
	closed=$(json_field "$out" $PORT closed)
	diag "before: sockfan accepted $accepted closed $closed; nstat TcpPassiveOpens +$((p1 - p0))"
	check "before: accepted = nstat TcpPassiveOpens delta" "$accepted" "$((p1 - p0))"
	check "before: closed = accepted - $HELD still open" "$closed" "$((${accepted:-0} - HELD))"
	check_lost "$out"

	# the held clients gone: nothing left on either side
	held_stop
	wait_for 20 quiet "$NS" $PORT 0 || diag "not quiet: $(ss_live "$NS" $PORT) live"
	sockfan_view "$NS" $PORT "$TMP/empty.json"
	check "no connection in sockfan's look once ss has none" \
		"$(json_field "$TMP/empty.json" $PORT connections) $(ss_live "$NS" $PORT)" "0 0"
}

# the load first: HELD connections open and churn in flight at attach
after() {
	local out="$TMP/after.json" p0 p1 accepted closed

	diag "--- after: $HELD held clients and the load first, sockfan attached during it"
	PG_CLOSE_HOST=::1 PG_HELD_HOST=127.0.0.1
	held_start "$NS" $PORT || exit $KSFT_FAIL
	load_start "$NS" $PORT $CHURN_SECS
	sleep 1
	p0=$(netns_mib "$NS" TcpPassiveOpens)
	view_begin "$NS" $PORT "$out" 60 || exit $KSFT_FAIL
	load_wait
	window_end after "$out"
	p1=$(netns_mib "$NS" TcpPassiveOpens)
	accepted=$(json_field "$out" $PORT accepted)
	closed=$(json_field "$out" $PORT closed)
	diag "after: sockfan accepted $accepted closed $closed over the window;" \
		"nstat TcpPassiveOpens +$((p1 - p0)) from just before attaching"
	check "after: the churn in flight was seen (accepted > 0)" \
		"$([ "${accepted:-0}" -gt 0 ] && echo yes)" yes
	check_lost "$out"
	held_stop
}

# 13 checks per timing; the threads' check twice for haproxy's threads
tap_plan $((26 + $([ "$SERVER" = haproxy-threads ] && echo 2 || echo 0)))

netns_new NS "sfsv"
server_start "$NS" $PORT || exit $KSFT_FAIL
before
after
tap_exit
