/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a following loop needs: Ctrl-C and SIGTERM end it cleanly, never
 * mid-output, and the clock the kernel stamps events with.
 */
#ifndef SOCKFAN_LOOP_H
#define SOCKFAN_LOOP_H

#include <stdbool.h>
#include <linux/types.h>

/* from now on SIGINT and SIGTERM set the stop flag instead of killing */
void stop_on_signals(void);

bool stop_requested(void);

/* CLOCK_MONOTONIC in ns: the clock of the kernel's ktime_get_ns() */
__u64 mono_ns(void);

#endif /* SOCKFAN_LOOP_H */
