// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "format.h"
#include "spread.h"

int print_spread(FILE *out, const char *lead, const struct fan_conn **conns, size_t n,
		 bool holders)
{
	struct fan_task_count *v;
	char task[48];
	size_t i, k;

	if (fanout_task_spread(conns, n, holders, &v, &k))
		return -ENOMEM;
	if (k)
		fprintf(out, "%s", lead);
	for (i = 0; i < k; i++)
		fprintf(out, "%s%zu by %s", i ? ", " : "", v[i].n,
			v[i].pid ? fmt_thread(task, sizeof(task), v[i].pid, v[i].tid, v[i].comm) :
			holders ? "? (not known)" : "? (accepted before sockfan looked)");
	if (k)
		fprintf(out, "\n");
	free(v);
	return 0;
}
