#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lookups (listener hits, established hits, misses) through sockfan.ko.
exec "$(dirname "$0")/lookup.sh" proc
