#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/vm.sh [FLAVOUR...] (default 6.1): bench/run.sh inside the qemu VM
# of each Debian kernel flavour (6.1, 6.12, 6.1-rt), where sockfan.ko
# loads: tracers none, kmod (the module loaded) and sockfan (BPF), each
# round interleaved in one VM run, so the ratios compare like with like.
# TCG emulates the CPU (no KVM here): absolute req/s mean little, the
# ratios within a run are the result.  Then, in a second boot with 4 GiB,
# bench/scale-proc.sh: the /proc files with BENCH_SCALE_CONNS (100000)
# connections.  BENCH_ROUNDS and BENCH_SECONDS as for make bench.
# Prints and writes build/bench/vm-ABI-DATE.txt.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${BENCH_ROUNDS:-5}
secs=${BENCH_SECONDS:-5}
out=$top/build/bench
mkdir -p "$out"
[ $# -gt 0 ] || set -- 6.1
conns=${BENCH_SCALE_CONNS:-100000}
rc=0
for flavour in "$@"; do
	log=$(mktemp)
	# 2 loads x 4 tracers x (run + setup) per round, on an emulated CPU
	SOCKFAN_VM_BENCH="run.sh $rounds $secs" \
		SOCKFAN_VM_TIMEOUT=$((300 + rounds * 8 * (secs + 20))) \
		"$top/selftests/vm/run.sh" "$flavour" >"$log" 2>&1 || rc=1
	echo "# --- scale-proc.sh $conns" >>"$log"
	SOCKFAN_VM_BENCH="scale-proc.sh $conns" SOCKFAN_VM_MEM=4G SOCKFAN_VM_TIMEOUT=1800 \
		"$top/selftests/vm/run.sh" "$flavour" >>"$log" 2>&1 || rc=1
	abi=$(sed -n 's/^.* vm \([^:]*\): bench .*$/\1/p' "$log" | head -n 1)
	result=$out/vm-${abi:-$flavour}-$(date +%Y%m%d-%H%M%S).txt
	{
		echo "# bench/run.sh and scale-proc.sh in the $flavour VM (qemu TCG, 2 vCPUs; run.sh: nginx on vCPU 0, wrk on vCPU 1)"
		# the bench's own lines, without the VM's TAP framing
		sed -n 's/^# //p' "$log" | grep -v '^vm .*: [0-9]* s for the VM run'
		grep -E '^(not ok|ok) ' "$log"
	} | tee "$result"
	echo "bench: results in $result"
	rm -f "$log"
done
exit $rc
