/* SPDX-License-Identifier: GPL-2.0 */
/*
 * serve's /records: a connection's records (`sockfan trace --json`'s
 * lines), streamed to an HTTP client for as long as it asks.  The BPF
 * programs write them only while a stream is open: switched on at run
 * time for the first, off after the last, without reloading; the
 * aggregates go on exact through both switches.
 */
#ifndef SOCKFAN_SERVE_RECORDS_H
#define SOCKFAN_SERVE_RECORDS_H

#include <microhttpd.h>
#include <stdbool.h>

#include "view.h"

/* at most this many streams at once */
#define RECORDS_MAX_STREAMS	8
/* a stream lasts ?seconds=, default and limit */
#define RECORDS_DEFAULT_SECONDS	10
#define RECORDS_MAX_SECONDS	3600

struct records_hub;

/* the streams of @v's records (a BPF source); NULL: out of memory */
struct records_hub *records_hub_new(struct view *v);

/* the streams still open end with the hub: call after MHD_stop_daemon() */
void records_hub_free(struct records_hub *h);

/*
 * GET /records[?port=P][&netns=N][&seconds=S] on @c: 0, the stream
 * queued, or the HTTP status to answer with, *@why saying why (400 for a
 * bad argument, 501 without the BPF source, 503 with RECORDS_MAX_STREAMS
 * open, 500 if records could not be switched on)
 */
unsigned int records_request(struct records_hub *h, struct MHD_Connection *c, const char **why);

/* streams open now */
unsigned int records_streams(const struct records_hub *h);

/* some stream has records not sent yet */
bool records_pending(const struct records_hub *h);

#endif /* SOCKFAN_SERVE_RECORDS_H */
