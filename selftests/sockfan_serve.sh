#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan serve, scraped by a real Prometheus server (Debian's
# prometheus, every second), both in a fresh namespace beside nginx's: the
# counters Prometheus stored rise by the passive opens nstat counted
# (accepted, and the handshakes the programs count in the kernel); the
# kernel's histograms count every accept and give quantiles; /metrics
# passes promtool; /healthz answers; SIGTERM ends serve with 0.
source "$(dirname "$0")/lib.sh"

PORT=8080		# nginx
SPORT=9477		# sockfan serve, its documented default port
PPORT=9090		# Prometheus
N=200

require_scenario_tools
require_btf
require_nginx
command -v prometheus >/dev/null || skip_all "prometheus not installed (make deps; not in the VM image)"
command -v promtool >/dev/null || skip_all "promtool not installed (make deps; not in the VM image)"

tap_plan 16

netns_new NS sfserve
nginx_start "$NS" $PORT
ino=$(netns_inode "$NS")
# serve and Prometheus talk in a namespace of their own: a scrape that
# opens a new connection (one that timed out on a slow host) is then no
# passive open of nginx's namespace, whose nstat counts are the truth
netns_new PNS sfprom

# get NS URL: the body (python: no curl in the VM image, and one HTTP client)
get() {
	in_ns "$1" "$PY" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")' "$2"
}

# promql EXPR: the value of an instant query's first sample, or nothing
promql() {
	in_ns "$PNS" "$PY" -c 'import json, sys, urllib.parse, urllib.request
q = urllib.parse.urlencode({"query": sys.argv[2]})
r = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/query?" + q, timeout=5))
v = r["data"]["result"]
print(v[0]["value"][1] if v else "", end="")' "http://127.0.0.1:$PPORT" "$1" 2>/dev/null
}

# conditions for wait_for, which runs its command again each time
prom_is() {
	[ "$(promql "$1")" = "$2" ]
}

prom_has() {
	[ -n "$(promql "$1")" ]
}

# only the 10 held clients left on nginx's port: the churn has closed
none_but_held() {
	[ "$(in_ns "$NS" ss -Htan "sport = :$PORT" | grep -cvE '^(LISTEN|TIME-WAIT) ')" = 10 ]
}

# ip netns exec execs: $! is sockfan serve itself, for the SIGTERM.
# --accept-waits: where fexit is refused, the accept-wait histogram (and
# the dashboard's panels of it) need the syscall tracepoints; the later
# serves here run without, as by default
ip netns exec "$PNS" "$SOCKFAN" serve --source bpf --netns "$ino" --listen 127.0.0.1:$SPORT \
	--accept-waits >"$TMP/serve.out" 2>"$TMP/serve.err" &
serve_pid=$!
PIDS+=("$serve_pid")
wait_for 30 grep -q '^# serving' "$TMP/serve.err" ||
	{ diag "sockfan serve did not start: $(cat "$TMP/serve.err")"; exit "$KSFT_FAIL"; }
check "/healthz answers ok" "$(get "$PNS" "http://127.0.0.1:$SPORT/healthz")" ok
get "$PNS" "http://127.0.0.1:$SPORT/metrics" >"$TMP/metrics"
promtool check metrics <"$TMP/metrics" >"$TMP/promtool" 2>&1
check "/metrics passes promtool check metrics" $? 0
sed 's/^/# promtool: /' "$TMP/promtool"
# one connection to nginx first: its histograms have a sample to show
in_ns "$NS" "$CONNECT" -d 127.0.0.1 -p $PORT -n 1 -s 127.0.0.2 -t 0 >/dev/null 2>&1
# what Prometheus asks for: OpenMetrics, which promtool does not check;
# prometheus_client's parser of it is strict (families, # EOF)
in_ns "$PNS" "$PY" - "http://127.0.0.1:$SPORT/metrics" >"$TMP/om" 2>&1 <<-'PY'
	import sys, urllib.request
	from prometheus_client.openmetrics.parser import text_string_to_metric_families
	accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
	          "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	r = urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"Accept": accept}),
	                           timeout=5)
	body = r.read().decode()
	fams = {f.name: f.type for f in text_string_to_metric_families(body)}
	print(r.headers["Content-Type"], body.endswith("# EOF\n"), fams.get("sockfan_accepted"),
	      fams.get("sockfan_accept_wait_seconds"), fams.get("sockfan_build"))
