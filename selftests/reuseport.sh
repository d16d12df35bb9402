#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# reuseport.sh bpf|proc: one port, several listening sockets.
# nginx with 2 workers and "listen PORT reuseport" opens one socket per
# worker on the same port, and the kernel spreads new connections over
# them by a hash of the four-tuple.  20 clients connect and stay.
# sockfan must count both listeners and every connection, and split the
# accepted ones per listener as the kernel did: a listener's "accepted"
# must equal the connections that its worker holds according to ss, and
# its lookup hits (the SYNs the kernel steered to it) the same number.
# Then a sockfan started after the connections (one look): it saw no
# accept, so it must not file them under a listener it cannot know (the
# BPF path; the module saw them accepted), and must give the spread per
# process holding them, as ss -p does.
# The kernel's own attribution: each listener's handshakes (BPF: from
# the tag its children inherit when the kernel clones them from it; the
# module: from the listener tcp_child_process() gets with the child)
# must equal its worker's connections, both for a sockfan started before
# the clients and for one started next to the running server (its
# listeners older than sockfan), counting the M clients that come after
# it (the module counts since it was loaded: all of them).
source "$(dirname "$0")/lib.sh"

PORT=8080
N=20
M=20
WORKERS=2
SRCS=127.0.0.2,127.0.0.3,127.0.0.4

require_scenario_tools
require_nginx
source_setup "${1:?usage: reuseport.sh bpf|proc}"

tap_plan $((14 + 2 * WORKERS + 2))

netns_new NS sfrp
nginx_start "$NS" $PORT workers=$WORKERS listen="$PORT reuseport" || exit $KSFT_FAIL

view_begin "$NS" $PORT "$TMP/during" $VIEW_MAX || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT $N $SRCS $CLIENT_HOLD || exit $KSFT_FAIL
# both workers accept at once: wait until every accept queue is empty
wait_for 10 accept_queue_empty "$NS" $PORT
view_end "$NS" $PORT "$TMP/during"
check "sockfan ports --source $SOURCE exits 0" $? 0

check "ss agrees with the scenario (listeners, established)" \
	"$(ss_listeners "$NS" $PORT) $(ss_established "$NS" $PORT)" "$WORKERS $N"
read -r listen estab accepted _ _ <<<"$(sockfan_row "$TMP/during" $PORT)"
check "listening sockets on port $PORT match ss" "$listen" "$(ss_listeners "$NS" $PORT)"
check "established sockets on port $PORT match ss" "$estab" "$(ss_established "$NS" $PORT)"
check "accepted = established (accept queues empty per ss)" "$accepted" "$N"

# The spread.  ss cannot say which listener a connection came from, but
# each worker polls only its own listener (its epoll set, in fdinfo) and
# then holds the connections it accepted (ss -p): so the kernel's count
# for a listener is the count of connections held by the worker polling
# it.  The listeners are matched to sockfan's by their socket cookie.
mapfile -t ids < <(ss_listener_ids "$NS" $PORT)
mapfile -t pids < <(ip netns pids "$NS")
for i in $(seq 0 $((WORKERS - 1))); do
	read -r cookie ino <<<"${ids[$i]:-}"
	worker=$(epoll_watchers "${ino:-0}" "${pids[@]}")
	if [ -n "$cookie" ] && [ "$(wc -w <<<"$worker")" = 1 ]; then
		want=$(ss_pid_established "$NS" $PORT "$worker")
	else
		want="listener $((i + 1)) per ss (cookie '$cookie') polled by exactly one process, not '$worker'"
	fi
	diag "listener $((i + 1)): cookie $cookie, socket inode $ino, polled by $worker"
	check "listener $((i + 1)) of $WORKERS: accepted = its worker's connections per ss" \
		"$(sockfan_listener_field "$TMP/during" "${cookie:-none}" accepted)" "$want"
