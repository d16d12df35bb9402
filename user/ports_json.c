// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan ports --json`: one JSON document.  Numbers are numbers,
 * durations in nanoseconds, and a counter the source cannot count is
 * null rather than 0.  With --port, the port's sockets are listed too.
 * The document is one line, so that --interval prints JSON lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "format.h"
#include "ports_out.h"
#include "source_bpf.h"

static void json_u64_or_null(const char *key, __u64 v, bool known, const char *sep)
{
	if (known)
		printf("\"%s\":%llu%s", key, (unsigned long long)v, sep);
	else
		printf("\"%s\":null%s", key, sep);
}

static void json_task(const char *key, __u32 pid, const char *comm)
{
	char name[SOCKFAN_COMM_LEN + 1];

	if (!pid) {
		printf("\"%s\":null", key);
		return;
	}
	snprintf(name, sizeof(name), "%.*s", SOCKFAN_COMM_LEN, comm);
	printf("\"%s\":{\"pid\":%u,\"comm\":", key, pid);
	fput_json_str(stdout, name);
	printf("}");
}

static void json_sockets(const struct fanout *f, __u32 netns, __u16 port)
{
	char addr[FMT_ADDR_LEN];
	const struct fan_conn **conns;
	size_t i, n, k = 0;

	printf(",\"listening_sockets\":[");
	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];

		if (!fanout_listener_on(f, l, netns, port))
			continue;
		printf("%s{\"cookie\":%llu,\"address\":\"%s\",\"port\":%u,\"backlog\":%u,\"qlen\":%u,\"drops\":%u,\"accepted\":%llu,",
		       k++ ? "," : "", (unsigned long long)l->cookie,
		       fmt_addr(addr, sizeof(addr), &l->key, 0), port, l->backlog, l->qlen,
		       l->drops, (unsigned long long)l->accepted);
		json_u64_or_null("hits", l->hits, f->counts & FAN_COUNTS_LISTENER_HITS, ",");
		json_task("owner", l->pid, l->comm);
		printf("}");
	}
	printf("],\"connection_sockets\":[");
	if (!fanout_port_conns(f, netns, port, &conns, &n)) {
		for (i = 0; i < n; i++) {
			const struct fan_conn *c = conns[i];

			printf("%s{\"cookie\":%llu,\"local\":\"%s\",\"local_port\":%u,",
			       i ? "," : "", (unsigned long long)c->cookie,
			       fmt_addr(addr, sizeof(addr), &c->key, 0), c->key.lport);
			printf("\"remote\":\"%s\",\"remote_port\":%u,\"listener\":%llu,\"segs_in\":%llu,",
			       fmt_addr(addr, sizeof(addr), &c->key, 1), c->key.rport,
			       (unsigned long long)c->listener, (unsigned long long)c->segs_in);
			json_task("accepted_by", c->flags & FAN_ACCEPTED ? c->pid : 0, c->comm);
			printf("}");
		}
		free(conns);
	}
	printf("]");
}

/*
 * "hook_cost":{"handshakes":N,"empty_run_ns":N,"programs":[{"prog":
 * "state_btf","runs":N,"run_ns":N}]}: run_ns as the kernel counted it,
 * each run including what an empty program's counts, empty_run_ns (null:
 * not known).
 */
static void json_hook_cost(const struct ports_meta *m)
{
	int i;

	printf(",\"hook_cost\":{\"handshakes\":%llu,\"empty_run_ns\":",
	       (unsigned long long)m->handshakes);
	if (m->empty_run_ns)
		printf("%llu", (unsigned long long)m->empty_run_ns);
	else
		printf("null");
	printf(",\"programs\":[");
	for (i = 0; i < m->nhook_cost; i++) {
		printf("%s{\"prog\":", i ? "," : "");
		fput_json_str(stdout, m->hook_cost[i].prog);
		printf(",\"runs\":%llu,\"run_ns\":%llu}",
		       (unsigned long long)m->hook_cost[i].runs,
		       (unsigned long long)m->hook_cost[i].run_ns);
	}
	printf("]}");
}

int ports_print_json(const struct fanout *f, const struct ports_meta *m)
{
	__u16 port = f->filter ? f->filter->port : 0;
	struct fan_row *rows;
	size_t i, n, k = 0;

	if (fanout_rows(f, &rows, &n))
		return -ENOMEM;
	printf("{\"source\":");
	fput_json_str(stdout, m->source);
	if (m->hooks) {
		printf(",\"hooks\":");
		fput_json_str(stdout, m->hooks);
		printf(",\"records\":%llu,\"lost\":%llu,\"malformed\":%llu,\"reconciled\":%llu",
		       (unsigned long long)m->records, (unsigned long long)m->lost,
		       (unsigned long long)m->malformed, (unsigned long long)m->reconciled);
	}
	if (m->hook_cost)
		json_hook_cost(m);
	if (m->proc_dir) {
		printf(",\"proc_dir\":");
		fput_json_str(stdout, m->proc_dir);
	}
	printf(",\"ports\":[");
	for (i = 0; i < n; i++) {
		const struct fan_row *r = &rows[i];

		printf("%s{\"netns\":%u,\"port\":%u,\"listeners\":%u,\"established\":%llu,\"accepted\":%llu,\"closed\":%llu,\"peers\":%llu,",
		       k++ ? "," : "", r->netns, r->port, r->listeners,
		       (unsigned long long)r->established, (unsigned long long)r->accepted,
		       (unsigned long long)r->closed, (unsigned long long)r->peers);
		json_u64_or_null("lifetime_avg_ns", r->lifetime_avg_ns, r->lifetimes, ",");
		json_u64_or_null("accept_wait_avg_ns", r->wait_avg_ns, r->waits, ",");
		json_u64_or_null("accept_wait_max_ns", r->wait_max_ns, r->waits, ",");
		json_u64_or_null("misses", r->misses, f->counts & FAN_COUNTS_MISSES, ",");
		json_task("owner", r->owner_pid, r->owner_comm);
		if (port)
			json_sockets(f, r->netns, r->port);
		printf("}");
	}
	printf("]}\n");
	free(rows);
	return 0;
}
