#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A listener that never accepts, through the BPF capture path, checked against ss and nstat.
exec "$(dirname "$0")/acceptq.sh" bpf