PY
check "/metrics in OpenMetrics when asked: type, # EOF, strict parse, counter/histogram/info families" \
	"$(tail -n 1 "$TMP/om")" \
	"application/openmetrics-text; version=1.0.0; charset=utf-8 True counter histogram info"

mkdir -p "$TMP/prom"
cat >"$TMP/prom/prometheus.yml" <<-YML
	global:
	  scrape_interval: 1s
	scrape_configs:
	  - job_name: sockfan
	    static_configs:
	      - targets: ["127.0.0.1:$SPORT"]
YML
# ip netns exec execs: $! is Prometheus itself
ip netns exec "$PNS" prometheus --config.file="$TMP/prom/prometheus.yml" \
	--storage.tsdb.path="$TMP/prom/data" --web.listen-address=127.0.0.1:$PPORT \
	>"$TMP/prom/log" 2>&1 &
prom_pid=$!
PIDS+=("$prom_pid")
wait_for 60 prom_is 'up{job="sockfan"}' 1
check "Prometheus scrapes sockfan serve (up == 1)" "$(promql 'up{job="sockfan"}')" 1

acc="sockfan_accepted_total{port=\"$PORT\"}"
hs="sockfan_handshakes_total{port=\"$PORT\"}"
wait_for 10 prom_has "$acc"
before=$(promql "$acc")
hs_before=$(promql "$hs")
opens=$(netns_mib "$NS" TcpPassiveOpens)
in_ns "$NS" "$CONNECT" -d 127.0.0.1 -p $PORT -n $N -s 127.0.0.2 -t 0 >/dev/null 2>&1
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens))
# a scrape or two after the last accept
wait_for 20 prom_is "$acc" "$((${before:-0} + opens))"
after=$(promql "$acc")
diag "Prometheus: $acc $before -> $after; nstat TcpPassiveOpens +$opens;" \
	"increase(${acc}[1m]) = $(promql "increase(${acc}[1m])")"
check "Prometheus: $acc rose by the passive opens nstat counted ($N connections)" \
	"$((${after:-0} - ${before:-0})) $opens" "$opens $N"
wait_for 10 prom_is "$hs" "$((${hs_before:-0} + opens))"
check "Prometheus: $hs (counted in the kernel) rose by the passive opens" \
	"$(($(promql "$hs") - ${hs_before:-0}))" "$opens"
# the kernel's histograms: a wait for every accept (its handshake time
# is in the socket), a lifetime for every close of an accepted one but
# those whose slot a later connection took over (counted as lost: a
# slot per socket address hash, 2^18 of them, so rarely)
wait_for 10 prom_is "sockfan_closed_total{port=\"$PORT\"}" "$after"
lives=$(promql "sockfan_connection_lifetime_seconds_count{port=\"$PORT\"}")
lost=$(promql "sockfan_lost_lifetimes_total")
diag "lifetimes counted ${lives:-none}, lost to a taken slot ${lost:-none}"
check "Prometheus: closed_total, and the kernel's histograms count every accept and close (lifetimes with those lost), a quantile comes out" \
	"$(promql "sockfan_closed_total{port=\"$PORT\"}") $(promql "sockfan_accept_wait_seconds_count{port=\"$PORT\"}") $((${lives:-0} + ${lost:-0})) $(promql "histogram_quantile(0.99, sum by (le) (sockfan_accept_wait_seconds_bucket{port=\"$PORT\"})) > 0" | grep -c .)" \
	"$after $after $after 1"
