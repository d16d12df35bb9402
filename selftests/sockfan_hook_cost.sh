#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan ports --hook-cost: what the BPF programs cost, as the kernel
# counts it (BPF_ENABLE_STATS).  python's http.server in a fresh
# namespace takes N connections while sockfan follows with --hook-cost:
# the handshakes it divides by must be the passive opens the kernel
# counted (nstat TcpPassiveOpens), the state and accept programs must have
# run for each of them and for a measured time, what an empty program's
# run counts must have been measured and be less than any program's run,
# and the host-wide switch (kernel.bpf_stats_enabled) must stay as
# it was.  With it --hist: the kernel's histograms count every
# handshake and every accept.  Then --json and --prom, read back by
# python and the Prometheus parser, and misuse.
source "$(dirname "$0")/lib.sh"

PORT=8000
N=8
STATS=/proc/sys/kernel/bpf_stats_enabled

require_scenario_tools
source_setup bpf

tap_plan 12

netns_new NS sfhook
httpd_start "$NS" $PORT || exit $KSFT_FAIL
ino=$(netns_inode "$NS")
stats0=$(cat "$STATS" 2>/dev/null)

opens=$(netns_mib "$NS" TcpPassiveOpens)
in_ns "$NS" "$SOCKFAN" ports --source bpf --netns "$ino" --hook-cost --hist --duration 30 \
	>"$TMP/out" 2>"$TMP/out.err" &
viewer=$!
wait_for 30 grep -q '^# attached' "$TMP/out.err" || {
	diag "sockfan did not attach: $(cat "$TMP/out.err")"
	exit $KSFT_FAIL
}
stats_during=$(cat "$STATS" 2>/dev/null)
clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2 60 || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
# the server's accept() records, then end the window the way ^C does
sleep 1
interrupt $viewer
wait $viewer
check "--hook-cost exits 0" $? 0
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens))
sed 's/^/# /' "$TMP/out" "$TMP/out.err"

# "# hook cost: P RUNS runs NS ns (N ns/run), ...; an empty run counts
# E ns; T ns per handshake beyond that (H handshakes)" -> "H state-runs
# accept-runs ran-without-time E least-ns/run"
got=$(awk '/^# hook cost:/ {
	sub(/^# hook cost: /, "")
	split($0, part, "; ")
	hs = "none"
	if (match(part[3], /\([0-9]+ handshakes\)$/))
		hs = substr(part[3], RSTART + 1, RLENGTH - 13) + 0
	empty = "none"
	if (part[2] ~ /^an empty run counts [0-9]+ ns$/)
		empty = substr(part[2], 21) + 0
	least = "none"
	n = split(part[1], hook, ", ")
	for (i = 1; i <= n; i++) {
		split(hook[i], f, " ")
		if (f[1] ~ /^state/)
			st += f[2]
		if (f[1] ~ /^accept/)
			ac += f[2]
		if (f[2] > 0 && f[4] == 0)
			untimed++
		if (f[2] > 0 && (least == "none" || f[4] / f[2] < least))
			least = f[4] / f[2]
	}
	print hs, st + 0, ac + 0, untimed + 0, empty, least
}' "$TMP/out")
read -r handshakes state_runs accept_runs untimed empty least <<<"$got"
check "handshakes divided by = passive opens (nstat)" "${handshakes:-none}" "$opens"
# "port P in netns I: passive handshake, ..." then "   lo -> hi : count |***|"
check "--hist: handshake and accept-wait histograms count every connection, no lifetime yet" \
	"$(awk -v p=$PORT '/^port / { h = ($2 == p) ? $6 : "" }
		h && / -> / { n[h] += $5 }
		h && /\(none yet\)/ { n[h] += 0 }
		END { print n["passive"] + 0, n["accept"] + 0, n["connection"] + 0 }' "$TMP/out")" \
	"$opens $opens 0"
# each connection changes state twice at each end (SYN_SENT, ESTABLISHED;
# SYN_RECV, ESTABLISHED): other sockets of the host can only add runs
check "state program ran for every state change: at least 4 per connection" \
	"$([ "${state_runs:-0}" -ge $((4 * N)) ] && echo yes || echo "no: $got")" yes
check "accept programs ran at least once per connection (python accept()s each)" \
	"$([ "${accept_runs:-0}" -ge $N ] && echo yes || echo "no: $got")" yes
check "each program that ran has a run time" "${untimed:-none}" 0
# an empty program's run: mostly the clock reads; every real one does more
check "an empty program's run is timed, above 0 and below every program's ns/run" \
	"$(awk -v f="${empty:-none}" -v l="${least:-none}" 'BEGIN {
		print (f != "none" && l != "none" && f > 0 && f < l) ? "yes" : "no: " f " vs " l }')" yes
