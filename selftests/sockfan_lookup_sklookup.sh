#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lookups through the BPF path on hook plan 3 (no fexit, no kprobes, as
# on the CI host): listener lookups counted per port by sk_lookup, also
# on kernels where a kretprobe would count them per listener.
SOCKFAN_PLAN=3 exec "$(dirname "$0")/lookup.sh" bpf
