#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lookups (listener hits, established hits, misses) through the BPF path.
exec "$(dirname "$0")/lookup.sh" bpf
