#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every hook plan of the BPF path that this kernel loads, not only the
# one sockfan would pick: SOCKFAN_PLAN=N makes it try plan N alone (1:
# fexit accept, 2: tp_btf state with syscall-exit accept and kprobes,
# 3: the same without kprobes, 4: the classic state tracepoint).  In one
# window per plan, N clients connect to nginx in a fresh namespace and
# leave again: the plan must see each connection established, accepted
# and closed, as nstat counts them, and lose no record.  A plan the
# kernel refuses (not permitted or not supported: fentry under lockdown)
# skips, saying why; any other failure fails.
source "$(dirname "$0")/lib.sh"

PORT=8080
N=6
PLANS=4

require_scenario_tools
require_nginx
source_setup bpf

tap_plan $((PLANS * 2))

netns_new NS sfplan
nginx_start "$NS" $PORT || exit $KSFT_FAIL
ino=$(netns_inode "$NS")

for plan in $(seq $PLANS); do
	out="$TMP/plan$plan"
	names=("plan $plan: $N connections established, accepted and closed (nstat: passive opens)"
	       "plan $plan: no record lost")
	opens=$(netns_mib "$NS" TcpPassiveOpens)
	SOCKFAN_PLAN=$plan in_ns "$NS" "$SOCKFAN" ports --json --source bpf --netns "$ino" \
		--port $PORT --duration 30 >"$out" 2>"$out.err" &
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
	clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2 60 || exit $KSFT_FAIL
	wait_for 10 accept_queue_empty "$NS" $PORT
	kill "$CLIENTS_PID"
	wait "$CLIENTS_PID" 2>/dev/null
	wait_for 10 none_established "$NS" $PORT
	# the server's close follows the client's: a moment for its record
	sleep 1
	interrupt $viewer
	wait $viewer
	opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens))
	sed 's/^/# /' "$out"
	read -r listen estab accepted closed peers <<<"$(sockfan_row "$out" $PORT)"
	check "${names[0]}" "$estab $accepted $closed" "0 $opens $opens"
	check "${names[1]}" "$(sockfan_lost "$out")" 0
done
tap_exit
