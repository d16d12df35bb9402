#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz.sh SECONDS TARGET...: run each libFuzzer target of fuzz/ for
# SECONDS (make check: a short bounded run; make fuzz: longer), one TAP
# line each.  The corpus grows in build/fuzz/corpus-TARGET from the seeds
# in fuzz/corpus/TARGET; a crash leaves build/fuzz/crash-TARGET-* and
# fails the line (reproduce: build/fuzz/fuzz_TARGET FILE).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:?usage: fuzz.sh SECONDS TARGET...}
shift
out=$top/build/fuzz

echo "TAP version 13"
echo "1..$#"
n=0
for t in "$@"; do
	n=$((n + 1))
	bin=$out/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "not ok $n fuzz $t # $bin not built (make fuzzers)"
		continue
	fi
	mkdir -p "$out/corpus-$t"
	rm -f "$out/crash-$t-"*
	# the targets' own messages (rejected input) would only slow it down
	"$bin" -max_total_time="$secs" -close_fd_mask=3 -print_final_stats=1 \
		-artifact_prefix="$out/crash-$t-" -max_len=4096 \
		"$out/corpus-$t" "$top/fuzz/corpus/$t" >"$out/$t.log" 2>&1
	rc=$?
	runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$out/$t.log")
	crash=$(ls "$out/crash-$t-"* 2>/dev/null | head -n 1)
	if [ $rc = 0 ] && [ -z "$crash" ]; then
		echo "ok $n fuzz $t: ${secs} s, ${runs:-?} inputs, corpus $(ls "$out/corpus-$t" | wc -l), no crash"
	else
		grep -E 'ERROR|SUMMARY|runtime error' "$out/$t.log" | head -5 | sed 's/^/# /'
		echo "not ok $n fuzz $t: exit $rc${crash:+, reproducer $crash}"
	fi
done
