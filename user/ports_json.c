// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan ports --json`: one JSON document.  Numbers are numbers,
 * durations in nanoseconds, and a counter the source cannot count is
 * null rather than 0.  With --port, the port's sockets are listed too.
 * The document is one line, so that --interval prints JSON lines.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>

#include "format.h"
#include "ports_out.h"

static void json_u64_or_null(const char *key, __u64 v, bool known, const char *sep)
{
	if (known)
		printf("\"%s\":%llu%s", key, (unsigned long long)v, sep);
	else
		printf("\"%s\":null%s", key, sep);
}

/* {"pid":P,"comm":C}, with "tid" when the thread is known: null if !@pid */
static void json_thread(const char *key, __u32 pid, __u32 tid, const char *comm)
{
	char name[SOCKFAN_COMM_LEN + 1];

	if (!pid) {
		printf("\"%s\":null", key);
		return;
	}
	snprintf(name, sizeof(name), "%.*s", SOCKFAN_COMM_LEN, comm);
	printf("\"%s\":{\"pid\":%u,", key, pid);
	if (tid)
		printf("\"tid\":%u,", tid);
	printf("\"comm\":");
	fput_json_str(stdout, name);
	printf("}");
}

static void json_task(const char *key, __u32 pid, const char *comm)
{
	json_thread(key, pid, 0, comm);
}

static void json_sockets(const struct fanout *f, const struct fan_filter *flt,
			 __u32 netns, __u16 port)
{
	char addr[FMT_ADDR_LEN];
	const struct fan_conn **conns;
	size_t i, n, k = 0;

	printf(",\"listening_sockets\":[");
	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];

		if (!query_listener_on(flt, l, netns, port))
			continue;
		printf("%s{\"cookie\":%llu,\"address\":\"%s\",\"port\":%u,\"backlog\":%u,\"qlen\":%u,\"sk_drops\":%u,",
		       k++ ? "," : "", (unsigned long long)l->cookie,
		       fmt_addr(addr, sizeof(addr), &l->key, 0), port, l->backlog, l->qlen,
		       l->drops);
		json_u64_or_null("accepted", l->accepted, f->counts & FAN_COUNTS_TOTALS, ",");
		json_u64_or_null("overflows", l->overflows, f->counts & FAN_COUNTS_OVERFLOWS, ",");
		json_u64_or_null("hits", l->hits, f->counts & FAN_COUNTS_LISTENER_HITS, ",");
		json_task("owner", l->pid, l->comm);
		printf("}");
	}
	printf("],\"connection_sockets\":[");
	if (!query_port_conns(f, flt, netns, port, &conns, &n)) {
		for (i = 0; i < n; i++) {
			const struct fan_conn *c = conns[i];

			printf("%s{\"cookie\":%llu,\"local\":\"%s\",\"local_port\":%u,",
			       i ? "," : "", (unsigned long long)c->cookie,
			       fmt_addr(addr, sizeof(addr), &c->key, 0), c->key.lport);
			printf("\"remote\":\"%s\",\"remote_port\":%u,\"state\":\"%s\",\"listener\":%llu,\"segs_in\":%llu,",
			       fmt_addr(addr, sizeof(addr), &c->key, 1), c->key.rport,
			       fmt_state(c->state),
			       (unsigned long long)c->listener, (unsigned long long)c->segs_in);
			printf("\"accepted\":%s,", c->flags & FAN_ACCEPTED ? "true" : "false");
			/* null: queued, or accepted before sockfan looked */
			json_thread("accepted_by", c->flags & FAN_ACCEPTED ? c->pid : 0, c->tid,
				    c->comm);
			printf(",");
			json_task("held_by", c->hold_pid, c->hold_comm);
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

/* "states":{"ESTAB":3,"CLOSE-WAIT":1}: every state a connection is in */
static void json_states(const struct fan_row *r)
{
	unsigned int s, k = 0;

	printf("\"states\":{");
	for (s = 0; s < FMT_TCP_STATES; s++)
		if (r->states[s])
			printf("%s\"%s\":%llu", k++ ? "," : "", fmt_state(s),
			       (unsigned long long)r->states[s]);
	printf("},");
}

/* per namespace: strays, and the kernel's listen-queue counters (nstat) */
static void json_netns(const struct fanout *f, const struct fan_filter *flt)
{
	size_t i, k = 0;

	printf("\"netns\":[");
	for (i = 0; i < f->nnetns; i++) {
		const struct fan_netns *n = &f->netns[i];

		if (!query_netns_shown(flt, n->netns))
			continue;
		printf("%s{\"netns\":%u,", k++ ? "," : "", n->netns);
		json_u64_or_null("strays", n->strays, f->counts & FAN_COUNTS_MISSES, ",");
		json_u64_or_null("listen_overflows", n->listen_overflows, n->listen_known, ",");
		json_u64_or_null("listen_drops", n->listen_drops, n->listen_known, ",");
		json_u64_or_null("defer_accept_drops", n->defer_accept_drops, n->listen_known, "}");
	}
	printf("],");
}

int ports_print_json(const struct fanout *f, const struct fan_filter *flt,
		     const struct ports_meta *m)
{
	__u16 port = flt ? flt->port : 0;
	struct fan_row *rows;
	size_t i, n, k = 0;

	if (query_rows(f, flt, &rows, &n))
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
	/* segments that found no socket and were not SYNs: no port's own */
	printf(",");
	json_u64_or_null("strays", query_strays(f, flt), f->counts & FAN_COUNTS_MISSES, ",");
	json_netns(f, flt);
	printf("\"ports\":[");
	for (i = 0; i < n; i++) {
		const struct fan_row *r = &rows[i];

		printf("%s{\"netns\":%u,\"port\":%u,\"listeners\":%u,\"connections\":%llu,\"established\":%llu,\"close_wait\":%llu,",
		       k++ ? "," : "", r->netns, r->port, r->listeners,
		       (unsigned long long)r->conns,
		       (unsigned long long)r->states[TCP_ESTABLISHED],
		       (unsigned long long)r->states[TCP_CLOSE_WAIT]);
		json_states(r);
		json_u64_or_null("accepted", r->accepted, f->counts & FAN_COUNTS_TOTALS, ",");
		json_u64_or_null("closed", r->closed, f->counts & FAN_COUNTS_TOTALS, ",");
		printf("\"peers\":%llu,", (unsigned long long)r->peers);
		json_u64_or_null("lifetime_avg_ns", r->lifetime_avg_ns, r->lifetimes, ",");
		json_u64_or_null("accept_wait_avg_ns", r->wait_avg_ns, r->waits, ",");
		json_u64_or_null("accept_wait_max_ns", r->wait_max_ns, r->waits, ",");
		json_u64_or_null("refused", r->refused, f->counts & FAN_COUNTS_MISSES, ",");
		json_task("owner", r->owner_pid, r->owner_comm);
		if (port)
			json_sockets(f, flt, r->netns, r->port);
		printf("}");
	}
	printf("]}\n");
	free(rows);
	return 0;
}