check "Prometheus: the live connections' gauge is back to 0" \
	"$(promql "sockfan_connection_sockets{port=\"$PORT\",state=\"ESTAB\"}")" 0
# every panel of the Grafana dashboard, asked of the real server
dash=${SOCKFAN_SRC:-$TEST_DIR/..}/Documentation/grafana-sockfan.json
if [ -r "$dash" ]; then
	"$PY" -c 'import json, sys
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p["targets"]:
        print(t["expr"])' "$dash" >"$TMP/exprs"
	# rates need two samples in their window: a scrape or two more
	sleep 2
	empty=0
	while read -r expr; do
		if [ -z "$(promql "$expr")" ]; then
			diag "no data: $expr"
			empty=$((empty + 1))
		fi
	done <"$TMP/exprs"
	check "Grafana dashboard: every panel's query returns data ($(wc -l <"$TMP/exprs") queries)" \
		"$empty" 0
else
	tap_skip "Grafana dashboard: every panel's query returns data" \
		"$dash not found (SOCKFAN_SRC: the source tree)"
fi

# done with Prometheus: its scrapes of a serve that is gone would be
# refused SYNs, a port of their own in the serves below
kill -TERM "$prom_pid"
wait "$prom_pid" 2>/dev/null
kill -TERM "$serve_pid"
wait "$serve_pid"
check "SIGTERM: sockfan serve exits 0" $? 0

# started after the traffic: 10 clients held open and churn in flight
clients_start "$NS" 127.0.0.1 $PORT 10 127.0.0.3 "$CLIENT_HOLD" || exit "$KSFT_FAIL"
storm_start "$NS" $PORT 5 127.0.0.4 60
sleep 1
opens=$(netns_mib "$NS" TcpPassiveOpens)
ip netns exec "$NS" "$SOCKFAN" serve --source bpf --netns "$ino" --listen 127.0.0.1:$((SPORT + 2)) \
	>"$TMP/late.out" 2>"$TMP/late.err" &
late=$!
PIDS+=("$late")
wait_for 30 grep -q '^# serving' "$TMP/late.err"
sleep 1
storm_stop
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens))
wait_for 20 none_but_held
get "$NS" "http://127.0.0.1:$((SPORT + 2))/metrics" >"$TMP/late.metrics" 2>&1
accepted=$(sed -n "s/^sockfan_accepted_total{netns=\"$ino\",port=\"$PORT\"} //p" "$TMP/late.metrics")
diag "started during churn: accepted_total $accepted; TcpPassiveOpens +$opens from just before;" \
	"$(sed -n 's/^# attached: //p' "$TMP/late.err")"
check "started during churn: ESTAB as ss (the held ones); churn seen, no more than nstat counted" \
	"$(sed -n "s/^sockfan_connection_sockets{netns=\"$ino\",port=\"$PORT\",state=\"ESTAB\"} //p" "$TMP/late.metrics") $([ "${accepted:-0}" -gt 0 ] && [ "${accepted:-0}" -le "$opens" ] && echo seen)" \
	"$(ss_established "$NS" $PORT) seen"
# the held ones, older than this serve, close now: their closes count on
# their port, read from the socket (the programs never saw them begin)
late_closed() {
	get "$NS" "http://127.0.0.1:$((SPORT + 2))/metrics" |
		sed -n "s/^sockfan_closed_total{netns=\"$ino\",port=\"$PORT\"} //p"
}
closed0=$(late_closed)
kill "$CLIENTS_PID"
wait_for_output 20 0 ss_established "$NS" $PORT
wait_for_output 10 "$((${closed0:-0} + 10))" late_closed
check "started after: the 10 connections older than serve count in closed_total when they close" \
	"$(($(late_closed) - ${closed0:-0}))" 10
kill -TERM "$late"
wait "$late"

