#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/scale.sh [N...]: sockfan at scale on the BPF path (default N:
# 100000 then 1000000).  nginx in a fresh network namespace holds N idle
# connections from clients in a namespace of their own (as in
# production, where clients are elsewhere), over a veth pair, from many
# source addresses.  Processes stay under
# the descriptor hard limit (ulimit -Hn; a container may forbid raising
# it): nginx gets a worker, and the clients a sockfan_connect process,
# per PER_PROC connections.  Measured per N:
#   ramp      connections/s while they are made, and the BPF records
#             sockfan followed meanwhile (records/s, lost)
#   ports     wall time of `sockfan ports` (auto: a sock_diag snapshot)
#   bpf       the same with --source bpf (programs loaded and attached first)
#   port      wall time of `sockfan ports --port` (every socket and its owner)
#   ss        wall time of `ss -tn state established` for comparison, and of
#             `ss -tnp` (its owner scan; up to 200k connections)
#   scrape    wall time of one /metrics scrape of `sockfan serve` (started
#             after the ramp; the best of 3), and serve's resident memory
# Prints and writes build/bench/scale-HOST-DATE.txt.  Not a test.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
port=8089
hard=$(ulimit -Hn)
case $hard in
unlimited) per_proc=18000 ;;
*) per_proc=$((hard > 20000 ? 18000 : hard - 2000)) ;;
esac
[ "$per_proc" -ge 1000 ] || { echo "scale: descriptor hard limit $hard too low" >&2; exit 1; }
nr_open=$(cat /proc/sys/fs/nr_open)
child_ehash=$(cat /proc/sys/net/ipv4/tcp_child_ehash_entries)
out=$top/build/bench
sockfan=$top/build/sockfan
connect=$top/selftests/sockfan_connect
ns=sockfan-scale-$$
cns=sockfan-scale-clients-$$
srv=10.77.0.1

die() {
	echo "scale: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$sockfan" ] || die "$sockfan not built (make)"
[ -x "$connect" ] || make -s -C "$top/selftests" sockfan_connect >/dev/null ||
	die "cannot build selftests/sockfan_connect"
mkdir -p "$out"
tmp=$(mktemp -d)
result=$out/scale-$(hostname)-$(date +%Y%m%d-%H%M%S).txt

cleanup() {
	sysctl -qw fs.nr_open="$nr_open" 2>/dev/null
	sysctl -qw net.ipv4.tcp_child_ehash_entries="$child_ehash" 2>/dev/null
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns pids "$cns" 2>/dev/null | xargs -r kill 2>/dev/null
	sleep 1
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns pids "$cns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip netns del "$cns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# a namespace's established hash: its own, or the host's shared one
# (tcp_ehash_entries reads negative then)
ehash_of() {
	local e

	e=$(ip netns exec "$1" cat /proc/sys/net/ipv4/tcp_ehash_entries)
	case $e in
	-*) echo "shared ${e#-} buckets" ;;
	*) echo "own $e buckets" ;;
	esac
}

