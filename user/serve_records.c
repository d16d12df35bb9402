// SPDX-License-Identifier: GPL-2.0
/*
 * serve's /records streams.  serve reads the ring buffer in its one
 * thread; the view's tap hands each record to every open stream, which
 * renders the ones its filter selects into its own buffer, and
 * libmicrohttpd sends that buffer as the socket takes it (chunked, one
 * JSON document a line).  A client slower than the records loses the
 * ones beyond RECORDS_BUFFER, counted; serve never waits for a client.
 * The last line says what the stream saw:
 *   {"end":{"seconds":S,"records":N,"dropped":D,"lost":L}}
 * (dropped: beyond the buffer; lost: what the ring had no room for,
 * for every stream, meanwhile).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "filter.h"
#include "loop.h"
#include "render.h"
#include "serve_records.h"
#include "source_bpf.h"

/* what a stream may hold unsent: some 20 000 records */
#define RECORDS_BUFFER	(4U << 20)
/* what libmicrohttpd takes of a stream at a time */
#define RECORDS_BLOCK	(64U << 10)

struct records_stream {
	struct records_hub *hub;
	struct records_stream *next;
	struct fan_filter filter;	/* port and netns */
	unsigned long seconds;
	__u64 start_ns, end_ns;
	/* one record rendered (open_memstream()), then moved to data */
	FILE *out;
	char *line;
	size_t line_len;
	/* rendered, not yet sent: [head, tail) of data's cap bytes */
	char *data;
	size_t head, tail, cap;
	struct json_writer w;
	__u64 records, dropped, lost0;
	bool ended;			/* the end line is written */
};

struct records_hub {
	struct view *v;
	struct records_stream *streams;
	unsigned int n;
};

/*
 * What @st's writer rendered, moved to its unsent bytes; false, dropped,
 * when that would pass RECORDS_BUFFER.  Sent bytes make room first.
 */
static bool stream_take(struct records_stream *st)
{
	size_t n, need;
	char *p;

	if (fflush(st->out))
		return false;
	n = st->line_len;
	rewind(st->out);
	if (st->tail - st->head + n > RECORDS_BUFFER)
		return false;
	if (st->tail + n > st->cap) {
		memmove(st->data, st->data + st->head, st->tail - st->head);
		st->tail -= st->head;
		st->head = 0;
	}
	if (st->tail + n > st->cap) {
		need = st->tail + n > 2 * st->cap ? st->tail + n : 2 * st->cap;
		p = realloc(st->data, need);
		if (!p)
			return false;
		st->data = p;
		st->cap = need;
	}
	memcpy(st->data + st->tail, st->line, n);
	st->tail += n;
	return true;
}

static void records_tap(const struct sockfan_event *e, void *arg)
{
	struct records_hub *h = arg;
	struct records_stream *st;

	for (st = h->streams; st; st = st->next) {
		/* queued before the stream began (another's records) */
		if (st->ended || e->ts_ns < st->start_ns || !filter_event(&st->filter, e))
			continue;
		render_event_json(&st->w, e, st->start_ns);
		jsonw_end_document(&st->w);
		if (stream_take(st))
			st->records++;
		else
			st->dropped++;
	}
}

struct records_hub *records_hub_new(struct view *v)
{
	struct records_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->v = v;
	v->tap = records_tap;
	v->tap_arg = h;
	return h;
}

static void stream_free(struct records_stream *st)
{
	if (st->out)
		fclose(st->out);
	free(st->line);
	free(st->data);
	free(st);
}

void records_hub_free(struct records_hub *h)
{
	struct records_stream *st;

	if (!h)
		return;
	while ((st = h->streams)) {
		h->streams = st->next;
		stream_free(st);
	}
	h->v->tap = NULL;
	free(h);
}

unsigned int records_streams(const struct records_hub *h)
{
	return h->n;
}

bool records_pending(const struct records_hub *h)
{
	const struct records_stream *st;

	for (st = h->streams; st; st = st->next)
		if (st->tail > st->head)
			return true;
	return false;
}

/* the end line; false if it found no room */
static bool stream_end(struct records_stream *st)
{
	struct bpf_source *src = st->hub->v->src;

	jsonw_start_object(&st->w);
	jsonw_name(&st->w, "end");
	jsonw_start_object(&st->w);
	jsonw_uint_field(&st->w, "seconds", st->seconds);
	jsonw_uint_field(&st->w, "records", st->records);
	jsonw_uint_field(&st->w, "dropped", st->dropped);
	jsonw_uint_field(&st->w, "lost", bpf_source_lost(src) - st->lost0);
	jsonw_end_object(&st->w);
	jsonw_end_object(&st->w);
	jsonw_end_document(&st->w);
	st->ended = true;
	return stream_take(st);
}