# --snapshot-age: a scrape answers with the sockets of the last walk
# (between scrapes, at half the age) and the kernel's counters as they
# are: 5 new clients are counted at once, and seen as sockets after the
# next walk
ip netns exec "$NS" "$SOCKFAN" serve --source bpf --netns "$ino" --listen 127.0.0.1:$((SPORT + 3)) \
	--snapshot-age 4 >"$TMP/aged.out" 2>"$TMP/aged.err" &
aged=$!
PIDS+=("$aged")
wait_for 30 grep -q '^# serving' "$TMP/aged.err"
hs="sockfan_handshakes_total{netns=\"$ino\",port=\"$PORT\"}"
est="sockfan_connection_sockets{netns=\"$ino\",port=\"$PORT\",state=\"ESTAB\"}"
metric() {
	get "$NS" "http://127.0.0.1:$((SPORT + 3))/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
hs0=$(metric "$hs")
est0=$(metric "$est")
clients_start "$NS" 127.0.0.1 $PORT 5 127.0.0.5 "$CLIENT_HOLD" || exit "$KSFT_FAIL"
hs1=$(metric "$hs")
est1=$(metric "$est")
sleep 3
est2=$(metric "$est")
diag "--snapshot-age 4: handshakes ${hs0:-?} -> ${hs1:-?}; ESTAB ${est0:-?} -> ${est1:-?} at once -> ${est2:-?} after a walk"
check "--snapshot-age: counters at the scrape (5 handshakes at once), sockets after the next walk (+5 ESTAB, as ss)" \
	"$((${hs1:-0} - ${hs0:-0})) ${est2:-?}" "5 $(ss_established "$NS" $PORT)"
kill -TERM "$aged"
wait "$aged"

# the systemd unit's capability bounding set is all serve needs: attach,
# seed (sock_diag, /proc/PID/fd) and answer under it, as root
unit=${SOCKFAN_SRC:-$TEST_DIR/..}/Documentation/deploy/sockfan.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" 2>/dev/null |
	tr ' ' '\n' | sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd,)
if [ -n "$caps" ] && command -v setpriv >/dev/null; then
	ip netns exec "$NS" setpriv --bounding-set "-all,$caps" "$SOCKFAN" serve --source bpf \
		--netns "$ino" --listen 127.0.0.1:$((SPORT + 1)) --max-series 1 \
		>"$TMP/capped.out" 2>"$TMP/capped.err" &
	capped=$!
	PIDS+=("$capped")
	wait_for 30 grep -q '^# serving' "$TMP/capped.err"
	get "$NS" "http://127.0.0.1:$((SPORT + 1))/metrics" >"$TMP/capped.metrics" 2>&1
	check "with only the unit's capabilities ($caps): serve answers" \
		"$(grep -c '^sockfan_build_info' "$TMP/capped.metrics")" 1
	# the listening ports here: nginx's, Prometheus', this serve's
	check "--max-series 1: one port's series, the others summed as other, counted folded" \
		"$(grep -c '^sockfan_listening_sockets{netns="[0-9]' "$TMP/capped.metrics") $(grep -c '^sockfan_listening_sockets{netns="other",port="other"} [1-9]' "$TMP/capped.metrics") $(sed -n 's/^sockfan_folded_ports //p' "$TMP/capped.metrics")" \
		"1 1 $(($(in_ns "$NS" ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u | wc -l) - 1))"
	promtool check metrics <"$TMP/capped.metrics" >/dev/null 2>&1
	check "--max-series 1: promtool check metrics passes" $? 0
	sed 's/^/# capped: /' "$TMP/capped.err"
	kill -TERM "$capped"
	wait "$capped"
else
	for t in "with only the unit's capabilities: serve answers" "--max-series 1: series" \
		"--max-series 1: promtool"; do
		tap_skip "$t" "no setpriv, or no $unit (SOCKFAN_SRC: the source tree)"
	done
fi
tap_exit
