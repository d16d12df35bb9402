#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Cgroups and containers: three servers in real cgroups the test makes
# under the cgroup2 mount, named as container runtimes name theirs:
#   A  nginx (master and 2 workers) in .../docker-ID.scope (systemd driver)
#   B  python http.server in a Kubernetes pod's cri-containerd-ID.scope
#      (kubepods-besteffort-pod<UID>.slice, the UID's dashes as underscores)
#   C  python http.server in /kubepods/besteffort/pod<UID>/ID (cgroupfs driver)
# sockfan started after the clients (a snapshot) names each listener's
# and connection's cgroup, container and pod; --cgroup selects by
# cgroup in ports, explain, top, trace and serve; started before the
# traffic (BPF, --duration), --cgroup counts only the cgroup's accepts.
# Then a real container: podman runs busybox's httpd (from a rootfs the
# test builds: no registry is reachable) in the test's namespace, and
# sockfan names the container podman made.
source "$(dirname "$0")/lib.sh"

PA=8081 PB=8082 PC=8083 SPORT=9479
NA=12 NB=7 NC=5 NEW=9

require_scenario_tools
require_btf
require_nginx
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CGROOT" ] || skip_all "no cgroup2 file system mounted (mount -t cgroup2 none /sys/fs/cgroup)"
HOME_CG=$(sed -n 's/^0:://p' /proc/self/cgroup)
[ -w "$CGROOT$HOME_CG/cgroup.procs" ] ||
	skip_all "cannot move tasks between cgroups here ($CGROOT$HOME_CG/cgroup.procs not writable)"

tap_plan 25

ID_A=$(printf 'a1%.0s' {1..32})
ID_B=$(printf 'b2%.0s' {1..32})
ID_C=$(printf 'c3%.0s' {1..32})
UID_B=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
UID_C=11112222-3333-4444-5555-666677778888
TOP=/sockfan-test-$$
CG_A=$TOP/system.slice/docker-$ID_A.scope
CG_B=$TOP/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_B//-/_}.slice/cri-containerd-$ID_B.scope
CG_C=$TOP/kubepods/besteffort/pod$UID_C/$ID_C

# after lib.sh's cleanup (the servers gone): this test's cgroups, deepest first
cg_cleanup() {
	cleanup
	echo $$ >"$CGROOT$HOME_CG/cgroup.procs" 2>/dev/null
	[ -d "$CGROOT$TOP" ] && find "$CGROOT$TOP" -depth -type d -exec rmdir {} + 2>/dev/null
}
trap cg_cleanup EXIT

# cg_enter CG: this shell (and what it starts from now on) into CG
cg_enter() {
	mkdir -p "$CGROOT$1" && echo $$ >"$CGROOT$1/cgroup.procs"
}

netns_new NS sfcgroup
ino=$(netns_inode "$NS")
cg_enter "$CG_A" && nginx_start "$NS" $PA workers=2 ||
	{ diag "nginx in $CG_A did not start"; exit "$KSFT_FAIL"; }
cg_enter "$CG_B" && httpd_start "$NS" $PB || exit "$KSFT_FAIL"
cg_enter "$CG_C" && httpd_start "$NS" $PC || exit "$KSFT_FAIL"
cg_enter "$HOME_CG"
check "the servers run in the test's cgroups" \
	"$(sed -n 's/^0:://p' "/proc/$NGINX_PID/cgroup")" "$CG_A"

clients_start "$NS" 127.0.0.1 $PA $NA "" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" 127.0.0.1 $PB $NB "" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" 127.0.0.1 $PC $NC "" $CLIENT_HOLD || exit "$KSFT_FAIL"

# sf ARGS...: sockfan on the test's namespace, run outside it: ip netns
# exec mounts a /sys of its own, without the cgroup2 mount --cgroup reads
sf() {
	"$SOCKFAN" "$@" --netns "$ino"
}

# --- started after: a snapshot of servers that were already running ---
sf ports --source diag --json >"$TMP/all" 2>"$TMP/all.err"
check "after: A's owner: cgroup, docker, container id, no pod" \
	"$(sockfan_json "$TMP/all" cgroup $PA)" "$CG_A docker $ID_A -"
check "after: B's owner: cgroup, containerd, container id, pod UID" \
	"$(sockfan_json "$TMP/all" cgroup $PB)" "$CG_B containerd $ID_B $UID_B"
check "after: C's owner (cgroupfs driver): container id and pod UID" \
	"$(sockfan_json "$TMP/all" cgroup $PC)" "$CG_C kubernetes $ID_C $UID_C"

sf ports --source diag --json --port $PA >"$TMP/a" 2>"$TMP/a.err"
check "after: A's listener is in A's cgroup" "$(sockfan_listener_field "$TMP/a" all cgroup)" "$CG_A"
check "after: each of A's $NA connections is in A's cgroup (its worker's)" \
	"$(sockfan_json "$TMP/a" conn_cgroups | sort | uniq -c | awk '{ print $1, $2 }')" "$NA $CG_A"

