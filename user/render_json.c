// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON printers of render.h.  Numbers are numbers, durations in
 * nanoseconds, a counter the source cannot count is null rather than 0,
 * and a task not known is null.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/tcp.h>

#include "render.h"

/* {"pid":P,"tid":T,"comm":C}, "tid" only when the thread is known; null: !@pid */
static void json_thread(struct json_writer *w, const char *name, __u32 pid, __u32 tid,
			const char *comm)
{
	if (!pid) {
		jsonw_null_field(w, name);
		return;
	}
	jsonw_start_object_field(w, name);
	jsonw_uint_field(w, "pid", pid);
	if (tid)
		jsonw_uint_field(w, "tid", tid);
	jsonw_name(w, "comm");
	jsonw_string_n(w, comm, SOCKFAN_COMM_LEN);
	jsonw_end_object(w);
}

/*
 * "cgroup":{"path":P,"runtime":R,"container":ID,"pod":UID}, runtime and
 * container null outside a container, pod null outside a pod; null: not known
 */
static void json_cgroup(struct json_writer *w, const char *name, const struct cgroup_info *cg)
{
	if (!cg) {
		jsonw_null_field(w, name);
		return;
	}
	jsonw_start_object_field(w, name);
	jsonw_string_field(w, "path", cg->path);
	if (cg->runtime) {
		jsonw_string_field(w, "runtime", cg->runtime);
		jsonw_string_field(w, "container", cg->container);
	} else {
		jsonw_null_field(w, "runtime");
		jsonw_null_field(w, "container");
	}
	if (cg->pod[0])
		jsonw_string_field(w, "pod", cg->pod);
	else
		jsonw_null_field(w, "pod");
	jsonw_end_object(w);
}

void render_tuple_json(struct json_writer *w, const struct sockfan_key *k)
{
	char addr[FMT_ADDR_LEN];

	jsonw_string_field(w, "local", fmt_addr(addr, sizeof(addr), k, 0));
	jsonw_uint_field(w, "local_port", k->lport);
	jsonw_string_field(w, "remote", fmt_addr(addr, sizeof(addr), k, 1));
	jsonw_uint_field(w, "remote_port", k->rport);
}

static void json_kstats(struct json_writer *w, const struct sockfan_port_stats *st);

void render_listener_json(struct json_writer *w, const struct fanout *f,
			  const struct fan_listener *l)
{
	char addr[FMT_ADDR_LEN];

	jsonw_start_object(w);
	jsonw_uint_field(w, "cookie", l->cookie);
	jsonw_string_field(w, "address", fmt_addr(addr, sizeof(addr), &l->key, 0));
	jsonw_uint_field(w, "port", l->key.lport);
	jsonw_uint_field(w, "backlog", l->backlog);
	jsonw_uint_field(w, "qlen", l->qlen);
	jsonw_uint_field(w, "sk_drops", l->drops);
	jsonw_count_field(w, "accepted", l->accepted, f->counts & FAN_COUNTS_TOTALS);
	jsonw_count_field(w, "overflows", l->overflows, f->counts & FAN_COUNTS_OVERFLOWS);
	jsonw_count_field(w, "hits", l->hits, f->counts & FAN_COUNTS_LISTENER_HITS);
	/* handed to this member of its port (reuseport group), since the capture began */
	jsonw_count_field(w, "handshakes", l->handshakes, f->counts & FAN_COUNTS_MEMBERS);
	jsonw_bool_field(w, "stalled", l->stalled);
	jsonw_count_field(w, "idle_ns", l->idle_ns, f->counts & FAN_COUNTS_TOTALS);
	json_thread(w, "owner", l->pid, 0, l->comm);
	json_cgroup(w, "cgroup", l->cgroup);
	if (l->kstats_known)
		json_kstats(w, &l->kstats);
	jsonw_end_object(w);
}

