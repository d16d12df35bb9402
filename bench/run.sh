#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/run.sh [ROUNDS] [SECONDS]: what tracing costs nginx, measured side
# by side in one run.  nginx (1 worker, pinned to CPU 0) serves loopback
# in a fresh network namespace; wrk (1 thread, pinned to CPU 1) loads it
# for SECONDS per run, in two loads:
#   new-conn   a new connection per request (Connection: close)
#   keepalive  50 connections kept open
# Each round runs every tracer once, in turn (interleaved, so drift hits
# all alike; the order turns from round to round): none, sockfan
# (BPF, `sockfan ports --duration`: a record per connection), serve
# (`sockfan serve`: counters and histograms kept in the kernel, no
# record per connection), serve-records (the same with a /records
# stream of the port open: its programs write a record per connection
# while it is), and a bpftrace counter on
# inet_sock_set_state as a peer; kmod (sockfan.ko loaded) where modules
# load (bench/vm.sh runs this script in the VMs); on request
# bpftrace-accept, a counter on the accept4 syscall tracepoint: the price
# of the hook sockfan falls back to where fexit is refused, before any
# program of its own runs.
# A tracer's cost is the median over rounds of (its req/s / none's req/s)
# in the same round.  Then, for sockfan, one more new-conn run with the
# kernel counting its BPF programs' run time (sockfan ports --hook-cost):
# nanoseconds per connection per hook, a figure without the req/s noise,
# here and in the VMs alike; and the same count for each BPF tracer
# (sockfan ports, sockfan serve, the bpftrace one-liner) with
# kernel.bpf_stats_enabled, which times every program alike, per
# handshake beyond an empty run.  Then what a syscall tracepoint (the accept
# fallback's hook) adds to every syscall, and so to each request, before
# any program runs (bench/syscall-loop, and bpftrace: not in the VMs).
# Prints the table and
# writes it to build/bench/results-HOST-DATE.txt.  Not a test: numbers,
# not verdicts.
# Environment: BENCH_TRACERS (default "none sockfan serve serve-records
# bpftrace"; also kmod, bpftrace-accept), SOCKFAN
# (the CLI), SOCKFAN_KO (the module, for kmod), BENCH_OUT (results dir).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
rounds=${1:-5}
secs=${2:-5}
port=8088
ns=sockfan-bench-$$
out=${BENCH_OUT:-$top/build/bench}
sockfan=${SOCKFAN:-$top/build/sockfan}
ko=${SOCKFAN_KO:-}
read -ra tracers <<<"${BENCH_TRACERS:-none sockfan serve serve-records bpftrace}"
# extra arguments of the sockfan tracer (hook_cost adds --hook-cost)
sockfan_args=()
loads=(new-conn keepalive)

die() {
	echo "bench: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (network namespace, BPF)"
need=(nginx wrk taskset)
[[ " ${tracers[*]} " == *" bpftrace"* ]] && need+=(bpftrace)
for t in "${need[@]}"; do
	command -v "$t" >/dev/null || die "$t not installed (make deps)"
done
[[ " ${tracers[*]} " == *" none "* ]] || die "BENCH_TRACERS must include none (the baseline)"
for t in "${tracers[@]}"; do
	case $t in
	none | sockfan | serve | serve-records | bpftrace | bpftrace-accept | kmod) ;;
	*) die "BENCH_TRACERS: unknown tracer '$t' (none sockfan serve serve-records bpftrace bpftrace-accept kmod)" ;;
	esac
done
[ -x "$sockfan" ] || die "$sockfan not built (make)"
if [[ " ${tracers[*]} " == *" kmod "* ]]; then
	[ -f "$ko" ] || die "kmod needs SOCKFAN_KO=path/to/sockfan.ko"
	[ -e /proc/modules ] || die "kmod: this kernel does not load modules"
fi
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs: one for nginx, one for wrk"
mkdir -p "$out"
tmp=$(mktemp -d)

