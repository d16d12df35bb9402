#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A reuseport group's balance and a stalled member, through the BPF capture path.
exec "$(dirname "$0")/balance.sh" bpf
