#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan ports --json and --prom, read back by real parsers (python's
# json, the Prometheus client library's text parser, promtool's linter)
# and checked for content against ss: python's http.server in a fresh
# namespace, 4 clients.  The BPF path's snapshot (sock_diag seeding) gives the
# numbers; the formats do not depend on the source.
source "$(dirname "$0")/lib.sh"

PORT=8000
N=4

require_scenario_tools
require_btf

tap_plan 12

netns_new NS sffmt
httpd_start "$NS" $PORT || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2,127.0.0.3 60 || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
ino=$(netns_inode "$NS")

in_ns "$NS" "$SOCKFAN" ports --source bpf --netns "$ino" --port $PORT --json \
	>"$TMP/out.json" 2>"$TMP/out.err"
check "--json exits 0" $? 0
# "listeners established peers" and the four-tuples, from the document
got=$("$PY" - "$TMP/out.json" 2>&1 <<-'PY'
	import json, sys
	doc = json.load(open(sys.argv[1]))
	p = doc["ports"][0]
	print(p["listeners"], p["established"], p["peers"])
	for c in sorted(p["connection_sockets"], key=lambda c: (c["remote"], c["remote_port"])):
	    print("%s:%d %s:%d" % (c["local"], c["local_port"], c["remote"], c["remote_port"]))
PY
)
check "--json parses; listeners, established, peers as ss" "$(head -n 1 <<<"$got")" \
	"$(ss_listeners "$NS" $PORT) $(ss_established "$NS" $PORT) $(ss_peers "$NS" $PORT)"
check "--json four-tuples as ss" "$(tail -n +2 <<<"$got" | sort | md5sum)" \
	"$(ss_tuples "$NS" $PORT | md5sum)"

# the text table's row says what the document says (a snapshot: the
# same sockets in both looks)
in_ns "$NS" "$SOCKFAN" ports --source diag --netns "$ino" --port $PORT >"$TMP/out.txt" 2>&1
in_ns "$NS" "$SOCKFAN" ports --source diag --netns "$ino" --port $PORT --json \
	>"$TMP/diag1.json" 2>"$TMP/diag1.err"
check "text table: the port's row as --json says" \
	"$(text_col "$TMP/out.txt" $PORT LISTEN ESTAB CLOSE-WAIT OTHER ACCEPTED CLOSED PEERS REFUSED OWNER)" \
	"$(sockfan_col "$TMP/diag1.json" $PORT LISTEN ESTAB CLOSE-WAIT OTHER ACCEPTED CLOSED PEERS REFUSED OWNER)"
check "text --port lines: four-tuples as --json says" \
	"$(awk '$1 == "ESTAB" { print $2, $3 }' "$TMP/out.txt" | sort | md5sum)" \
	"$(sockfan_json "$TMP/diag1.json" tuples | sort | md5sum)"

in_ns "$NS" "$SOCKFAN" ports --source bpf --netns "$ino" --prom >"$TMP/out.prom" 2>"$TMP/out.err"
check "--prom exits 0" $? 0
if "$PY" -c 'import prometheus_client.parser' 2>/dev/null; then
	got=$("$PY" - "$TMP/out.prom" $PORT 2>&1 <<-'PY'
		import sys
		from prometheus_client.parser import text_string_to_metric_families
		want = {"sockfan_listening_sockets": "gauge", "sockfan_connection_sockets": "gauge",
		        "sockfan_accepted": "counter", "sockfan_accept_wait_seconds": "summary"}
		seen = {}
		for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
		    for s in fam.samples:
		        # connection sockets come by state: ESTAB is what ss counts
		        if s.labels.get("port") == sys.argv[2] and s.labels.get("state", "ESTAB") == "ESTAB":
		            seen[(fam.name, fam.type, s.name)] = s.value
		# the parser names a counter family without _total; a summary's
		# samples are _sum and _count
		sample = {"gauge": "", "counter": "_total", "summary": "_count"}
		for name, kind in sorted(want.items()):
		    v = [val for (f, t, s), val in seen.items()
		         if f == name and t == kind and s == name + sample[kind]]
		    print(name, kind, int(v[0]) if v else "missing")
	PY
	)
	# the BPF window began at the look: the connections are older, so
	# it counts no accept nor wait; the gauges are what ss shows
	check "--prom parses (prometheus_client); samples as ss" "$(tr '\n' ' ' <<<"$got")" \
		"sockfan_accept_wait_seconds summary 0 sockfan_accepted counter 0 sockfan_connection_sockets gauge $(ss_established "$NS" $PORT) sockfan_listening_sockets gauge $(ss_listeners "$NS" $PORT) "
else
	tap_skip "--prom parses (prometheus_client); samples as ss" \
		"python3-prometheus-client not installed (make deps; not in the VM image)"
fi
sed 's/^/# /' "$TMP/out.prom" | head -n 12
# Prometheus's own linter: names, HELP/TYPE, counter suffixes
if command -v promtool >/dev/null; then
	promtool check metrics <"$TMP/out.prom" >"$TMP/lint" 2>&1
	check "--prom passes promtool check metrics" "$?: $(head -c 300 "$TMP/lint")" "0: "
else
	tap_skip "--prom passes promtool check metrics" \
		"promtool (package prometheus) not installed (make deps; not in the VM image)"
fi

# the textfile collector's usage: a sock_diag snapshot per scrape.  A
# snapshot counts nothing over time: an accepted or closed _total from it
# would fall when clients leave, so it has none (the kernel's own
# counters, ListenOverflows..., are there: they never fall); it has the
# gauges
in_ns "$NS" "$SOCKFAN" ports --source diag --netns "$ino" --prom >"$TMP/diag.prom" 2>"$TMP/out.err"
check "--prom of a snapshot: gauges as ss, no accepted/closed counter" \
	"$(grep -cE '^sockfan_(accepted|closed)_total' "$TMP/diag.prom") $(sed -n "s/^sockfan_connection_sockets{.*port=\"$PORT\",state=\"ESTAB\"} //p" "$TMP/diag.prom")" \
	"0 $(ss_established "$NS" $PORT)"
in_ns "$NS" "$SOCKFAN" ports --source diag --netns "$ino" --json >"$TMP/diag.json" 2>"$TMP/out.err"
check "--json of a snapshot: accepted and closed are null (unknown), not 0" \
	"$("$PY" -c 'import json, sys
p = json.load(open(sys.argv[1]))["ports"][0]
print(p["accepted"], p["closed"])' "$TMP/diag.json" 2>&1)" "None None"

"$SOCKFAN" ports --json --prom >/dev/null 2>"$TMP/both.err"
check "--json with --prom: usage error, exit 2" "$?" 2
check "--json with --prom: says why" \
	"$(grep -c 'exclude each other' "$TMP/both.err")" 1
tap_exit
