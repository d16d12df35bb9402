#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every hook plan of the BPF path that this kernel loads, not only the
# one sockfan would pick: SOCKFAN_PLAN=N makes it try plan N alone (1:
# fexit accept, 2: tp_btf state with syscall-exit accept and kprobes,
# 3: the same without kprobes, 4: the classic state tracepoint).  In one
# window per plan, N clients connect to nginx in a fresh namespace and
# leave again: the plan must see each connection established, accepted
# and closed, as nstat counts them, and lose no record; and sockfan
# serve beside it on the same plan, whose programs write no record per
# connection and count in the kernel, the same (handshakes, accepts,
# closes and lifetimes, as nstat counts the passive opens).  A plan the
# kernel refuses (not permitted or not supported: fentry under lockdown)
# skips, saying why; any other failure fails.
source "$(dirname "$0")/lib.sh"

PORT=8080
N=6
PLANS=4
# sockfan_test.serve=0 on a VM's command line: no serve beside ports
SERVE=$(vm_param serve)
SERVE=${SERVE:-1}

require_scenario_tools
require_nginx
source_setup bpf

tap_plan $((PLANS * 3))

netns_new NS sfplan
nginx_start "$NS" $PORT || exit $KSFT_FAIL
ino=$(netns_inode "$NS")

for plan in $(seq $PLANS); do
	out="$TMP/plan$plan"
	names=("plan $plan: $N connections established, accepted and closed (nstat: passive opens)"
	       "plan $plan: no record lost"
	       "plan $plan, counts in the kernel (serve): handshakes, accepts, closes, lifetimes as nstat")
	opens=$(netns_mib "$NS" TcpPassiveOpens)
	# ended by interrupt below; long enough for serve to load beside it
	SOCKFAN_PLAN=$plan in_ns "$NS" "$SOCKFAN" ports --json --source bpf --netns "$ino" \
		--port $PORT --duration 600 >"$out" 2>"$out.err" &
	viewer=$!
	if ! wait_for 30 grep -q '^# attached\|does not load here' "$out.err"; then
		diag "plan $plan: sockfan neither attached nor said why in 30 s: $(cat "$out.err")"
		exit $KSFT_FAIL
	fi
	if grep -q 'does not load here' "$out.err"; then
		wait $viewer
		why=$(sed -n 's/.*does not load here: \([^(]*[^ (]\) (.*/\1/p' "$out.err")
		# refused by policy or missing support, not a program the verifier rejects
		case $why in
		"Operation not permitted" | "Operation not supported" | "Unknown error 524" | \
			"No such file or directory")
			;;
		*)
			diag "plan $plan failed to load: $(cat "$out.err")"
			exit $KSFT_FAIL
			;;
		esac
		for name in "${names[@]}"; do
			tap_skip "$name" "plan $plan does not load on this kernel: $why"
		done
		continue
	fi
	sed 's/^/# /' "$out.err"
	# serve beside it, on the same plan and the same clients: its own
	# programs, without records.  ip netns exec execs: $! is serve itself
	server=
	if [ "$SERVE" = 1 ]; then
		SOCKFAN_PLAN=$plan ip netns exec "$NS" "$SOCKFAN" serve --source bpf \
			--netns "$ino" --listen 127.0.0.1:9477 >"$out.serve" 2>"$out.serve.err" &
		server=$!
		if ! wait_for 60 grep -q '^# serving' "$out.serve.err"; then
			diag "plan $plan: sockfan serve did not start: $(cat "$out.serve.err")"
			exit $KSFT_FAIL
		fi
	fi
	clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2 60 || exit $KSFT_FAIL
	wait_for 10 accept_queue_empty "$NS" $PORT
	kill "$CLIENTS_PID"
	wait "$CLIENTS_PID" 2>/dev/null
	wait_for 10 none_established "$NS" $PORT
	# the server's close follows the client's: a moment for its record
	sleep 1
	# before the scrape: its own connection is a passive open too
	opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens))
	if [ -n "$server" ]; then
		in_ns "$NS" "$PY" -c 'import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9477/metrics", timeout=30).read().decode(), end="")' \
			>"$out.metrics" 2>&1
		kill -TERM $server
		wait $server
	fi
	interrupt $viewer
	wait $viewer
	sed 's/^/# /' "$out"
	read -r listen estab accepted closed peers <<<"$(sockfan_row "$out" $PORT)"
	check "${names[0]}" "$estab $accepted $closed" "0 $opens $opens"
	check "${names[1]}" "$(sockfan_lost "$out")" 0
	if [ -z "$server" ]; then
		tap_skip "${names[2]}" "sockfan_test.serve=0 on the kernel command line (the debug kernel: the verifier checked serve's programs at ports' load, either mode; loading them twice costs minutes there)"
		continue
	fi
	got=$(for m in handshakes_total accepted_total closed_total \
			connection_lifetime_seconds_count; do
		sed -n "s/^sockfan_$m{netns=\"$ino\",port=\"$PORT\"} //p" "$out.metrics"
	done | paste -sd ' ')
	check "${names[2]}" "$got" "$opens $opens $opens $opens"
done
tap_exit
