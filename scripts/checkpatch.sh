#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernel coding style over the project's C, with the kernel tree's own
# scripts/checkpatch.pl (from Debian's linux-source).  Prints one TAP line
# per part; exits 1 if any part has an error or a warning.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$("$top/scripts/linux-src.sh" "$top/build/linux-src") || exit 1
checkpatch=$src/scripts/checkpatch.pl

# kmod/ and bpf/ are kernel code: --strict as for new kernel code.
# user/ follows kernel style too, minus what only applies inside the
# kernel (user space has no kernel types or printk, and may use printf;
# it has no compiler_attributes.h, so user/cli.h defines __printf).
parts=(
	"kmod|--strict|kmod/*.[ch]"
	# const volatile globals are how libbpf hands a value to the
	# programs at load (.rodata, which the verifier then knows)
	"bpf|--strict --ignore VOLATILE|bpf/*.c"
	# a UAPI-style header: no BIT() there, and C11 asserts for user space
	"include|--ignore CAMELCASE|include/sockfan/*.h"
	"user|--ignore PREFER_KERNEL_TYPES,SPLIT_STRING,PREFER_DEFINED_ATTRIBUTE_MACRO|user/*.[ch]"
	"selftests|--ignore PREFER_KERNEL_TYPES|selftests/*.c"
	"bench|--ignore PREFER_KERNEL_TYPES|bench/*.c"
)

n=0
failed=0
echo "TAP version 13"
echo "1..${#parts[@]}"
for p in "${parts[@]}"; do
	IFS='|' read -r name opts globs <<<"$p"
	n=$((n + 1))
	# shellcheck disable=SC2086 # globs and options are word lists
	files=$(cd "$top" && ls $globs 2>/dev/null)
	if [ -z "$files" ]; then
		echo "ok $n checkpatch $name # SKIP no files"
		continue
	fi
	# shellcheck disable=SC2086
	out=$(cd "$top" && "$checkpatch" --no-tree --terse --show-types -f $opts $files 2>&1 |
		grep -E '^[^ ]+:[0-9]+: (ERROR|WARNING|CHECK):')
	if [ -z "$out" ]; then
		echo "ok $n checkpatch $name"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok $n checkpatch $name"
		failed=1
	fi
done
exit $failed