# --cgroup: given as /proc/PID/cgroup shows it, or under the mount
sf ports --source diag --json --cgroup "$TOP/kubepods.slice" >"$TMP/k" 2>"$TMP/k.err"
check "after: --cgroup $TOP/kubepods.slice: B's port only" \
	"$(sockfan_json "$TMP/k" ports | xargs)" "$PB"
sf ports --source diag --json --cgroup "$CGROOT$TOP/kubepods/" >"$TMP/c" 2>"$TMP/c.err"
check "after: --cgroup under the mount ($CGROOT$TOP/kubepods/): C's port only" \
	"$(sockfan_json "$TMP/c" ports | xargs)" "$PC"
sf ports --source diag --json --cgroup "$TOP" >"$TMP/t" 2>"$TMP/t.err"
check "after: --cgroup $TOP: the three ports, ESTAB as ss counts" \
	"$(for p in $PA $PB $PC; do sockfan_col "$TMP/t" $p ESTAB; done | xargs)" \
	"$(for p in $PA $PB $PC; do ss_established "$NS" $p; done | xargs)"
sf ports --source diag --json --cgroup "$CG_B" --port $PA >"$TMP/none" 2>"$TMP/none.err"
check "after: --cgroup B --port A: no row" "$(sockfan_json "$TMP/none" ports | wc -l)" 0

sf explain $PA --source diag >"$TMP/explain" 2>"$TMP/explain.err"
check "after: explain draws A's listener with its container" \
	"$(grep -c "^LISTEN .* cgroup $CG_A (docker ${ID_A:0:12})\$" "$TMP/explain")" 1
sf explain $PA --source diag --cgroup "$CG_C" >"$TMP/explain.c" 2>&1
check "after: explain --cgroup C of A's port: nothing of it" \
	"$(grep -c '^LISTEN' "$TMP/explain.c")" 0

# the text views say it too
sf ports --source diag --port $PC >"$TMP/c.txt" 2>&1
check "after: ports --port C (text): listener and connections with container and pod" \
	"$(grep -c "cgroup $CG_C (kubernetes ${ID_C:0:12}, pod $UID_C)\$" "$TMP/c.txt")" $((1 + NC))

# bad --cgroup: a clear error, nothing shown; under ip netns exec (its
# own /sys) it says why it cannot check one and what to do
in_ns "$NS" "$SOCKFAN" ports --cgroup "$CG_A" >"$TMP/bad" 2>"$TMP/bad.err"
check "--cgroup under ip netns exec: exit 1, says to run outside with --netns" \
	"$?:$(grep -c "run sockfan outside it with --netns" "$TMP/bad.err"):$(wc -c <"$TMP/bad")" "1:1:0"
sf ports --cgroup "$TOP/nonexistent" >"$TMP/bad" 2>"$TMP/bad.err"
check "--cgroup of no cgroup: exit 1, named" \
	"$?:$(grep -c "no such cgroup" "$TMP/bad.err"):$(wc -c <"$TMP/bad")" "1:1:0"
sf ports --cgroup relative/path >"$TMP/bad" 2>"$TMP/bad.err"
check "--cgroup not a path: usage error (exit 2)" "$?:$(wc -c <"$TMP/bad")" "2:0"

# serve: the owner's cgroup, container and pod as labels of
# sockfan_port_owner_info, the counters' labels unchanged
if serve_start 127.0.0.1:$SPORT --source bpf --netns "$ino" --cgroup "$TOP/kubepods.slice"; then
	http_get "http://127.0.0.1:$SPORT/metrics" >"$TMP/metrics" 2>&1
	check "serve --cgroup: owner_info of B's port names its container and pod" \
		"$(grep -c "^sockfan_port_owner_info{netns=\"$ino\",port=\"$PB\",.*,cgroup=\"$CG_B\",container=\"$ID_B\",container_runtime=\"containerd\",pod_uid=\"$UID_B\"} 1\$" "$TMP/metrics")" 1
	check "serve --cgroup: no series of the ports outside it" \
		"$(grep -cE "port=\"($PA|$PC)\"" "$TMP/metrics")" 0
else
	ktap_test_fail "serve --cgroup: owner_info of B's port names its container and pod"
	ktap_test_fail "serve --cgroup: no series of the ports outside it"
fi
kill "$SERVE_PID" 2>/dev/null
wait "$SERVE_PID" 2>/dev/null

# top: the cgroup's port, not the others
sf top --source bpf --interval 0.5 --count 2 --cgroup "$CG_A" >"$TMP/top" 2>"$TMP/top.err"
check "top --cgroup A: A's row, not B's or C's" \
	"$(text_col "$TMP/top" $PA PORT):$(text_col "$TMP/top" $PB PORT)$(text_col "$TMP/top" $PC PORT)" \
	"$PA:"