void render_conn_json(struct json_writer *w, const struct fan_conn *c)
{
	bool accepted = c->flags & FAN_ACCEPTED;

	jsonw_start_object(w);
	jsonw_uint_field(w, "cookie", c->cookie);
	render_tuple_json(w, &c->key);
	jsonw_string_field(w, "state", fmt_state(c->state));
	jsonw_uint_field(w, "listener", c->listener);
	jsonw_uint_field(w, "segs_in", c->segs_in);
	jsonw_bool_field(w, "accepted", accepted);
	/* null: queued, or accepted before sockfan looked */
	json_thread(w, "accepted_by", accepted ? c->pid : 0, c->tid, c->comm);
	json_thread(w, "held_by", c->hold_pid, 0, c->hold_comm);
	json_cgroup(w, "cgroup", c->cgroup);
	jsonw_end_object(w);
}

/* "states":{"ESTAB":3,"CLOSE-WAIT":1}: every state a connection is in */
static void json_states(struct json_writer *w, const struct fan_row *r)
{
	unsigned int s;

	jsonw_start_object_field(w, "states");
	for (s = 0; s < FMT_TCP_STATES; s++)
		if (r->states[s])
			jsonw_uint_field(w, fmt_state(s), r->states[s]);
	jsonw_end_object(w);
}

/* the port's listening sockets that @flt selects */
static void json_listeners(struct json_writer *w, const struct fanout *f,
			   const struct fan_filter *flt, const struct fan_row *r)
{
	size_t i;

	jsonw_start_array_field(w, "listening_sockets");
	for (i = 0; i < f->nlisteners; i++)
		if (query_listener_on(flt, &f->listeners[i], r->netns, r->port))
			render_listener_json(w, f, &f->listeners[i]);
	jsonw_end_array(w);
}

/* ... and its connection sockets */
static int json_conns(struct json_writer *w, const struct fanout *f,
		      const struct fan_filter *flt, const struct fan_row *r)
{
	const struct fan_conn **conns;
	size_t i, n;
	int err;

	jsonw_start_array_field(w, "connection_sockets");
	err = query_port_conns(f, flt, r->netns, r->port, &conns, &n);
	if (!err) {
		for (i = 0; i < n; i++)
			render_conn_json(w, conns[i]);
		free(conns);
	}
	jsonw_end_array(w);
	return err;
}

/*
 * "kernel":{"handshakes":N,...,"histograms":{"accept_wait":{"count":N,
 * "sum_ns":N,"buckets":[{"le_us":2,"count":N},...]}}}: what the BPF
 * programs aggregated for the port; buckets up to the last non-empty
 * one, each counting the times below le_us and at least half that (the
 * first from 0; the last, le_us null, everything longer)
 */
static void json_kstats(struct json_writer *w, const struct sockfan_port_stats *st)
{
	int h, i, last;
	__u64 n;

	jsonw_start_object_field(w, "kernel");
	jsonw_uint_field(w, "handshakes", st->handshakes);
	jsonw_uint_field(w, "accepted", st->accepted);
	jsonw_uint_field(w, "closed", st->closed);
	jsonw_uint_field(w, "overflows", st->overflows);
	jsonw_uint_field(w, "refused", st->refused);
	jsonw_uint_field(w, "listener_hits", st->listener_hits);
	jsonw_start_object_field(w, "histograms");
	for (h = 0; h < SOCKFAN_NR_HISTS; h++) {
		jsonw_start_object_field(w, fmt_hist(h));
		for (i = 0, n = 0, last = -1; i < SOCKFAN_HIST_SLOTS; i++) {
			n += st->slots[h][i];
			if (st->slots[h][i])
				last = i;
		}
		jsonw_uint_field(w, "count", n);
		jsonw_uint_field(w, "sum_ns", st->sum_ns[h]);
		jsonw_start_array_field(w, "buckets");
		for (i = 0; i <= last; i++) {
			jsonw_start_object(w);
			jsonw_count_field(w, "le_us", 1ULL << (i + 1), i < SOCKFAN_HIST_SLOTS - 1);
			jsonw_uint_field(w, "count", st->slots[h][i]);
			jsonw_end_object(w);
		}
		jsonw_end_array(w);
		jsonw_end_object(w);
	}
	jsonw_end_object(w);
	jsonw_end_object(w);
}

