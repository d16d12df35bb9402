#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/scale-proc.sh [N]: the module's /proc files with N (default
# 100000) idle connections, inside a VM (bench/vm.sh; modules do not load
# on the CI host).  nginx in a fresh namespace holds N connections from
# sockfan_connect with sockfan.ko loaded, then measured:
#   ramp          connections/s while they are made (module loaded)
#   ports, conns  wall time of `cat /proc/net/sockfan/ports` and of
#                 `cat /proc/net/sockfan/conns` (one line per connection)
#   cli           wall time of `sockfan ports --source proc`
#   ss            wall time of `ss -tn state established`, for comparison
#   slab          kernel slab growth, and the module's own share
# Environment: SOCKFAN, SOCKFAN_KO, SOCKFAN_CONNECT.  Not a test.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
n=${1:-100000}
port=8089
ns=sockfan-scale-$$
sockfan=${SOCKFAN:-$top/build/sockfan}
ko=${SOCKFAN_KO:?SOCKFAN_KO=path/to/sockfan.ko}
connect=${SOCKFAN_CONNECT:-$(dirname "$sockfan")/sockfan_connect}
tmp=$(mktemp -d)

die() {
	echo "scale-proc: $*" >&2
	exit 1
}
cleanup() {
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	sleep 1
	ip netns del "$ns" 2>/dev/null
	rmmod sockfan 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -x "$connect" ] || die "$connect missing (SOCKFAN_CONNECT)"

# seconds a command takes, output discarded
walltime() {
	local t0 t1

	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1 || { echo fail; return; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l | xargs printf '%.3f'
}
slab_kb() {
	awk '/^Slab:/ { print $2 }' /proc/meminfo
}

# nginx closes idle connections ("worker_connections are not enough,
# reusing connections") once fewer than 1/16 of its slots are free: the
# 100k run lost 5792 that way.  Slots for n and an eighth more.
slots=$((n + n / 8 + 500))
sysctl -qw fs.nr_open=$((slots + 100000))
ulimit -n $((slots + 1000)) || die "cannot raise the descriptor limit to $((slots + 1000))"
ip netns add "$ns" && ip -n "$ns" link set lo up || die "cannot make a namespace"
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
	net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
insmod "$ko" max_conns=$((n + 1000)) || die "insmod $ko failed"
# info level: a line per connection nginx closes, saying why
nginx_start "$ns" $port dir="$tmp" slots=$slots log=info \
	listen="127.0.0.1:$port backlog=65535" || die "nginx did not start: $(cat "$tmp/logs/stdout")"
srcs=$(seq 2 $((n / 20000 + 2)) | sed 's/^/127.0.1./' | paste -sd,)
slab0=$(slab_kb)
t0=$(date +%s.%N)
ip netns exec "$ns" "$connect" -d 127.0.0.1 -p $port -n "$n" -s "$srcs" -t 3600 \
	>"$tmp/connect.out" 2>&1 &
for _ in $(seq 36000); do
	grep -q '^connected' "$tmp/connect.out" && break
	grep -qi bail "$tmp/connect.out" && die "clients failed: $(head -n 3 "$tmp/connect.out")"
	sleep 0.1
done
t1=$(date +%s.%N)
grep -q '^connected' "$tmp/connect.out" || die "clients did not come up"
sleep 2
ramp=$(echo "$n / ($t1 - $t0)" | bc -l | xargs printf '%.0f')
slab=$((($(slab_kb) - slab0) / 1024))

in_ns() {
	ip netns exec "$ns" "$@"
}
ports_s=$(walltime in_ns cat /proc/net/sockfan/ports)
conns_s=$(walltime in_ns cat /proc/net/sockfan/conns)
cli_s=$(walltime in_ns "$sockfan" ports --source proc)
ss_s=$(walltime in_ns ss -Htn state established)
lines=$(in_ns cat /proc/net/sockfan/conns | wc -l)

echo "# sockfan scale, proc source: $(uname -r), $(nproc) CPUs, $n connections"
printf '%-8s %10s %8s %8s %8s %8s %8s %10s\n' CONNS RAMP_CONN/S PORTS_S CONNS_S CLI_S SS_S \
	SLAB_MB CONN_LINES
printf '%-8s %10s %8s %8s %8s %8s %8s %10s\n' "$n" "$ramp" "$ports_s" "$conns_s" "$cli_s" \
	"$ss_s" "$slab" "$((lines - 1))"
echo "# /proc/net/sockfan/stats in the namespace:"
in_ns cat /proc/net/sockfan/stats | sed 's/^/#   /'
# the module's own memory: a record per connection, and its hash, sized
# at load; the slab's footprint per object from the kernel's /sys/kernel/slab
stat_of() {
	in_ns awk -v n="$1" '$1 == n { print $2 }' /proc/net/sockfan/stats
}
conn_bytes=$(stat_of conn_bytes)
table_bytes=$(stat_of table_bytes)
live=$(stat_of conns)
echo "# module memory: ${conn_bytes:-?} bytes per tracked connection (slab footprint per object: $(cat /sys/kernel/slab/sockfan_conn/slab_size 2>/dev/null || echo ?)), and a hash of ${table_bytes:-?} bytes sized at load for max_conns $(stat_of max_conns); at $live connections $(((conn_bytes * live + table_bytes) / (live ? live : 1))) bytes per connection in all"
echo "# nginx's error log, $(wc -l <"$tmp/logs/error.log") lines, by message:"
sed 's/^[^]]*\] [0-9#]*: \(\*[0-9]* \)\?//; s/, client: .*//' "$tmp/logs/error.log" |
	sort | uniq -c | sort -rn | head -n 10 | sed 's/^/#   /'
echo "# sockfan ports --source proc:"
in_ns "$sockfan" ports --source proc 2>&1 | sed 's/^/#   /'
echo "# *_S: wall seconds (PORTS, CONNS: cat of the /proc file; CLI: sockfan ports --source proc; SS: ss -tn); SLAB_MB: slab growth with the connections and the module"
