#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# nginx with 2 reuseport workers under wrk through the BPF capture path,
# sockfan started before and after the load, checked against ss and nstat.
exec "$(dirname "$0")/servers.sh" nginx bpf
