#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan serve's /records: a connection's records only while someone
# asks, switched at run time.  nginx runs in two namespaces on the same
# port, with 4 clients held open before serve starts.  serve (every
# namespace) first writes no record for new connections (2 of them held
# on); then two streams are open at once, one for port 8080 of the first
# namespace, one for all of the second: each gets exactly the
# connections of its own namespace and port made meanwhile, and the
# close of 2 held ones older than serve and of the 2 held ones made while
# records were off (followed by their cookies from a sock_diag dump when
# records went on).  The first stream goes on alone after the second
# ends; once it ends too, records are off again, and 2 connections held
# since the stream close.  A storm of short connections runs through
# both switches (churn in flight when records go on and off).  Through the switches, the counters the
# programs keep in the kernel stay exact: handshakes = accepted = nstat's
# passive opens, closes = opens + held at start - live now (ss), and a
# lifetime for each close but the 2 older than serve.
source "$(dirname "$0")/lib.sh"

PORT=8080
SPORT=9479
SECS1=30
SECS2=15
STORM=127.0.0.11	# the storm's clients

require_scenario_tools
require_btf
require_nginx

tap_plan 14

netns_new NS sfrec
netns_new NS2 sfrec2
nginx_start "$NS" $PORT || exit "$KSFT_FAIL"
nginx_start "$NS2" $PORT dir="$TMP/nginx2" || exit "$KSFT_FAIL"
ino=$(netns_inode "$NS")
ino2=$(netns_inode "$NS2")

# held before serve: 2 to close while the streams are open, 2 that stay
clients_start "$NS" 127.0.0.1 $PORT 2 127.0.0.3 "$CLIENT_HOLD" || exit "$KSFT_FAIL"
older_pid=$CLIENTS_PID
clients_start "$NS" 127.0.0.1 $PORT 2 127.0.0.5 "$CLIENT_HOLD" || exit "$KSFT_FAIL"
older=$(ss_tuples "$NS" $PORT | grep -F ' 127.0.0.3:' | sort)
held0=$(ss_established "$NS" $PORT)
opens0=$(netns_mib "$NS" TcpPassiveOpens)

# in the caller's namespace, every namespace watched
serve_start 127.0.0.1:$SPORT --source bpf || exit "$KSFT_FAIL"
URL=http://127.0.0.1:$SPORT

# metric NAME: its value (one series, no label)
metric() {
	http_get "$URL/metrics" | sed -n "s/^$1 //p"
}

# port_metric NAME: the series of $NS's port
port_metric() {
	http_get "$URL/metrics" | sed -n "s/^$1{netns=\"$ino\",port=\"$PORT\"} //p"
}

# connect NS SRC N: N connections, each closed at once
connect() {
	in_ns "$1" "$CONNECT" -d 127.0.0.1 -p $PORT -n "$3" -s "$2" -t 0 >/dev/null 2>&1
}

# stream QUERY OUT: GET /records?QUERY in the background, the body to OUT,
# its headers to OUT.hdr
stream() {
	"$PY" - "$URL/records?$1" "$2" <<-'PY' &
	import sys, urllib.request
	r = urllib.request.urlopen(sys.argv[1], timeout=60)
	with open(sys.argv[2] + ".hdr", "w") as h:
	    h.write("".join(f"{k}: {v}\n" for k, v in r.headers.items()))
	with open(sys.argv[2], "w") as out:
	    for line in r:
	        out.write(line.decode())
	        out.flush()
	PY
	PIDS+=($!)
}

# records FILE EVENT: "local:lport remote:rport" of its EVENT records,
# sorted, the storm's left out
records() {
	"$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == sys.argv[2]:
        print("%s:%d %s:%d" % (r["local"], r["local_port"], r["remote"], r["remote_port"]))' \
		"$1" "$2" | norm_endpoints | grep -vF " $STORM:" | sort
}

# where FILE: the distinct "netns port" of its records
where() {
	"$PY" -c 'import json, sys
s = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "event" in r:
        s.add("%d %d" % (r["netns"], r["local_port"]))
print(" ".join(sorted(s)))' "$1"
}

# remotes FILE EVENT: "N ADDR" per remote address of its EVENT records
remotes() {
	records "$1" "$2" | awk '{ sub(/:[0-9]+$/, "", $2); print $2 }' | sort | uniq -c |
		awk '{ print $1, $2 }' | tr '\n' ' '
}

# --- records off: new connections make none ---------------------------
r0=$(metric sockfan_records_total)
connect "$NS" 127.0.0.2 5
clients_start "$NS" 127.0.0.9 $PORT 2 127.0.0.9 "$CLIENT_HOLD" || exit "$KSFT_FAIL"
off_pid=$CLIENTS_PID
off=$(ss_tuples "$NS" $PORT | grep -F ' 127.0.0.9:' | sort)
sleep 1
check "no stream: no record for 7 new connections (sockfan_records_total, streams 0)" \
	"$(($(metric sockfan_records_total) - r0)) $(metric sockfan_records_streams)" "0 0"

