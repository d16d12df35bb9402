// SPDX-License-Identifier: GPL-2.0
/*
 * bench/apply [CONNS] [ROUNDS]: how many records per second the sockfan
 * command applies, the consumer side of the ring buffer, apart from what
 * the kernel can generate on this machine.  Per round, CONNS connections
 * (default 100000) to one port from 64 peers live through LISTEN once,
 * then ESTABLISHED, ACCEPT and CLOSE each, in the order the programs
 * write them, with CONNS/2 open at a time.  Prints records/s per round
 * and the median.  Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout.h"
#include "cli.h"

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void conn_event(struct sockfan_event *e, __u16 kind, __u32 i, __u64 ts)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_ns = ts;
	e->cookie = 1000 + i;
	e->key.family = 2;
	e->key.laddr[10] = 0xff;
	e->key.laddr[11] = 0xff;
	e->key.laddr[12] = 127;
	e->key.laddr[15] = 1;
	memcpy(e->key.raddr, e->key.laddr, 16);
	e->key.raddr[14] = 1;
	e->key.raddr[15] = i % 64 + 2;
	e->key.lport = 8080;
	e->key.rport = 1024 + i / 64 % 60000;
	e->key.netns = 4026531840U;
	e->state = kind == SOCKFAN_EV_CLOSE ? 7 : 1;
	if (kind == SOCKFAN_EV_ACCEPT) {
		e->flags = SOCKFAN_F_TASK;
		e->pid = 42;
		memcpy(e->comm, "nginx", 6);
		e->accept.listener = 1;
		e->accept.wait_ns = 1000;
	}
	if (kind == SOCKFAN_EV_CLOSE)
		e->close.lifetime_ns = 5000;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned long conns = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	unsigned long rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
	struct sockfan_event e;
	struct fanout f;
	double rate[64];
	__u64 t0, n, r, i;

	if (!conns || conns > 10000000 || !rounds || rounds > 64) {
		fprintf(stderr, "usage: apply [CONNS 1-10000000] [ROUNDS 1-64]\n");
		return 2;
	}
	for (r = 0; r < rounds; r++) {
		if (fanout_init(&f)) {
			fprintf(stderr, "apply: out of memory\n");
			return 1;
		}
		memset(&e, 0, sizeof(e));
		e.kind = SOCKFAN_EV_LISTEN;
		e.cookie = 1;
		e.key.family = 2;
		e.key.laddr[10] = 0xff;
		e.key.laddr[11] = 0xff;
		e.key.lport = 8080;
		e.key.netns = 4026531840U;
		e.state = 10;
		e.listen.backlog = 4096;
		t0 = now_ns();
		fanout_apply(&f, &e);
		n = 1;
		/* connection i opens while connection i - conns/2 closes */
		for (i = 0; i < conns + conns / 2; i++) {
			if (i < conns) {
				conn_event(&e, SOCKFAN_EV_ESTABLISHED, i, t0 + i);
				fanout_apply(&f, &e);
				conn_event(&e, SOCKFAN_EV_ACCEPT, i, t0 + i);
				fanout_apply(&f, &e);
				n += 2;
			}
			if (i >= conns / 2) {
				conn_event(&e, SOCKFAN_EV_CLOSE, i - conns / 2, t0 + i);
				fanout_apply(&f, &e);
				n++;
			}
		}
		rate[r] = n / ((now_ns() - t0) / 1e9);
		printf("round %llu: %llu records in %.3f s: %.2f M records/s\n",
		       (unsigned long long)r + 1, (unsigned long long)n, n / rate[r], rate[r] / 1e6);
		fanout_free(&f);
	}
	qsort(rate, rounds, sizeof(rate[0]), cmp_double);
	printf("median: %.2f M records/s (%lu connections, %lu rounds)\n",
	       rate[rounds / 2] / 1e6, conns, rounds);
	return 0;
}