# BPF_ENABLE_STATS lasts as long as sockfan's descriptor: the global
# switch is not touched (left on, it would cost every program on the host)
check "sysctl kernel.bpf_stats_enabled untouched, during and after" \
	"$stats_during $(cat "$STATS" 2>/dev/null)" "$stats0 $stats0"

in_ns "$NS" "$SOCKFAN" ports --source bpf --netns "$ino" --hook-cost --duration 1 --json \
	>"$TMP/out.json" 2>"$TMP/json.err"
rc=$?
got=$("$PY" - "$TMP/out.json" 2>&1 <<-'PY'
	import json, sys
	hc = json.load(open(sys.argv[1]))["hook_cost"]
	print(type(hc["handshakes"]).__name__, type(hc["empty_run_ns"]).__name__,
	      sorted(set(k for p in hc["programs"] for k in p)),
	      any(p["prog"].startswith("state") for p in hc["programs"]))
PY
)
check "--hook-cost --json parses: handshakes, empty_run_ns, and prog/runs/run_ns per program" \
	"$rc: $got" "0: int int ['prog', 'run_ns', 'runs'] True"

in_ns "$NS" "$SOCKFAN" ports --source bpf --netns "$ino" --hook-cost --duration 1 --prom \
	>"$TMP/out.prom" 2>"$TMP/prom.err"
rc=$?
if "$PY" -c 'import prometheus_client.parser' 2>/dev/null; then
	got=$("$PY" - "$TMP/out.prom" 2>&1 <<-'PY'
		import sys
		from prometheus_client.parser import text_string_to_metric_families
		names = set()
		for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
		    for s in fam.samples:
		        if fam.name.startswith("sockfan_bpf_prog_run") and s.labels.get("prog"):
		            names.add((fam.name, fam.type))
		        if fam.name in ("sockfan_handshakes", "sockfan_bpf_empty_run_seconds"):
		            names.add((fam.name, fam.type))
		print(" ".join("%s:%s" % n for n in sorted(names)))
	PY
	)
	check "--hook-cost --prom parses (prometheus_client): per-program gauges" "$rc: $got" \
		"0: sockfan_bpf_empty_run_seconds:gauge sockfan_bpf_prog_run_seconds:gauge sockfan_bpf_prog_runs:gauge sockfan_handshakes:gauge"
else
	tap_skip "--hook-cost --prom parses (prometheus_client): per-program gauges" \
		"python3-prometheus-client not installed (make deps; not in the VM image)"
fi
grep '^sockfan_bpf\|^sockfan_handshakes' "$TMP/out.prom" | sed 's/^/# /'

"$SOCKFAN" ports --hook-cost >/dev/null 2>"$TMP/bad1.err"
check "--hook-cost without --duration or --interval: usage error, exit 2, says why" \
	"$?: $(grep -c 'needs time for the programs to run' "$TMP/bad1.err")" "2: 1"
"$SOCKFAN" ports --hook-cost --source diag --duration 1 >/dev/null 2>"$TMP/bad2.err"
check "--hook-cost with --source diag: usage error, exit 2, says why" \
	"$?: $(grep -c 'measures the BPF programs: it needs --source bpf' "$TMP/bad2.err")" "2: 1"
tap_exit