done
# handshakes per member: the kernel's attribution, not the accepts
members_check() {
	local when=$1 file=$2 i cookie ino worker want got

	shift 2
	for i in $(seq 0 $((WORKERS - 1))); do
		read -r cookie ino <<<"${ids[$i]:-}"
		worker=$(epoll_watchers "${ino:-0}" "${pids[@]}")
		want=$(ss_pid_established "$NS" $PORT "$worker")
		[ "$SOURCE" = bpf ] && want=$((want - ${1:-0}))
		[ $# -gt 0 ] && shift
		got=$(sockfan_listener_field "$file" "${cookie:-none}" handshakes)
		if [ "$got" = - ]; then
			tap_skip "$when: listener $((i + 1)): handshakes = its worker's connections" \
				"no per-listener counts: $(grep -o -m 1 'state=[^ ]*' "$file.err")"
		else
			check "$when: listener $((i + 1)): handshakes = its worker's new connections per ss" \
				"$got" "$want"
		fi
	done
}
members_check "started before" "$TMP/during"
check "accepted summed over the listeners = $N" \
	"$(sockfan_listener_field "$TMP/during" all accepted | sum_lines)" "$N"
# the SYN of each connection went to the member that later accepted it:
# the kernel's reuseport choice, seen at the lookup
if grep -q 'lookup=none\|lookup=sk_lookup' "$TMP/during"; then
	tap_skip "listener lookup hits per member = accepted per member" \
		"no hook sees which listener a lookup found: $(grep -o -m 1 'lookup=[a-z_]*([^)]*)' "$TMP/during")"
else
	check "listener lookup hits per member = accepted per member" \
		"$(sockfan_listener_field "$TMP/during" all hits | tr '\n' ' ')" \
		"$(sockfan_listener_field "$TMP/during" all accepted | tr '\n' ' ')"
fi
check "four-tuples and accepting worker (pid/name) match ss -p" \
	"$(sockfan_tuple_tasks "$TMP/during" | md5sum)" "$(ss_tuple_tasks "$NS" $PORT | md5sum)"
sockfan_tuple_tasks "$TMP/during" | head -n 3 | sed 's/^/# sockfan: /'
ss_tuple_tasks "$NS" $PORT | head -n 3 | sed 's/^/# ss:      /'

check_no_record_lost "$TMP/during"

# --- started after the connections --------------------------------------
sockfan_view "$NS" $PORT "$TMP/after.json"
"$PY" - "$TMP/after.json" >"$TMP/after.txt" 2>&1 <<'PY'
import collections, json, sys
p = json.load(open(sys.argv[1]))["ports"][0]
conns = p["connection_sockets"]
known = sum(1 for c in conns if c["listener"])
print("listener_known", known)
held = collections.Counter(c["held_by"]["pid"] if c["held_by"] else 0 for c in conns)
print("held", " ".join("%d:%d" % kv for kv in sorted(held.items())))
PY
sed 's/^/# after: /' "$TMP/after.txt"
if [ "$SOURCE" = bpf ]; then
	check "started after: no connection filed under a listener it was not seen to leave" \
		"$(awk '$1 == "listener_known" { print $2 }' "$TMP/after.txt")" 0
else
	check "started after: the module's listeners, which saw the accepts, are kept" \
		"$(awk '$1 == "listener_known" { print $2 }' "$TMP/after.txt")" $N
fi
check "started after: connections per holding process as ss -p" \
	"$(awk '$1 == "held" { $1 = ""; print substr($0, 2) }' "$TMP/after.txt")" \
	"$(ss_tuple_pids "$NS" $PORT | awk '{ n[$3]++ } END { for (p in n) print p ":" n[p] }' |
	   sort -n | tr '\n' ' ' | sed 's/ $//')"
# the text view's spread line: what a reader of `ports --port` sees
in_ns "$NS" "$SOCKFAN" ports --source "$SOURCE" --port $PORT --netns "$(netns_inode "$NS")" \
	>"$TMP/after" 2>&1
check "started after: ports --port says the spread per holding process" \
	"$(sed -n 's/^  held: *//p' "$TMP/after" | grep -oE '[0-9]+ by [0-9]+' | awk '{ print $3 ":" $1 }' | sort -n | tr '\n' ' ' | sed 's/ $//')" \
	"$(ss_tuple_pids "$NS" $PORT | awk '{ n[$3]++ } END { for (p in n) print p ":" n[p] }' |
	   sort -n | tr '\n' ' ' | sed 's/ $//')"

# --- started next to the running server, M more clients after ------------
before=()
for i in $(seq 0 $((WORKERS - 1))); do
	read -r cookie ino <<<"${ids[$i]:-}"
	before+=("$(ss_pid_established "$NS" $PORT "$(epoll_watchers "${ino:-0}" "${pids[@]}")")")
done
view_begin "$NS" $PORT "$TMP/later" $VIEW_MAX || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT $M 127.0.0.5,127.0.0.6 $CLIENT_HOLD || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
view_end "$NS" $PORT "$TMP/later"
check "started after: sockfan ports --source $SOURCE exits 0" $? 0
want=$M
[ "$SOURCE" = proc ] && want=$((N + M))
check "started after: the handshakes over the listeners are the $want connections since sockfan began" \
	"$(sockfan_listener_field "$TMP/later" all handshakes | sum_lines)" $want
members_check "started after" "$TMP/later" "${before[@]}"
tap_exit
