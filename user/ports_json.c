// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan ports --json`: one JSON document, its rows and sockets drawn
 * by render_json.c.  With --port, the port's sockets are listed too.
 * The document is one line, so that --interval prints JSON lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ports_out.h"
#include "render.h"

/*
 * "hook_cost":{"handshakes":N,"empty_run_ns":N,"programs":[{"prog":
 * "state_btf","runs":N,"run_ns":N}]}: run_ns as the kernel counted it,
 * each run including what an empty program's counts, empty_run_ns (null:
 * not known).
 */
static void json_hook_cost(struct json_writer *w, const struct ports_meta *m)
{
	int i;

	jsonw_start_object_field(w, "hook_cost");
	jsonw_uint_field(w, "handshakes", m->handshakes);
	jsonw_count_field(w, "empty_run_ns", m->empty_run_ns, m->empty_run_ns);
	jsonw_start_array_field(w, "programs");
	for (i = 0; i < m->nhook_cost; i++) {
		jsonw_start_object(w);
		jsonw_string_field(w, "prog", m->hook_cost[i].prog);
		jsonw_uint_field(w, "runs", m->hook_cost[i].runs);
		jsonw_uint_field(w, "run_ns", m->hook_cost[i].run_ns);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_end_object(w);
}

/* per namespace: strays, and the kernel's listen-queue counters (nstat) */
static void json_netns(struct json_writer *w, const struct fanout *f,
		       const struct fan_filter *flt)
{
	size_t i;

	jsonw_start_array_field(w, "netns");
	for (i = 0; i < f->nnetns; i++) {
		const struct fan_netns *n = &f->netns[i];

		if (!query_netns_shown(flt, n->netns))
			continue;
		jsonw_start_object(w);
		jsonw_uint_field(w, "netns", n->netns);
		jsonw_count_field(w, "strays", n->strays, f->counts & FAN_COUNTS_MISSES);
		jsonw_count_field(w, "listen_overflows", n->listen_overflows, n->listen_known);
		jsonw_count_field(w, "listen_drops", n->listen_drops, n->listen_known);
		jsonw_count_field(w, "defer_accept_drops", n->defer_accept_drops,
				  n->listen_known);
		jsonw_count_field(w, "syncookies_sent", n->syncookies_sent, n->listen_known);
		jsonw_count_field(w, "syncookies_recv", n->syncookies_recv, n->listen_known);
		jsonw_count_field(w, "syncookies_failed", n->syncookies_failed, n->listen_known);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}

/* where the numbers come from */
static void json_meta(struct json_writer *w, const struct ports_meta *m)
{
	jsonw_string_field(w, "source", m->source);
	if (m->hooks) {
		jsonw_string_field(w, "hooks", m->hooks);
		jsonw_uint_field(w, "records", m->records);
		jsonw_uint_field(w, "lost", m->lost);
		jsonw_uint_field(w, "malformed", m->malformed);
		jsonw_uint_field(w, "reconciled", m->reconciled);
	}
	if (m->hook_cost)
		json_hook_cost(w, m);
	if (m->proc_dir)
		jsonw_string_field(w, "proc_dir", m->proc_dir);
}

int ports_print_json(const struct fanout *f, const struct fan_filter *flt,
		     const struct ports_meta *m)
{
	bool sockets = flt && flt->port;
	struct json_writer w;
	struct fan_row *rows;
	size_t i, n;
	int err = 0;

	if (query_rows(f, flt, &rows, &n))
		return -ENOMEM;
	jsonw_init(&w, stdout);
	jsonw_start_object(&w);
	json_meta(&w, m);
	/* segments that found no socket and were not SYNs: no port's own */
	jsonw_count_field(&w, "strays", query_strays(f, flt), f->counts & FAN_COUNTS_MISSES);
	json_netns(&w, f, flt);
	jsonw_start_array_field(&w, "ports");
	for (i = 0; i < n; i++)
		err = render_row_json(&w, f, flt, &rows[i], sockets) ?: err;
	jsonw_end_array(&w);
	jsonw_end_object(&w);
	jsonw_end_document(&w);
	free(rows);
	return err;
}
