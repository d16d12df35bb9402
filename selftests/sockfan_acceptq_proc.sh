#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A listener that never accepts, through sockfan.ko and /proc, checked against ss and nstat.
exec "$(dirname "$0")/acceptq.sh" proc