# --- two streams, the storm running through both switches -------------
# (a round of 2 every 0.2 s: a stream with a record per connection of a
# full-speed storm would be 100 000 lines to read back)
storm_start "$NS" $PORT 2 $STORM 120 0.2
stream "port=$PORT&netns=$ino&seconds=$SECS1" "$TMP/s1"
s1_pid=$!
stream "netns=$ino2&seconds=$SECS2" "$TMP/s2"
s2_pid=$!
wait_for_output 10 2 metric sockfan_records_streams
connect "$NS" 127.0.0.4 3
connect "$NS2" 127.0.0.6 2
kill "$older_pid" "$off_pid"
wait "$older_pid" "$off_pid" 2>/dev/null
wait "$s2_pid"
wait_for_output 10 1 metric sockfan_records_streams
check "the second stream ended: one open" "$(metric sockfan_records_streams)" 1
connect "$NS" 127.0.0.7 2
clients_start "$NS" 127.0.0.1 $PORT 2 127.0.0.10 "$CLIENT_HOLD" || exit "$KSFT_FAIL"
on_pid=$CLIENTS_PID
wait "$s1_pid"
# records off with the storm still running
sleep 1
storm_stop
grep -vF "\"remote\":\"$STORM\"" "$TMP/s1.hdr" "$TMP/s1" | sed 's/^[^:]*:/# s1: /'
diag "s1: and $(grep -cF "\"remote\":\"$STORM\"" "$TMP/s1") records of the storm"
sed 's/^/# s2: /' "$TMP/s2"

check "stream 1 ($SECS1 s): only its namespace and port; the storm in it" \
	"$(where "$TMP/s1") $(grep -cF "\"remote\":\"$STORM\"" "$TMP/s1" | sed 's/^[1-9][0-9]*$/some/')" \
	"$ino $PORT some"
check "stream 1: established = the 7 connections made meanwhile, from both phases" \
	"$(remotes "$TMP/s1" established)" "2 127.0.0.10 3 127.0.0.4 2 127.0.0.7 "
check "stream 1: closed = 5 of those, and 4 held since before: 2 older than serve, 2 made while records were off, as ss showed them" \
	"$(records "$TMP/s1" close | md5sum)" \
	"$( (records "$TMP/s1" established | grep -vF ' 127.0.0.10:'; printf '%s\n' "$older" "$off" | awk '{ print $1, $2 }') | sort | md5sum)"
if grep -qi '^X-Sockfan-Hooks: .*accept=none' "$TMP/s1.hdr"; then
	tap_skip "stream 1: accepted = the 7 established" \
		"no accept hook here: $(grep -oi 'accept=none([^)]*)' "$TMP/s1.hdr")"
else
	check "stream 1: accepted = the 7 established" \
		"$(records "$TMP/s1" accept | md5sum)" "$(records "$TMP/s1" established | md5sum)"
fi
check "stream 1 ends with what it saw: records counted, none dropped or lost" \
	"$(tail -n 1 "$TMP/s1")" \
	"{\"end\":{\"seconds\":$SECS1,\"records\":$(grep -c '"event"' "$TMP/s1"),\"dropped\":0,\"lost\":0}}"
check "stream 2 ($SECS2 s, all ports of the other namespace): its 2 connections only" \
	"$(where "$TMP/s2") $(remotes "$TMP/s2" established)" "$ino2 $PORT 2 127.0.0.6 "

# --- records off again -------------------------------------------------
# the storm's last records read
sleep 1
r0=$(metric sockfan_records_total)
connect "$NS" 127.0.0.8 5
kill "$on_pid"
wait "$on_pid" 2>/dev/null
sleep 1
check "no stream left: no record for 5 new connections, nor the close of 2 made while on" \
	"$(($(metric sockfan_records_total) - r0)) $(metric sockfan_records_streams)" "0 0"

# --- the kernel's counters through both switches -----------------------
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens0))
wait_for_output 10 "$opens" port_metric sockfan_handshakes_total
storm=$((opens - 19))
diag "passive opens since serve started: $opens, $storm of them the storm's"
check "handshakes_total and accepted_total = nstat's passive opens since serve started (19 and the storm's)" \
	"$(port_metric sockfan_handshakes_total) $(port_metric sockfan_accepted_total) $([ $storm -gt 0 ] && echo storm)" \
	"$opens $opens storm"
live=$(ss_established "$NS" $PORT)
closed=$((opens + held0 - live))
wait_for_output 10 "$closed" port_metric sockfan_closed_total
lives=$(port_metric sockfan_connection_lifetime_seconds_count)
lost=$(metric sockfan_lost_lifetimes_total)
diag "closed_total $(port_metric sockfan_closed_total); lifetimes $lives, lost to a taken slot $lost"
check "closed_total = opens + held at start ($held0) - live now ($live, ss); a lifetime for each but the 2 older than serve" \
	"$(port_metric sockfan_closed_total) $((${lives:-0} + ${lost:-0}))" "$closed $((closed - 2))"

check "/records with a bad argument: 400, nothing opened" \
	"$("$PY" -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=5)
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())' "$URL/records?port=0") $(metric sockfan_records_streams)" \
	"400 /records takes port=1-65535, netns=INODE and seconds=1-3600 0"
# a client that hangs up: its stream ends then, not when its time is up
stream "seconds=600" "$TMP/s3"
s3_pid=$!
wait_for_output 10 1 metric sockfan_records_streams
kill "$s3_pid"
wait "$s3_pid" 2>/dev/null
wait_for_output 5 0 metric sockfan_records_streams
check "a client that hangs up: its stream (600 s) ends within 5 s, records off" \
	"$(metric sockfan_records_streams)" 0
check "HEAD /records: 405, nothing opened" \
	"$("$PY" -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=5)
except urllib.error.HTTPError as e:
    print(e.code)' "$URL/records") $(metric sockfan_records_streams)" "405 0"
tap_exit
