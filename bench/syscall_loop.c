// SPDX-License-Identifier: GPL-2.0
/*
 * bench/syscall-loop [CALLS]: nanoseconds per getppid(2), the cheapest
 * syscall, over CALLS calls (default 2000000).  bench/run.sh runs it with
 * and without a syscall tracepoint attached: while one is, every syscall
 * of every task takes the kernel's slow path, and this prices that per
 * syscall.  Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 2000000, i;
	struct timespec a, b;

	if (calls <= 0) {
		fprintf(stderr, "usage: %s [CALLS]: CALLS a positive number\n", argv[0]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* syscall(): libc may cache or vDSO some calls; this one it must make */
	for (i = 0; i < calls; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / calls);
	return 0;
}
