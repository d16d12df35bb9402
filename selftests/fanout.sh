#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fanout.sh bpf|proc: the seed question on a real server.
# nginx listens on one port in a fresh network namespace; 20 clients
# connect from 3 source addresses and stay.  sockfan must show 1 listener,
# 20 established, 20 accepted, 3 peers and the very four-tuples the
# kernel reports through ss; then the clients leave and it must show
# 0 established, 20 closed.
source "$(dirname "$0")/lib.sh"

SOURCE=${1:?usage: fanout.sh bpf|proc}
PORT=8080
N=20
SRCS=127.0.0.2,127.0.0.3,127.0.0.4
LOADED_KO=0

require_root
command -v nginx >/dev/null || skip_all "nginx not installed (make deps)"
[ -x "$CONNECT" ] || skip_all "sockfan_connect not built (make -C selftests)"
[ -x "$SOCKFAN" ] || skip_all "sockfan CLI not built (make)"

case "$SOURCE" in
bpf)
	[ -r /sys/kernel/btf/vmlinux ] ||
		skip_all "no /sys/kernel/btf/vmlinux: kernel without BTF, BPF path unavailable"
	;;
proc)
	if [ ! -d /proc/net/sockfan ]; then
		[ -e /proc/modules ] ||
			skip_all "kernel without loadable modules (CONFIG_MODULES off): module path is tested in the VM"
		[ -e "$SOCKFAN_KO" ] || skip_all "$SOCKFAN_KO not built"
		insmod "$SOCKFAN_KO" || { echo "# insmod $SOCKFAN_KO failed"; exit $KSFT_FAIL; }
		LOADED_KO=1
	fi
	;;
*)
	echo "# unknown source $SOURCE"
	exit $KSFT_FAIL
	;;
esac

unload() {
	[ $LOADED_KO = 1 ] && rmmod sockfan
	cleanup
}
trap unload EXIT

tap_plan 12

netns_new NS sfsrv || { echo "# cannot create a network namespace"; exit $KSFT_FAIL; }
nginx_start "$NS" $PORT || exit $KSFT_FAIL

# sockfan's view over a window: bpf follows events while clients connect
# (seeding covers nothing then); proc reads the module's state after.
view() {
	local out=$1
	shift
	in_ns "$NS" "$SOCKFAN" ports --source "$SOURCE" --port $PORT \
		--netns "$(netns_inode "$NS")" "$@" >"$out" 2>"$out.err"
}

if [ "$SOURCE" = bpf ]; then
	view "$TMP/during" --duration 8 &
	viewer=$!
	if ! wait_for 30 grep -q '^# attached' "$TMP/during.err"; then
		diag "sockfan did not attach:"
		sed 's/^/# /' "$TMP/during.err"
		exit $KSFT_FAIL
	fi
fi
clients_start "$NS" 127.0.0.1 $PORT $N $SRCS 60 || exit $KSFT_FAIL
# nginx accepts at once: wait until the accept queue is empty
wait_for 10 test "$(ss_accept_queue "$NS" $PORT)" = 0
if [ "$SOURCE" = bpf ]; then
	wait $viewer
	check "sockfan ports --source bpf --duration exits 0" $? 0
else
	view "$TMP/during"
	check "sockfan ports --source proc exits 0" $? 0
fi
sed 's/^/# /' "$TMP/during" "$TMP/during.err"

want="$(ss_listeners "$NS" $PORT) $(ss_established "$NS" $PORT)"
check "ss agrees with the scenario (listeners, established)" "$want" "1 $N"
read -r listen estab accepted closed peers <<<"$(sockfan_row "$TMP/during" $PORT)"
check "one listening socket" "$listen" "$(ss_listeners "$NS" $PORT)"
check "established sockets on port $PORT match ss" "$estab" "$(ss_established "$NS" $PORT)"
check "accepted = established (accept queue empty per ss)" "$accepted" "$N"
check "distinct peers match ss" "$peers" "$(ss_peers "$NS" $PORT)"
check "four-tuples match ss" "$(sockfan_tuples "$TMP/during" | md5sum)" \
	"$(ss_tuples "$NS" $PORT | md5sum)"

# a fresh sockfan sees the same through its snapshot of existing sockets
view "$TMP/seeded"
read -r listen estab accepted closed peers <<<"$(sockfan_row "$TMP/seeded" $PORT)"
check "restarted sockfan counts older connections (seed)" \
	"$listen $estab $accepted $peers" "1 $N $N 3"

# the clients leave: live state must follow
if [ "$SOURCE" = bpf ]; then
	view "$TMP/after" --duration 6 &
	viewer=$!
	wait_for 30 grep -q '^# attached' "$TMP/after.err"
fi
kill "$CLIENTS_PID"
wait "$CLIENTS_PID" 2>/dev/null
wait_for 10 test "$(ss_established "$NS" $PORT)" = 0 ||
	diag "clients did not close: ss still shows $(ss_established "$NS" $PORT)"
if [ "$SOURCE" = bpf ]; then
	wait $viewer
else
	sleep 0.5
	view "$TMP/after"
fi
sed 's/^/# /' "$TMP/after" "$TMP/after.err"
read -r listen estab accepted closed peers <<<"$(sockfan_row "$TMP/after" $PORT)"
check "after the clients close: 0 established, as ss" "$estab $(ss_established "$NS" $PORT)" "0 0"
check "after the clients close: $N closed" "$closed" "$N"

if [ "$SOURCE" = proc ]; then
	check "raw /proc/net/sockfan/ports in the namespace" \
		"$(in_ns "$NS" awk -v p=$PORT '$1 == p { print $2, $3, $4, $5 }' /proc/net/sockfan/ports)" \
		"1 0 $N $N"
	check "the root namespace's /proc/net/sockfan/ports does not show it" \
		"$(awk -v p=$PORT '$1 == p' /proc/net/sockfan/ports | wc -l)" 0
else
	check "no record lost" "$(awk '/^# source bpf/ { for (i = 1; i <= NF; i++) if ($i == "lost,") print $(i-1) }' "$TMP/after")" 0
	tap_skip "root namespace isolation" "proc source only"
fi
[ -n "${SOCKFAN_TEST_KEEP:-}" ] && cp -r "$TMP" /tmp/sockfan-kept
tap_exit
