#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fan-out of a dual-stack (IPv6 and v4-mapped) nginx through sockfan.ko and /proc, checked against ss.
exec "$(dirname "$0")/fanout6.sh" proc
