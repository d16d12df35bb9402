#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan trace --json against python's http.server in a fresh
# namespace: the tracer starts first, then the server listens, 3 clients
# connect and leave, and 2 connects hit a closed port.  Every line must
# parse as JSON, and the stream must hold 1 listen, 3 established,
# 3 accept (the four-tuples ss showed, the server's pid), 3 close and
# 2 refused SYNs (where the kernel gives a hook for misses).  Then, as
# people start it: a trace started after 2 connections were made must
# show their close when they go, and no time before its start.
source "$(dirname "$0")/lib.sh"

PORT=8000
CLOSED=8001
N=3

require_scenario_tools
require_btf

tap_plan 9

netns_new NS sftrace
ino=$(netns_inode "$NS")
in_ns "$NS" "$SOCKFAN" trace --json --netns "$ino" --duration 60 >"$TMP/trace" 2>"$TMP/trace.err" &
tracer=$!
wait_for 30 grep -q '^# attached' "$TMP/trace.err" ||
	{ diag "sockfan trace did not attach: $(cat "$TMP/trace.err")"; exit $KSFT_FAIL; }

httpd_start "$NS" $PORT || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2 60 || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
tuples=$(ss_tuples "$NS" $PORT)
server=$(in_ns "$NS" ss -Hltnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -n 1)
kill "$CLIENTS_PID"
wait "$CLIENTS_PID" 2>/dev/null
wait_for 10 none_established "$NS" $PORT
for i in 1 2; do
	in_ns "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLOSED" 2>/dev/null
done
sleep 1
interrupt "$tracer"
wait "$tracer"
check "sockfan trace --json ends 0 on SIGINT" $? 0
sed 's/^/# /' "$TMP/trace.err"

# "kind count" lines, then the accept events' tuples and pids
"$PY" - "$TMP/trace" $PORT $CLOSED >"$TMP/parsed" 2>&1 <<-'PY'
	import collections, json, sys
	kinds = collections.Counter()
	accepts = []
	for line in open(sys.argv[1]):
	    e = json.loads(line)
	    port = str(e["local_port"])
	    if port not in sys.argv[2:]:
	        continue
	    kinds[e["event"]] += 1
	    if e["event"] == "accept":
	        accepts.append("%s:%d %s:%d pid=%d" % (e["local"], e["local_port"],
	                       e["remote"], e["remote_port"], e["pid"]))
	for k in ("listen", "established", "accept", "close", "refused"):
	    print(k, kinds[k])
	for a in sorted(accepts):
	    print(a)
PY
check "every line parses as JSON" "$?" 0
count() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/parsed"; }
check "1 listen, $N established, $N accept, $N close" \
	"$(count listen) $(count established) $(count accept) $(count close)" "1 $N $N $N"
check "accept events: the four-tuples ss showed" \
	"$(awk '/pid=/ { print $1, $2 }' "$TMP/parsed" | sort | md5sum)" "$(sort <<<"$tuples" | md5sum)"
check "accept events: the server's pid" \
	"$(awk '/pid=/ { print $3 }' "$TMP/parsed" | sort -u)" "$server"
if grep -q 'miss=none' "$TMP/trace.err"; then
	tap_skip "2 refused SYNs on the closed port" "no hook for misses here"
else
	check "2 refused SYNs on the closed port" "$(count refused)" 2
fi
# started after: connections older than the tracer
clients_start "$NS" 127.0.0.1 $PORT 2 127.0.0.3 60 || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
in_ns "$NS" "$SOCKFAN" trace --json --netns "$ino" --port $PORT --duration 60 \
	>"$TMP/late" 2>"$TMP/late.err" &
tracer=$!
wait_for 30 grep -q '^# attached' "$TMP/late.err" ||
	{ diag "sockfan trace did not attach: $(cat "$TMP/late.err")"; exit $KSFT_FAIL; }
kill "$CLIENTS_PID"
wait "$CLIENTS_PID" 2>/dev/null
wait_for 10 none_established "$NS" $PORT
sleep 1
interrupt "$tracer"
wait "$tracer"
sed 's/^/# late: /' "$TMP/late"
check "started after 2 connections: their 2 closes" \
	"$(grep -c '"event":"close"' "$TMP/late")" 2
check "no event before the trace started (times 0-60 s)" \
	"$("$PY" -c 'import json, sys
print(sum(1 for l in open(sys.argv[1]) if not 0 <= json.loads(l)["ts_ns"] <= 60e9))' "$TMP/late")" 0

"$SOCKFAN" trace --port 0 >/dev/null 2>"$TMP/bad.err"
check "trace --port 0: usage error, exit 2" "$?" 2
tap_exit
