#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fan-out of a real nginx through sockfan.ko and /proc, checked against ss.
exec "$(dirname "$0")/fanout.sh" proc