# seconds of a command's wall time, its output discarded
walltime() {
	local t0 t1

	t0=$(date +%s.%N)
	"$@" >/dev/null 2>"$tmp/walltime.err" || { cat "$tmp/walltime.err" >&2; echo fail; return; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l | xargs printf '%.3f'
}

echo "# sockfan scale: $(uname -r), $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB, $per_proc connections per process (ulimit -Hn $hard)" | tee "$result"
printf '%-8s %10s %10s %6s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n' CONNS RAMP_CONN/S RECORDS/S LOST \
	PORTS_S DIAG_S BPF_S PORT_S SS_S SS_P_S SCRAPE_S SERVE_MB SLAB_MB | tee -a "$result"
for n in "${sizes[@]}"; do
	# two sockets, their files and nginx's share: about 12 KiB a connection
	avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	if [ $((n * 12)) -gt $((avail * 9 / 10)) ]; then
		echo "# $n: skipped, needs about $((n * 12 / 1024)) MiB, $((avail / 1024)) MiB available" |
			tee -a "$result"
		continue
	fi
	cleanup 2>/dev/null
	tmp=$(mktemp -d)
	ip netns add "$ns" && ip -n "$ns" link set lo up || die "cannot make a namespace"
	# the clients get an established hash of their own, as they would on
	# other hosts: in the shared one, every walk of the server's sockets
	# would also step over the clients' million (tcp_child_ehash_entries,
	# read when a namespace is made; 0 again at once for anything else)
	sysctl -qw net.ipv4.tcp_child_ehash_entries="$n" 2>/dev/null
	ip netns add "$cns" && ip -n "$cns" link set lo up || die "cannot make a namespace"
	sysctl -qw net.ipv4.tcp_child_ehash_entries="$child_ehash"
	cehash=$(ehash_of "$cns")
	ip link add sfscale0 netns "$ns" type veth peer name sfscale1 netns "$cns" ||
		die "cannot make a veth pair"
	ip -n "$ns" addr add $srv/16 dev sfscale0 && ip -n "$ns" link set sfscale0 up &&
		ip -n "$cns" link set sfscale1 up || die "cannot set up the veth pair"
	ip netns exec "$cns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	ip netns exec "$ns" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
	sysctl -qw fs.nr_open=$((n + 100000)) 2>/dev/null
	procs=$(((n + per_proc - 1) / per_proc))
	# reuseport spreads by hash, not evenly: workers get 10% headroom,
	# which also keeps nginx from closing idle connections to free slots
	# (it does once fewer than 1/16 are free)
	workers=$(((n + per_proc * 9 / 10 - 1) / (per_proc * 9 / 10)))
	nginx_start "$ns" $port dir="$tmp" workers=$workers slots=$((per_proc + 500)) \
		listen="$srv:$port backlog=65535 reuseport" ||
		die "nginx did not start: $(cat "$tmp/logs/stdout")"
	# 20000 connections per source address: a third of the ephemeral
	# ports, so that connect() finds a free one at once
	srcs=$(seq 2 $((n / 20000 + 2)) | sed 's/^/10.77.1./' | paste -sd,)
	for a in ${srcs//,/ }; do
		ip -n "$cns" addr add "$a/16" dev sfscale1 || die "cannot add $a"
	done
	slab0=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)

	ip netns exec "$ns" "$sockfan" ports --source bpf --no-seed --duration 3600 \
		>"$tmp/follow.out" 2>"$tmp/follow.err" &
	follower=$!
	for _ in $(seq 200); do
		grep -q '^# attached' "$tmp/follow.err" && break
		sleep 0.1
	done
	t0=$(date +%s.%N)
	for ((p = 0; p < procs; p++)); do
		m=$((p < procs - 1 ? per_proc : n - per_proc * (procs - 1)))
		ip netns exec "$cns" "$connect" -d $srv -p $port -n "$m" -s "$srcs" -t 3600 \
			>"$tmp/connect.$p" 2>&1 &
	done
	for _ in $(seq 6000); do
		up=$(cat "$tmp"/connect.* | grep -c '^connected [0-9]*$')
		[ "$up" = "$procs" ] && break
		cat "$tmp"/connect.* | grep -qi 'Bail' && break
		sleep 0.1
	done
	t1=$(date +%s.%N)
	[ "$up" = "$procs" ] ||
		die "only part of $n connections came up: $(cat "$tmp"/connect.* | grep -i bail | head -n 3)"
	sleep 2
	kill -INT $follower
	wait $follower
	ramp=$(echo "$n / ($t1 - $t0)" | bc -l | xargs printf '%.0f')
	records=$(awk '/^# source bpf/ { for (i = 2; i <= NF; i++) if ($i == "records,") print $(i - 1) }' "$tmp/follow.out")
	lost=$(awk '/^# source bpf/ { for (i = 2; i <= NF; i++) if ($i == "lost,") print $(i - 1) }' "$tmp/follow.out")
	rps=$(echo "${records:-0} / ($t1 - $t0)" | bc -l | xargs printf '%.0f')
	slab=$((($(awk '/^Slab:/ { print $2 }' /proc/meminfo) - slab0) / 1024))

	ports_s=$(walltime ip netns exec "$ns" "$sockfan" ports --netns "/run/netns/$ns")
	diag_s=$(SOCKFAN_SNAPSHOT=diag walltime ip netns exec "$ns" "$sockfan" ports \
		--netns "/run/netns/$ns")
	bpf_s=$(walltime ip netns exec "$ns" "$sockfan" ports --source bpf --netns "/run/netns/$ns")
	port_s=$(walltime ip netns exec "$ns" "$sockfan" ports --netns "/run/netns/$ns" --port $port)
	ss_s=$(walltime ip netns exec "$ns" ss -Htn state established)
	ssp_s=-
	[ "$n" -le 200000 ] && ssp_s=$(walltime ip netns exec "$ns" ss -Htnp state established)
	estab=$(ip netns exec "$ns" "$sockfan" ports --netns "/run/netns/$ns" 2>/dev/null |
		awk -v p=$port '$2 == p { print $4 }')
	ip netns exec "$ns" "$sockfan" serve --source bpf --netns "/run/netns/$ns" \
		--listen 127.0.0.1:9478 >"$tmp/serve.out" 2>"$tmp/serve.err" &
	server=$!
	for _ in $(seq 300); do
		grep -q '^# serving' "$tmp/serve.err" && break
		sleep 0.1
	done
	scrape_s=fail
	for _ in 1 2 3; do
		t=$(walltime ip netns exec "$ns" curl -sf -o /dev/null http://127.0.0.1:9478/metrics)
		[ "$scrape_s" = fail ] || [ "$t" = fail ] ||
			t=$(echo "if ($t < $scrape_s) $t else $scrape_s" | bc -l | xargs printf '%.3f')
		scrape_s=$t
	done
	serve_mb=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$server/status" 2>/dev/null)
	kill -TERM $server
	wait $server
	printf '%-8s %10s %10s %6s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n' "$n" "$ramp" "$rps" \
		"${lost:-?}" "$ports_s" "$diag_s" "$bpf_s" "$port_s" "$ss_s" "$ssp_s" "$scrape_s" \
		"${serve_mb:-?}" "$slab" |
		tee -a "$result"
	echo "#   $n: sockfan ports shows ESTAB ${estab:-?} on port $port;" \
		"established hash: server $(ehash_of "$ns"), clients $cehash" | tee -a "$result"
done
echo "# *_S: wall seconds (PORTS: auto = a snapshot counted by the BPF socket iterator; DIAG: the same listed by sock_diag (SOCKFAN_SNAPSHOT=diag); BPF: --source bpf; PORT: --port, every socket with its owner; SS_P: ss -tnp; SCRAPE: one /metrics of sockfan serve); SERVE_MB: its resident memory; SLAB_MB: kernel slab growth with the connections" | tee -a "$result"
echo "scale: results in $result"
