#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sockfan top, explain (text, DOT) and the ss-style filters on nginx,
# through the BPF capture path, checked against ss.
exec "$(dirname "$0")/views.sh" bpf
