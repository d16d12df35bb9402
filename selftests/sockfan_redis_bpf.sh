#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# redis-server under redis-benchmark (keep-alive and a connection per request) through the BPF capture path,
# sockfan started before and after the load, checked against ss and nstat.
exec "$(dirname "$0")/servers.sh" redis bpf
