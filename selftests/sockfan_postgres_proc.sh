#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# PostgreSQL on 127.0.0.1 and ::1 under pgbench with and without -C through sockfan.ko and /proc,
# sockfan started before and after the load, checked against ss and nstat.
exec "$(dirname "$0")/servers.sh" postgres proc
