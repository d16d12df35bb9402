#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: the seed question, answered on a live kernel.
# A web server (python3 -m http.server) listens on one port inside a
# fresh network namespace; clients connect from several addresses; sockfan
# shows one LISTEN socket and N established sockets sharing its local
# port, told apart by their four-tuples, then draws the port (explain).
# Cleans up after itself.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
sockfan=$top/build/sockfan
connect=$top/selftests/sockfan_connect
port=${SOCKFAN_DEMO_PORT:-8000}
clients=${SOCKFAN_DEMO_CLIENTS:-6}
ns=sockfan-demo-$$

[ "$(id -u)" = 0 ] || { echo "make run: needs root (network namespace, BPF)" >&2; exit 1; }
[ -x "$connect" ] || make -s -C "$top/selftests" sockfan_connect >/dev/null

cleanup() {
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
	sleep 0.2
	ip netns del "$ns" 2>/dev/null || true
	rm -f "$tmp"
}
tmp=$(mktemp)
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" timeout 60 python3 -m http.server "$port" --bind 127.0.0.1 \
	>/dev/null 2>&1 &
for _ in $(seq 50); do
	ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && break
	sleep 0.1
done

echo "== a web server listens on 127.0.0.1:$port in network namespace $ns"
echo "== sockfan follows the kernel while $clients clients connect from 127.0.0.2-4"
ip netns exec "$ns" "$sockfan" ports --source bpf --port "$port" \
	--netns "/run/netns/$ns" --duration 4 >"$tmp" 2>"$tmp.err" &
viewer=$!
for _ in $(seq 100); do
	grep -q '^# attached' "$tmp.err" 2>/dev/null && break
	sleep 0.1
done
ip netns exec "$ns" "$connect" -d 127.0.0.1 -p "$port" -n "$clients" \
	-s 127.0.0.2,127.0.0.3,127.0.0.4 -t 8 >/dev/null &
wait "$viewer" || { cat "$tmp.err" >&2; exit 1; }
rm -f "$tmp.err"
echo
cat "$tmp"
echo
echo "== the kernel's own view (ss), for comparison"
ip netns exec "$ns" ss -tan "sport = :$port"
echo
echo "== the picture of port $port: sockfan explain $port"
ip netns exec "$ns" "$sockfan" explain "$port" --source bpf --netns "/run/netns/$ns" 2>/dev/null
