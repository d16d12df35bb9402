/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a following loop needs: Ctrl-C and SIGTERM end it cleanly, never
 * mid-output, and the clock the kernel stamps events with.
 */
#ifndef SOCKFAN_LOOP_H
#define SOCKFAN_LOOP_H

#include <stdbool.h>
#include <linux/types.h>

/*
 * From now on SIGINT, SIGTERM, SIGHUP and SIGQUIT set the stop flag
 * instead of killing, so that the caller ends cleanly (a terminal mode
 * restored, the last records drained).
 */
void stop_on_signals(void);

bool stop_requested(void);

/* a stop that ended one phase (--duration) is not meant for the next */
void stop_clear(void);

/* CLOCK_MONOTONIC in ns: the clock of the kernel's ktime_get_ns() */
__u64 mono_ns(void);

#endif /* SOCKFAN_LOOP_H */