int render_row_json(struct json_writer *w, const struct fanout *f, const struct fan_filter *flt,
		    const struct fan_row *r, bool sockets)
{
	bool totals = f->counts & FAN_COUNTS_TOTALS;
	int err = 0;

	jsonw_start_object(w);
	jsonw_uint_field(w, "netns", r->netns);
	jsonw_uint_field(w, "port", r->port);
	jsonw_uint_field(w, "listeners", r->listeners);
	jsonw_uint_field(w, "connections", r->conns);
	jsonw_uint_field(w, "established", r->states[TCP_ESTABLISHED]);
	jsonw_uint_field(w, "close_wait", r->states[TCP_CLOSE_WAIT]);
	json_states(w, r);
	jsonw_count_field(w, "accepted", r->accepted, totals);
	jsonw_count_field(w, "closed", r->closed, totals);
	jsonw_uint_field(w, "peers", r->peers);
	jsonw_count_field(w, "lifetime_avg_ns", r->lifetime_avg_ns, r->lifetimes);
	jsonw_count_field(w, "accept_wait_avg_ns", r->wait_avg_ns, r->waits);
	jsonw_count_field(w, "accept_wait_max_ns", r->wait_max_ns, r->waits);
	jsonw_count_field(w, "refused", r->refused, f->counts & FAN_COUNTS_MISSES);
	/* per port where sk_lookup counts them; per listener, "hits" */
	jsonw_count_field(w, "lookup_hits", r->lookup_hits, f->counts & FAN_COUNTS_PORT_HITS);
	json_thread(w, "owner", r->owner_pid, 0, r->owner_comm);
	json_cgroup(w, "owner_cgroup", r->owner_cgroup);
	if (r->kstats_known)
		json_kstats(w, &r->kstats);
	/* "reuseport":{"members":4,"by":"handshakes","total":N,...}, or null */
	if (r->balance.members) {
		jsonw_start_object_field(w, "reuseport");
		jsonw_uint_field(w, "members", r->balance.members);
		jsonw_string_field(w, "by", r->balance.by_handshakes ? "handshakes" : "accepted");
		jsonw_uint_field(w, "total", r->balance.total);
		jsonw_uint_field(w, "max", r->balance.max);
		jsonw_uint_field(w, "min", r->balance.min);
		jsonw_name(w, "skew");
		if (r->balance.total)
			jsonw_ratio(w, r->balance.skew);
		else
			jsonw_null(w);
		jsonw_name(w, "cv");
		if (r->balance.total)
			jsonw_ratio(w, r->balance.cv);
		else
			jsonw_null(w);
		jsonw_uint_field(w, "stalled", r->balance.stalled);
		jsonw_end_object(w);
	} else {
		jsonw_name(w, "reuseport");
		jsonw_null(w);
	}
	/* a port's members and what each was handed, where the kernel counts it */
	if (sockets || (f->counts & FAN_COUNTS_MEMBERS))
		json_listeners(w, f, flt, r);
	if (sockets)
		err = json_conns(w, f, flt, r);
	jsonw_end_object(w);
	return err;
}

void render_event_json(struct json_writer *w, const struct sockfan_event *e, __u64 start_ns)
{
	jsonw_start_object(w);
	jsonw_uint_field(w, "ts_ns", e->ts_ns - start_ns);
	jsonw_string_field(w, "event", fmt_event(e));
	jsonw_uint_field(w, "netns", e->key.netns);
	jsonw_string_field(w, "family", e->key.family == AF_INET ? "inet" : "inet6");
	jsonw_uint_field(w, "cookie", e->cookie);
	render_tuple_json(w, &e->key);
	if (e->flags & SOCKFAN_F_TASK) {
		jsonw_uint_field(w, "pid", e->pid);
		jsonw_uint_field(w, "tid", e->tid);
		jsonw_name(w, "comm");
		jsonw_string_n(w, e->comm, SOCKFAN_COMM_LEN);
	}
	switch (e->kind) {
	case SOCKFAN_EV_LISTEN:
		jsonw_uint_field(w, "backlog", e->listen.backlog);
		break;
	case SOCKFAN_EV_ACCEPT:
		jsonw_uint_field(w, "listener", e->accept.listener);
		jsonw_uint_field(w, "qlen", e->accept.qlen);
		jsonw_uint_field(w, "wait_ns", e->accept.wait_ns);
		break;
	case SOCKFAN_EV_CLOSE:
		jsonw_uint_field(w, "lifetime_ns", e->close.lifetime_ns);
		break;
	}
	jsonw_end_object(w);
}