/*
 * libmicrohttpd asks for the next bytes: what waits unsent, else 0 (it
 * asks again at serve's next turn, within 100 ms while a stream is
 * open), and the end once the time is up and all is sent
 */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct records_stream *st = cls;
	size_t n;

	(void)pos;
	if (st->head == st->tail) {
		if (st->ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (mono_ns() < st->end_ns)
			return 0;
		if (!stream_end(st))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = st->tail - st->head;
	if (n > max)
		n = max;
	memcpy(buf, st->data + st->head, n);
	st->head += n;
	if (st->head == st->tail)
		st->head = st->tail = 0;
	return n;
}

/* the response is done with (sent, or the client went): the stream goes */
static void stream_done(void *cls)
{
	struct records_stream *st = cls, **pp;
	struct records_hub *h = st->hub;

	for (pp = &h->streams; *pp; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			h->n--;
			break;
		}
	}
	stream_free(st);
	/* the last one: the programs write no record per connection again */
	if (!h->n && h->v->src)
		bpf_source_records_off(h->v->src);
}

/* query argument @name of @c into @val, within [@min, @max]; absent: true, unchanged */
static bool arg_uint(struct MHD_Connection *c, const char *name, unsigned long min,
		     unsigned long max, unsigned long *val)
{
	const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	return !s || parse_uint(s, min, max, val);
}

unsigned int records_request(struct records_hub *h, struct MHD_Connection *c, const char **why)
{
	unsigned long port = 0, netns = 0, seconds = RECORDS_DEFAULT_SECONDS;
	struct records_stream *st;
	struct MHD_Response *r;
	unsigned int status;

	if (!h->v->src) {
		*why = "/records needs the BPF source: the module's files have no records (serve --source bpf)\n";
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	if (!arg_uint(c, "port", 1, 65535, &port) ||
	    !arg_uint(c, "netns", 1, UINT32_MAX, &netns) ||
	    !arg_uint(c, "seconds", 1, RECORDS_MAX_SECONDS, &seconds)) {
		*why = "/records takes port=1-65535, netns=INODE and seconds=1-3600\n";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (netns && h->v->o->filter.netns && netns != h->v->o->filter.netns) {
		*why = "this serve watches one namespace (--netns): ask for that one, or none\n";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (h->n >= RECORDS_MAX_STREAMS) {
		*why = "too many /records streams open: try again when one ends\n";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	st = calloc(1, sizeof(*st));
	if (st)
		st->out = open_memstream(&st->line, &st->line_len);
	if (!st || !st->out) {
		if (st)
			free(st);
		*why = "out of memory\n";
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	st->hub = h;
	st->filter.port = port;
	st->filter.netns = netns;
	st->seconds = seconds;
	jsonw_init(&st->w, st->out);
	/* before records are on: no record of the stream is older */
	st->start_ns = mono_ns();
	st->end_ns = st->start_ns + seconds * 1000000000ULL;
	st->lost0 = bpf_source_lost(h->v->src);
	/*
	 * On with the first stream; for each, the connections open now in
	 * its namespace followed, so that their close shows in it
	 */
	if (bpf_source_records_on(h->v->src, netns ?: h->v->o->filter.netns)) {
		stream_free(st);
		*why = "records could not be switched on: see serve's log\n";
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	st->next = h->streams;
	h->streams = st;
	h->n++;
	/* from here stream_done() frees the stream, whatever happens */
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, RECORDS_BLOCK, stream_read, st,
					      stream_done);
	if (!r) {
		stream_done(st);
		*why = "out of memory\n";
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	MHD_add_response_header(r, "X-Sockfan-Hooks", bpf_source_hooks(h->v->src));
	/* quiet ports send nothing for a while: no idle timeout before the end */
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
				  (unsigned int)seconds + 30);
	status = MHD_queue_response(c, MHD_HTTP_OK, r) == MHD_YES ? 0 : MHD_HTTP_INTERNAL_SERVER_ERROR;
	MHD_destroy_response(r);
	if (status)
		*why = "the response could not be queued\n";
	return status;
}
