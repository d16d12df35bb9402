#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# haproxy, one process of 2 threads, under wrk through the BPF capture path,
# sockfan started before and after the load, checked against ss and nstat.
exec "$(dirname "$0")/servers.sh" haproxy-threads bpf
