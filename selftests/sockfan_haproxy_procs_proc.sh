#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# 2 haproxy processes on one port (SO_REUSEPORT) under wrk through sockfan.ko and /proc,
# sockfan started before and after the load, checked against ss and nstat.
exec "$(dirname "$0")/servers.sh" haproxy-procs proc
