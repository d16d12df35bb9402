#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan.ko loads, creates /proc/net/sockfan/ in every network namespace
# (also in one created after the load), rejects writes, unloads, removes
# its files, and the kernel log has no WARN, BUG or Oops afterwards.
source "$(dirname "$0")/lib.sh"

require_root
require_sockfan_ko

tap_plan 8
dmesg_before=$(dmesg | wc -l)

insmod "$SOCKFAN_KO"
check "insmod sockfan.ko" $? 0
check "files in the root namespace" \
	"$(ls /proc/net/sockfan 2>/dev/null | sort | tr '\n' ' ')" \
	"conns listeners ports stats "
netns_new NS sflife
check "files in a namespace made after the load" \
	"$(in_ns "$NS" ls /proc/net/sockfan 2>/dev/null | sort | tr '\n' ' ')" \
	"conns listeners ports stats "
check "ports starts with its header line" \
	"$(head -n 1 /proc/net/sockfan/ports)" \
	"port listeners established accepted closed peers lifetime_us wait_us wait_max_us misses owner_pid owner_comm"
echo garbage 2>/dev/null >/proc/net/sockfan/ports
check "writing to ports is refused" $? 1
rmmod sockfan
check "rmmod sockfan" $? 0
check "files gone after rmmod" "$(ls -d /proc/net/sockfan 2>/dev/null)" ""
bad=$(dmesg | tail -n +"$((dmesg_before + 1))" | grep -E 'WARNING|BUG|Oops|Call Trace|leak' || true)
check "kernel log clean (no WARN/BUG/Oops/leak)" "$bad" ""
[ -z "$bad" ] || echo "$bad" | sed 's/^/# /'
tap_exit