# --- started before: the traffic comes while BPF follows ---
# ports --cgroup B follows NEW connections to each server; only B's count
sf ports --source bpf --duration 600 --json --cgroup "$CG_B" >"$TMP/before" 2>"$TMP/before.err" &
view=$!
PIDS+=("$view")
wait_for 60 grep -q '^# attached' "$TMP/before.err" || sleep 5
opens0=$(netns_mib "$NS" TcpPassiveOpens)
clients_start "$NS" 127.0.0.1 $PA $NEW "" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" 127.0.0.1 $PB $NEW "" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" 127.0.0.1 $PC $NEW "" $CLIENT_HOLD || exit "$KSFT_FAIL"
wait_for 20 accept_queue_empty "$NS" $PB
interrupt "$view"
wait "$view" 2>/dev/null
check "before: nstat counted the $((3 * NEW)) passive opens" \
	"$(($(netns_mib "$NS" TcpPassiveOpens) - opens0))" $((3 * NEW))
check "before: --cgroup B: B's port only" "$(sockfan_json "$TMP/before" ports | xargs)" "$PB"
check "before: --cgroup B: accepted $NEW, ESTAB as ss" \
	"$(sockfan_col "$TMP/before" $PB ACCEPTED ESTAB)" "$NEW $(ss_established "$NS" $PB)"

# trace --cgroup C: a server started in C during the trace, and its
# accepts; not one started in A
"$SOCKFAN" trace --netns "$ino" --cgroup "$CG_C" --duration 600 >"$TMP/trace" 2>"$TMP/trace.err" &
trace=$!
PIDS+=("$trace")
wait_for 60 grep -q '^# attached' "$TMP/trace.err" || sleep 5
cg_enter "$CG_C" && httpd_start "$NS" $((PC + 10)) || exit "$KSFT_FAIL"
cg_enter "$CG_A" && httpd_start "$NS" $((PA + 10)) || exit "$KSFT_FAIL"
cg_enter "$HOME_CG"
clients_start "$NS" 127.0.0.1 $((PC + 10)) 3 "" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" 127.0.0.1 $((PA + 10)) 3 "" $CLIENT_HOLD || exit "$KSFT_FAIL"
sleep 1
interrupt "$trace"
wait "$trace" 2>/dev/null
check "trace --cgroup C: the listen and 3 accepts in C, nothing in A" \
	"$(grep -cE " (listen|accept) .*:$((PC + 10)) " "$TMP/trace"):$(grep -c ":$((PA + 10)) " "$TMP/trace")" \
	"4:0"

# --- a real container: podman, in the test's namespace ---
podman_ok=$(command -v podman >/dev/null && command -v runc >/dev/null && echo 1)
BUSYBOX=$(command -v busybox || echo /bin/busybox)
PP=$((PA + 20))
cname=sockfan-test-$$
if [ -z "$podman_ok" ]; then
	why="podman or runc not installed (make deps)"
elif ! mkdir -p "$TMP/rootfs/bin" || ! cp "$BUSYBOX" "$TMP/rootfs/bin/busybox" ||
     ! tar -C "$TMP/rootfs" -cf "$TMP/rootfs.tar" . ||
     ! podman import -q "$TMP/rootfs.tar" "localhost/$cname" >"$TMP/podman.log" 2>&1; then
	why="podman import of a busybox rootfs failed: $(tail -n 1 "$TMP/podman.log")"
# the host's hard limits may be below podman's defaults: lower ones
elif ! cid=$(podman --runtime runc run -d --name "$cname" --network "ns:/run/netns/$NS" \
		--ulimit nofile=256:256 --ulimit nproc=64:64 "localhost/$cname" \
		/bin/busybox httpd -f -p 127.0.0.1:$PP 2>"$TMP/podman.log"); then
	why="podman run failed here: $(tail -n 1 "$TMP/podman.log")"
fi
if [ -n "${why:-}" ]; then
	for t in "podman: its container's listener names the container" \
		 "podman: --cgroup of the container's cgroup: its port only"; do
		tap_skip "$t" "$why"
	done
else
	wait_for 20 ss_has_listener "$NS" $PP
	ccg=$(sed -n 's/^0:://p' "/proc/$(podman inspect --format '{{.State.Pid}}' "$cname")/cgroup")
	sf ports --source diag --json >"$TMP/podman" 2>"$TMP/podman.err"
	check "podman: its container's listener names the container" \
		"$(sockfan_json "$TMP/podman" cgroup $PP)" "$ccg podman $cid -"
	sf ports --source diag --json --cgroup "$ccg" >"$TMP/podman.c" 2>"$TMP/podman.c.err"
	check "podman: --cgroup of the container's cgroup: its port only" \
		"$(sockfan_json "$TMP/podman.c" ports | xargs)" "$PP"
fi
podman rm -f -t 0 "$cname" >/dev/null 2>&1
podman rmi -f "localhost/$cname" >/dev/null 2>&1

tap_exit
