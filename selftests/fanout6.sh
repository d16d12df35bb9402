#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fanout6.sh bpf|proc: the fan-out of a dual-stack listener.
# nginx listens on [::]:PORT with ipv6only=off, so one IPv6 socket takes
# both families: 10 clients connect from ::1 and 10 from 127.0.0.2, the
# latter arriving as v4-mapped IPv6 connections (::ffff:127.0.0.2).
# sockfan must show 1 listener, 20 established, 20 accepted, 2 peers and
# the very four-tuples ss reports, while following and from a snapshot.
source "$(dirname "$0")/lib.sh"

PORT=8080
N6=10
N4=10
N=$((N6 + N4))

require_scenario_tools
require_nginx
source_setup "${1:?usage: fanout6.sh bpf|proc}"

netns_new NS sfv6
require_ipv6 "$NS"

tap_plan 10

nginx_start "$NS" $PORT listen="[::]:$PORT ipv6only=off" || exit $KSFT_FAIL

view_begin "$NS" $PORT "$TMP/during" $VIEW_MAX || exit $KSFT_FAIL
clients_start "$NS" ::1 $PORT $N6 ::1 $CLIENT_HOLD || exit $KSFT_FAIL
# an IPv4 client to the IPv4 address: only the dual-stack listener has it
clients_start "$NS" 127.0.0.1 $PORT $N4 127.0.0.2 $CLIENT_HOLD || exit $KSFT_FAIL
# nginx accepts at once: wait until the accept queue is empty
wait_for 10 accept_queue_empty "$NS" $PORT
view_end "$NS" $PORT "$TMP/during"
check "sockfan ports --source $SOURCE exits 0" $? 0

# ss -e says v6only:0 for a dual-stack listener; the IPv4 clients show
# as v4-mapped peers of IPv6 sockets
v6only0=$(in_ns "$NS" ss -Hltne "sport = :$PORT" 2>/dev/null | grep -c 'v6only:0')
mapped=$(in_ns "$NS" ss -Htn state established "sport = :$PORT" |
	grep -c '\[::ffff:127\.0\.0\.2\]:')
check "ss agrees with the scenario (dual-stack listeners, established, v4-mapped)" \
	"$v6only0 $(ss_established "$NS" $PORT) $mapped" "1 $N $N4"
check_window "$TMP/during" "$NS" $PORT $N "v4-mapped as IPv4"

# a fresh sockfan sees the same through its snapshot of existing sockets;
# a window counts none of their accepts (the module's totals are since
# insmod, and it saw them)
sockfan_view "$NS" $PORT "$TMP/seeded"
sed 's/^/# /' "$TMP/seeded" "$TMP/seeded.err"
read -r listen estab accepted _ peers <<<"$(sockfan_row "$TMP/seeded" $PORT)"
check "restarted sockfan shows older connections (seed), accepts of its window only" \
	"$listen $estab $accepted $peers" \
	"$(ss_listeners "$NS" $PORT) $(ss_established "$NS" $PORT) $([ "$SOURCE" = proc ] && echo $N || echo 0) $(ss_peers "$NS" $PORT)"
check "restarted sockfan: four-tuples match ss" "$(sockfan_tuples "$TMP/seeded" | md5sum)" \
	"$(ss_tuples "$NS" $PORT | md5sum)"

check_no_record_lost "$TMP/during"
tap_exit