cleanup() {
	[ -n "${tracer_pid:-}" ] && kill "$tracer_pid" 2>/dev/null
	[ -n "${ko_loaded:-}" ] && rmmod sockfan 2>/dev/null
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	sleep 0.3
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
nginx_start "$ns" $port dir="$tmp" main='worker_cpu_affinity 01;' \
	http='keepalive_requests 1000000;' listen="127.0.0.1:$port backlog=4096" ||
	die "nginx did not start"
# new connections per request exhaust ephemeral ports without these
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"

# bpftrace running PROGRAM, once it has attached
bpftrace_start() {
	bpftrace -e "$1" >"$tmp/bpftrace.out" 2>&1 &
	tracer_pid=$!
	for _ in $(seq 100); do
		grep -q '^Attaching' "$tmp/bpftrace.out" && break
		sleep 0.1
	done
	sleep 0.5
}

tracer_start() {
	tracer_pid=
	case $1 in
	kmod)
		insmod "$ko" || die "insmod $ko failed"
		ko_loaded=1
		;;
	sockfan)
		ip netns exec "$ns" "$sockfan" ports --source bpf --no-seed --duration 3600 \
			"${sockfan_args[@]}" >"$tmp/sockfan.out" 2>"$tmp/sockfan.err" &
		tracer_pid=$!
		for _ in $(seq 100); do
			grep -q '^# attached' "$tmp/sockfan.err" && break
			sleep 0.1
		done
		;;
	serve | serve-records)
		ip netns exec "$ns" "$sockfan" serve --source bpf --no-seed --listen 127.0.0.1:9479 \
			"${sockfan_args[@]}" >"$tmp/serve.out" 2>"$tmp/serve.err" &
		tracer_pid=$!
		for _ in $(seq 100); do
			grep -q '^# serving' "$tmp/serve.err" && break
			sleep 0.1
		done
		[ "$1" = serve-records ] || return 0
		# a stream of the port's records, read as they come, until
		# serve stops (python: the VM image has no curl)
		ip netns exec "$ns" python3 -c 'import sys, urllib.request
r = urllib.request.urlopen(sys.argv[1], timeout=30)
while r.read(65536):
    pass' "http://127.0.0.1:9479/records?port=$port&seconds=3600" >/dev/null 2>&1 &
		for _ in $(seq 100); do
			ip netns exec "$ns" python3 -c 'import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9479/metrics", timeout=5).read().decode())' \
				2>/dev/null | grep -q '^sockfan_records_streams 1$' && break
			sleep 0.1
		done
		;;
	bpftrace)
		bpftrace_start 'tracepoint:sock:inet_sock_set_state { @[args->newstate] = count(); }'
		;;
	bpftrace-accept)
		# what the accept fallback's hook costs before any program runs:
		# a syscall tracepoint sends every syscall of every task through
		# the slow path (keep-alive makes no accept at all)
		bpftrace_start 'tracepoint:syscalls:sys_exit_accept4 { @ = count(); }'
		;;
	esac
}

# CPU seconds (user + system) the tracer's own process used so far
tracer_cpu() {
	[ -n "$tracer_pid" ] && [ -r "/proc/$tracer_pid/stat" ] || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
		"/proc/$tracer_pid/stat"
}

tracer_stop() {
	if [ -n "${ko_loaded:-}" ]; then
		rmmod sockfan || die "rmmod sockfan failed"
		ko_loaded=
	fi
	[ -n "$tracer_pid" ] || return 0
	# once a SIGINT left bpftrace running (a round stuck for minutes):
	# again each second, then TERM, then KILL
	for sig in INT INT INT INT INT TERM KILL; do
		kill -"$sig" "$tracer_pid" 2>/dev/null || break
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$tracer_pid" 2>/dev/null || break 2
			sleep 0.1
		done
	done
	wait "$tracer_pid" 2>/dev/null
	tracer_pid=
}

# load_run LOAD [requests]: req/s of one wrk run (or the requests made)
load_run() {
	local hdr=()

	[ "$1" = new-conn ] && hdr=(-H 'Connection: close')
	ip netns exec "$ns" taskset -c 1 wrk -t 1 -c 50 -d "${secs}s" "${hdr[@]}" \
		"http://127.0.0.1:$port/" 2>/dev/null |
		awk -v want="${2:-}" '/^Requests\/sec:/ && !want { print $2 }
			/ requests in / && want { print $1 }'
}

