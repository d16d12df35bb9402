#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fan-out of a real nginx through the BPF capture path, checked against ss.
exec "$(dirname "$0")/fanout.sh" bpf
