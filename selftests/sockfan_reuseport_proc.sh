#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Several reuseport listeners on one port through sockfan.ko and /proc, checked against ss.
exec "$(dirname "$0")/reuseport.sh" proc
