#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Several reuseport listeners on one port through the BPF capture path, checked against ss.
exec "$(dirname "$0")/reuseport.sh" bpf
