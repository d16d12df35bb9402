// SPDX-License-Identifier: GPL-2.0
#include <signal.h>
#include <string.h>
#include <time.h>

#include "loop.h"

/* set from a signal handler: atomic builtins rather than volatile */
static int stop;

static void on_signal(int sig)
{
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
}

void stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
}

void stop_clear(void)
{
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
}

bool stop_requested(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

__u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