# median of the numbers on standard input (nothing for none)
median() {
	sort -g | awk '{ v[NR] = $1 }
		END { if (NR) printf "%.10g\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "# $(uname -r), $rounds rounds x ${secs}s per tracer and load"
for ((r = 1; r <= rounds; r++)); do
	# A run inherits the previous run's TIME_WAIT sockets: every other
	# round goes backwards, and each pair of rounds starts one tracer
	# further on, so that neither a tracer's place nor the one before it
	# stays put (over 2N rounds of N tracers each takes each place twice).
	k=$((((r - 1) / 2) % ${#tracers[@]}))
	order=("${tracers[@]:k}" "${tracers[@]:0:k}")
	if ((r % 2 == 0)); then
		for ((i = 0, j = ${#order[@]} - 1; i < j; i++, j--)); do
			t=${order[i]}
			order[i]=${order[j]}
			order[j]=$t
		done
	fi
	for load in "${loads[@]}"; do
		for t in "${order[@]}"; do
			tracer_start "$t"
			cpu0=$(tracer_cpu)
			rps=$(load_run "$load")
			cpu=$(awk -v a="$(tracer_cpu)" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }')
			tracer_stop
			echo "$r $load $t ${rps:-0} $cpu" | tee -a "$tmp/raw"
		done
	done
done
# connections the namespace's TCP accepted so far (PassiveOpens)
passive_opens() {
	ip netns exec "$ns" awk '$1 == "Tcp:" {
		if (!c) { for (i = 2; i <= NF; i++) if ($i == "PassiveOpens") c = i; next }
		print $c }' /proc/net/snmp
}

# What sockfan's hooks cost per connection, as the kernel counts it: one
# more new-conn run with sockfan --hook-cost (BPF_ENABLE_STATS), apart
# from the rounds (the count itself adds two clock reads per call).
# Req/s ratios carry a few percent of noise here; this does not.
hook_cost() {
	local o0 o1 rps

	[[ " ${tracers[*]} " == *" sockfan "* ]] || return
	sockfan_args=(--hook-cost)
	tracer_start sockfan
	sockfan_args=()
	if ! kill -0 "$tracer_pid" 2>/dev/null; then
		echo "# hook cost: not measured: sockfan --hook-cost did not start: $(tail -n 1 "$tmp/sockfan.err")"
		tracer_pid=
		return
	fi
	o0=$(passive_opens)
	rps=$(load_run new-conn)
	o1=$(passive_opens)
	tracer_stop
	grep -q '^# hook cost:' "$tmp/sockfan.out" || {
		echo "# hook cost: not measured: no '# hook cost' line from sockfan: $(tail -n 1 "$tmp/sockfan.err")"
		return
	}
	# "# hook cost: P1 RUNS runs NS ns (N ns/run), P2 ...; an empty run
	# counts E ns; T ns per handshake beyond that (H handshakes)": all from
	# sockfan's exact totals.  NS/CALL as the kernel counted; NET/CALL and
	# NS/CONN beyond the E ns an empty program's call counts (mostly the
	# count's own clock reads); the "all" row is sockfan's T.
	awk -v opens=$((o1 - o0)) -v rps="${rps:-0}" '
		/^# hook cost:/ {
			sub(/^# hook cost: /, "")
			split($0, part, "; ")
			n = split(part[1], hook, ", ")
			hs = 0
			if (match(part[3], /\([0-9]+ handshakes\)/))
				hs = substr(part[3], RSTART + 1, RLENGTH - 13) + 0
			e = part[2] ~ /^an empty run counts [0-9]+ ns$/ ? substr(part[2], 21) + 0 : 0
			printf "# hook cost (sockfan --hook-cost), one more new-conn run: %d handshakes (PassiveOpens %d), %.0f req/s\n", hs, opens, rps
			if (e)
				printf "# an empty program'"'"'s call counts %d ns (mostly the count'"'"'s clock reads): NET/CALL and NS/CONN are beyond that\n", e
			else
				printf "# an empty program'"'"'s call was not timed: NET/CALL and NS/CONN are as counted\n"
			printf "# %-16s %10s %8s %8s %8s\n", "HOOK", "CALLS/CONN", "NS/CALL", "NET/CALL", "NS/CONN"
			for (i = 1; i <= n && hs > 0; i++) {
				split(hook[i], f, " ")
				if (f[2] == 0)
					continue
				net = f[4] - e * f[2]
				if (net < 0)
					net = 0
				printf "# %-16s %10.2f %8.0f %8.0f %8.0f\n", f[1], f[2] / hs, f[4] / f[2], net / f[2], net / hs
				gross += f[4]
			}
			t = part[3] + 0
			if (hs > 0)
				printf "# %-16s %10s %8s %8s %8.0f (%.1f%% of one CPU at that rate; %.0f ns, %.1f%%, as counted)\n", "all", "", "", "", t, t * rps / 1e7, gross / hs, gross / hs * rps / 1e7
		}' "$tmp/sockfan.out"
}
hook_cost >"$tmp/hooks"

# "RUNS RUN_NS": the BPF programs process PID holds, summed once each,
# as the kernel counts them (with kernel.bpf_stats_enabled): a program's
# descriptor shows them in its fdinfo (Debian's bpftool lists no owners)
prog_stats() {
	awk '/^prog_id:/ { id = $2 } /^run_time_ns:/ { ns[id] = $2 } /^run_cnt:/ { runs[id] = $2 }
		END { for (i in ns) { r += runs[i]; t += ns[i] } printf "%d %d\n", r, t }' \
		/proc/"$1"/fdinfo/* 2>/dev/null
}

# BPF run time per handshake of each BPF tracer with
# kernel.bpf_stats_enabled (every program timed alike, bpftrace's too),
# beyond what an empty program's run counts (sockfan measured it above;
# the count's own clock reads): one new-conn run per tracer and round,
# tracers interleaved, the median of the rounds
kernel_cost() {
	local t e s0 s1 o0 o1 was r

	e=$(sed -n 's/^# an empty program.s call counts \([0-9]*\) ns.*/\1/p' "$tmp/hooks")
	was=$(sysctl -n kernel.bpf_stats_enabled)
	for ((r = 1; r <= rounds; r++)); do
		for t in sockfan serve serve-records bpftrace; do
			[[ " ${tracers[*]} " == *" $t "* ]] || continue
			sysctl -qw kernel.bpf_stats_enabled=1
			tracer_start "$t"
			s0=$(prog_stats "$tracer_pid")
			o0=$(passive_opens)
			load_run new-conn >/dev/null
			s1=$(prog_stats "$tracer_pid")
			o1=$(passive_opens)
			tracer_stop
			sysctl -qw kernel.bpf_stats_enabled="$was"
			echo "$t $s0 $s1 $((o1 - o0))" >>"$tmp/kernel_cost"
		done
	done
	echo "# BPF run time per passive handshake, new-conn, kernel.bpf_stats_enabled, beyond ${e:-0} ns an empty run counts (median of $rounds runs each, interleaved):"
	for t in sockfan serve serve-records bpftrace; do
		[[ " ${tracers[*]} " == *" $t "* ]] || continue
		awk -v t="$t" -v e="${e:-0}" '$1 == t && $6 > 0 {
			runs = $4 - $2; ns = $5 - $3; net = ns - e * runs
			printf "%.1f %.1f %.2f\n", (net > 0 ? net : 0) / $6, ns / $6, runs / $6
		}' "$tmp/kernel_cost" | sort -g | awk -v t="$t" '
			{ net[NR] = $1; all = all sprintf(" %.0f", $1); gross[NR] = $2; runs = $3 }
			END {
				what = t == "sockfan" ? "sockfan ports (a record per connection)" : \
				       t == "serve" ? "sockfan serve (counts in the kernel)" : \
				       t == "serve-records" ? "sockfan serve, a /records stream open" : \
				       "bpftrace one-liner (a count per state change)"
				if (!NR) { printf "#   %-46s not measured\n", what; exit }
				m = NR % 2 ? net[(NR + 1) / 2] : (net[NR / 2] + net[NR / 2 + 1]) / 2
				printf "#   %-46s %6.0f ns (runs:%s; %.1f program runs per handshake)\n", what, m, all, runs
			}'
	done
}
kernel_cost >>"$tmp/hooks"

# What the accept fallback's hook costs before any program of sockfan's
# runs.  While a syscall tracepoint is attached, every syscall of every
# task takes the kernel's slow path: priced per syscall (getppid in a
# loop on CPU 0, without and with the tracepoint, 5 pairs), then per
# request, from the syscalls nginx and wrk make per request of each load
# (counted on raw_syscalls), at the no-tracer rates of the rounds above.
syscall_floor() {
	local loop=$top/build/bench/syscall-loop offs=() ons=() off on load req base

	command -v bpftrace >/dev/null || {
		echo "# syscall tracepoint floor: not measured: bpftrace not installed (make deps)"
		return
	}
	[ -x "$loop" ] || {
		echo "# syscall tracepoint floor: not measured: $loop not built (make bench)"
		return
	}
	for _ in 1 2 3 4 5; do
		offs+=("$(taskset -c 0 "$loop")")
		bpftrace_start 'tracepoint:syscalls:sys_exit_accept4 { @ = count(); }'
		ons+=("$(taskset -c 0 "$loop")")
		tracer_stop
	done
	off=$(printf '%s\n' "${offs[@]}" | median)
	on=$(printf '%s\n' "${ons[@]}" | median)
	echo "# syscall tracepoint floor (the accept fallback's hook, before any program runs):"
	awk -v a="$off" -v b="$on" 'BEGIN {
		printf "#   getppid %.1f ns without, %.1f ns with: %+.1f ns on every syscall of every task (medians of 5 pairs)\n", a, b, b - a }'
	for load in "${loads[@]}"; do
		bpftrace_start 'tracepoint:raw_syscalls:sys_enter /comm == "nginx" || comm == "wrk"/ { @[comm] = count(); }'
		req=$(load_run "$load" requests)
		tracer_stop
		base=$(awk -v l="$load" '$2 == l && $3 == "none" { print $4 }' "$tmp/raw" | median)
		awk -v l="$load" -v req="${req:-0}" -v d="$(awk -v a="$off" -v b="$on" 'BEGIN { print b - a }')" \
		    -v rps="${base:-0}" '
			/^@\[(nginx|wrk)\]: [0-9]+$/ { n[substr($1, 3, length($1) - 4)] = $2 }
			END {
				if (!req || !rps) { printf "#   %s: not measured (no requests)\n", l; exit }
				printf "#   %-9s nginx %.1f, wrk %.1f syscalls per request: %+.0f ns on nginx'"'"'s CPU (%.2f%% at %.0f req/s), %+.0f ns on wrk'"'"'s (%.2f%%)\n",
					l, n["nginx"] / req, n["wrk"] / req, n["nginx"] / req * d, n["nginx"] / req * d * rps / 1e7, rps,
					n["wrk"] / req * d, n["wrk"] / req * d * rps / 1e7
			}' "$tmp/bpftrace.out"
	done
}
syscall_floor >"$tmp/floor"

lost=$(awk '/^# source bpf/ { for (i = 2; i <= NF; i++) if ($i == "lost,") print $(i - 1) }' \
	"$tmp/sockfan.out" 2>/dev/null)

result=$out/results-$(hostname)-$(date +%Y%m%d-%H%M%S).txt
{
	echo "# sockfan bench: $(uname -r), nginx 1 worker on CPU 0, wrk -t1 -c50 on CPU 1"
	echo "# $rounds interleaved rounds x ${secs}s; ratio = tracer req/s / no-tracer req/s"
	echo "# in the same round, median over rounds; cost = 1 - ratio"
	echo "# sockfan hooks: $(sed -n 's/^# attached: //p' "$tmp/sockfan.err" 2>/dev/null)"
	printf '%-10s %-15s %12s %8s %8s\n' LOAD TRACER MEDIAN_RPS RATIO COST
	for load in "${loads[@]}"; do
		for t in "${tracers[@]}"; do
			mr=$(awk -v l="$load" -v t="$t" '$2 == l && $3 == t { print $4 }' "$tmp/raw" | median)
			# per round: its req/s over none's in that round
			mq=$(awk -v l="$load" -v t="$t" '
				$2 == l && $3 == "none" { base[$1] = $4 }
				$2 == l && $3 == t { v[$1] = $4 }
				END { for (r in v) printf "%.10g\n", base[r] ? v[r] / base[r] : 0 }' "$tmp/raw" | median)
			awk -v l="$load" -v t="$t" -v mr="${mr:-0}" -v mq="${mq:-0}" 'BEGIN {
				printf "%-10s %-15s %12.0f %8.4f %7.2f%%\n", l, t, mr, mq, (1 - mq) * 100 }'
		done
	done
	echo "# sockfan ring buffer: ${lost:-?} records lost in its last run"
	cat "$tmp/hooks" 2>/dev/null
	cat "$tmp/floor" 2>/dev/null
	echo "# raw: round load tracer req/s tracer-process-CPU-seconds"
	sed 's/^/# /' "$tmp/raw"
} | tee "$result"
echo "bench: results in $result"
