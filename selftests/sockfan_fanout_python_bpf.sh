#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fan-out of python's http.server (blocking accept, a thread per
# connection) through the BPF capture path, checked against ss.
exec "$(dirname "$0")/fanout.sh" bpf python
