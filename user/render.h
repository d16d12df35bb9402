/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One printer pair per object the views show: a listening socket, a
 * connection socket, a port's row and a captured event, each as a line
 * of text (render_text.c) and as a JSON object (render_json.c), as
 * bpftool's print_X_plain()/print_X_json().  `ports` and `trace` print
 * their objects through these, so a field has one name and one form
 * wherever it appears; `explain` draws a picture (a tree, or DOT) of the
 * same objects instead.
 */
#ifndef SOCKFAN_RENDER_H
#define SOCKFAN_RENDER_H

#include "json_writer.h"
#include "query.h"

/* text: one line each, after its header line */
void render_listener_text(const struct fanout *f, const struct fan_listener *l);
void render_conn_text(const struct fan_conn *c);
void render_row_text_header(void);
void render_row_text(const struct fanout *f, const struct fan_row *r);
/*
 * The kernel's histograms of the row's port (r->kstats_known), as
 * libbpf-tools print theirs: log2 buckets of microseconds with bars
 */
/*
 * "@lead port 8080 reuseport group: 4 members, handshakes 2496 2511 2480
 * 2513 (skew 1.01 ...; cv 0.005), 1 stalled": how the port's group shares
 * its load, if it has one (ports, explain)
 */
void render_row_balance_text(const char *lead, const struct fanout *f,
			     const struct fan_filter *flt, const struct fan_row *r);
void render_row_hist_text(const struct fan_row *r);
void render_event_text_header(void);
/* @start_ns: the time shown as 0 */
void render_event_text(const struct sockfan_event *e, __u64 start_ns);

/* JSON: one object each */
/* "local":A,"local_port":P,"remote":A,"remote_port":P of @k */
void render_tuple_json(struct json_writer *w, const struct sockfan_key *k);
void render_listener_json(struct json_writer *w, const struct fanout *f,
			  const struct fan_listener *l);
void render_conn_json(struct json_writer *w, const struct fan_conn *c);
/*
 * The row's object; with @sockets, the port's listening and connection
 * sockets that @flt selects too.  0 or -ENOMEM (the object is complete
 * either way: without the connections).
 */
int render_row_json(struct json_writer *w, const struct fanout *f, const struct fan_filter *flt,
		    const struct fan_row *r, bool sockets);
void render_event_json(struct json_writer *w, const struct sockfan_event *e, __u64 start_ns);

#endif /* SOCKFAN_RENDER_H */
