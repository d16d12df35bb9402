#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A reuseport group's balance and a stalled member, through the module's /proc files.
exec "$(dirname "$0")/balance.sh" proc
