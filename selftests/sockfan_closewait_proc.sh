#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# CLOSE-WAIT told from ESTAB through the module (sockfan.ko), checked against ss.
exec "$(dirname "$0")/closewait.sh" proc
