// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan serve`: the fan-out as Prometheus metrics, kept current for
 * as long as it runs.  One view (the BPF programs attached, or the
 * module's files read at each scrape) and an HTTP endpoint served by
 * libmicrohttpd in the same thread: a scrape reads a model no record is
 * changing, while the records that arrive meanwhile wait in the ring
 * buffer (32768 of them) and are applied right after.
 *   /metrics  the Prometheus text exposition format (0.0.4), or
 *             OpenMetrics 1.0.0 for a scraper that asks for it (Accept)
 *   /healthz  "ok"
 *   /records  a connection's records as they come, for a while
 *             (serve_records.c): the programs write them only then
 * SIGTERM or SIGINT stops it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "loop.h"
#include "serve_records.h"
#include "source_bpf.h"
#include "view.h"

#define SERVE_DEFAULT_LISTEN	"127.0.0.1:9477"
#define SERVE_DEFAULT_SERIES	500

struct serve {
	struct view_opts o;
	const char *listen;
	unsigned long max_series;
	struct sockaddr_storage addr;
	struct view v;
	__u64 scrapes;
	/*
	 * --snapshot-age: the sockets may be this old at a scrape (0: each
	 * scrape walks them); walked between scrapes at half of it
	 */
	unsigned long snapshot_age_ms;
	__u64 walked_ns;		/* when they were last walked */
	struct records_hub *records;	/* /records streams (bpf) */
};

static void serve_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s serve [OPTIONS]\n\n"
		"Serve the per-port fan-out as Prometheus metrics until stopped (SIGTERM):\n"
		"/metrics (text exposition format 0.0.4) and /healthz.  Counters run since\n"
		"serve started (bpf) or since the module was loaded (proc).\n"
		"/records?port=P&netns=N&seconds=S streams a connection's records (trace\n"
		"--json's lines) for S seconds (default %d): the BPF programs write them\n"
		"only while such a stream is open.\n\n"
		"  -l, --listen ADDR:PORT  where to serve; default %s (loopback:\n"
		"                          give 0.0.0.0:9477 or [::]:9477 for a scraper\n"
		"                          on another host)\n"
		"      --max-series N      series for at most N ports, the busiest (most\n"
		"                          connections); the rest summed as port=\"other\"\n"
		"                          (sockfan_folded_ports says how many); default %d,\n"
		"                          0: every port\n"
		"      --accept-waits      where fexit is refused, follow accept() through the\n"
		"                          syscall-exit tracepoints all the same, for the\n"
		"                          accept-wait histogram: every syscall of every task\n"
		"                          then takes the kernel's slow path (without it,\n"
		"                          accepted = handshakes less the connections queued)\n"
		"      --snapshot-age SEC  answer a scrape with sockets (listeners, queues,\n"
		"                          connections by state, peers) seen at most SEC\n"
		"                          seconds ago, walked between scrapes; counters\n"
		"                          and histograms are read at the scrape all the\n"
		"                          same.  For many connections: a walk of a million\n"
		"                          takes about a second.  Default 0: each scrape walks\n"
		"      --hook-cost         also what the BPF programs cost, as the kernel\n"
		"                          counts it (sockfan_bpf_prog_run_seconds): the\n"
		"                          count itself adds two clock reads to every run\n",
		prog_name, RECORDS_DEFAULT_SECONDS, SERVE_DEFAULT_LISTEN, SERVE_DEFAULT_SERIES);
	view_usage_untimed(out);
}

/* "1.2.3.4:9477" or "[::1]:9477" into @ss; false if it is neither */
static bool parse_listen(const char *arg, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(arg, ':');
	unsigned long port;
	size_t len;

	memset(ss, 0, sizeof(*ss));
	if (!colon || !parse_uint(colon + 1, 1, 65535, &port))
		return false;
	len = colon - arg;
	if (len >= sizeof(host))
		return false;
	memcpy(host, arg, len);
	host[len] = '\0';
	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

static int serve_opt(int c, const char *arg, void *ctx)
{
	struct serve *s = ctx;

	if (c == 'm') {
		if (parse_uint(arg, 0, 1000000, &s->max_series))
			return 0;
		fprintf(stderr, "%s serve: --max-series wants a number of ports 0-1000000, not '%s'\n",
			prog_name, arg);
		return -1;
	}
	if (c == 'C') {
		s->o.hook_cost = true;
		return 0;
	}
	if (c == 'W') {
		if (parse_uint(arg, 0, 3600, &s->snapshot_age_ms)) {
			s->snapshot_age_ms *= 1000;
			return 0;
		}
		fprintf(stderr, "%s serve: --snapshot-age wants seconds 0-3600, not '%s'\n",
			prog_name, arg);
		return -1;
	}
	if (c == 'A') {
		s->o.accept_waits = true;
		return 0;
	}
	if (c != 'l')
		return 1;
	if (!parse_listen(arg, &s->addr)) {
		fprintf(stderr, "%s serve: --listen wants ADDR:PORT (127.0.0.1:9477, [::1]:9477), not '%s'\n",
			prog_name, arg);
		return -1;
	}
	s->listen = arg;
	return 0;
}

static int parse_opts(int argc, char **argv, struct serve *s)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "max-series", required_argument, NULL, 'm' },
		{ "hook-cost", no_argument, NULL, 'C' },
		{ "accept-waits", no_argument, NULL, 'A' },
		{ "snapshot-age", required_argument, NULL, 'W' },
		{ 0 },
	};
	static const struct view_cmd cmd = {
		.name = "serve", .set = VIEW_OPTSET_ALL, .shortopts = "l:", .longopts = opts,
		.opt = serve_opt, .usage = serve_usage,
	};

	if (view_parse(argc, argv, &cmd, &s->o, s) < 0)
		return -1;
	if (s->o.interval_ms || s->o.count || s->o.duration) {
		fprintf(stderr, "%s serve: each scrape is a look: --interval, --count and --duration do not apply\n",
			prog_name);
		return -1;
	}
	if ((s->o.hook_cost || s->o.accept_waits || s->snapshot_age_ms) &&
	    s->o.source == VIEW_PROC) {
		fprintf(stderr, "%s serve: --hook-cost, --accept-waits and --snapshot-age are about the BPF programs: not with --source proc\n",
			prog_name);
		return -1;
	}
	if (s->o.hook_cost || s->o.accept_waits || s->snapshot_age_ms)
		s->o.source = VIEW_BPF;
	if (s->o.source == VIEW_DIAG) {
		fprintf(stderr, "%s serve: a sock_diag snapshot counts nothing over time: --source bpf or proc\n",
			prog_name);
		return -1;
	}
	/* follows events: auto means the module's files, else the BPF programs */
	s->o.interval_ms = 1000;
	/*
	 * Always on, so cheap: the programs keep counters and histograms
	 * and write no record per connection; a scrape adds what sock_diag
	 * shows of the sockets that exist then
	 */
	s->o.aggregate = true;
	if (!s->listen)
		parse_listen(SERVE_DEFAULT_LISTEN, &s->addr);
	return view_opts_check("serve", &s->o);
}

/* the exposition in @fmt, into a buffer the response then owns */
static int metrics(struct serve *s, enum prom_format fmt, char **buf, size_t *len)
{
	FILE *out;
	int err;

	/* a failed one is logged and answered 500; the next may succeed */
	if (s->snapshot_age_ms && mono_ns() - s->walked_ns < s->snapshot_age_ms * 1000000ULL) {
		err = view_refresh_counts(&s->v);
	} else {
		err = view_refresh(&s->v);
		s->walked_ns = err ? 0 : mono_ns();
	}
	if (err)
		return err;
	out = open_memstream(buf, len);
	if (!out)
		return -ENOMEM;
	prom_family(out, fmt, "sockfan_build_info", "gauge",
		    "sockfan's version and event ABI.");
	fprintf(out, "sockfan_build_info{version=\"%s\",abi=\"%d\"} 1\n", SOCKFAN_VERSION,
		SOCKFAN_ABI_VERSION);
	prom_family(out, fmt, "sockfan_scrapes_total", "counter",
		    "Scrapes answered since serve started.");
	s->scrapes++;
	fprintf(out, "sockfan_scrapes_total %llu\n", (unsigned long long)s->scrapes);
	if (s->v.src) {
		/* listeners' records; a connection's only while /records streams */
		prom_family(out, fmt, "sockfan_records_total", "counter",
			    "Records read from the BPF ring buffer.");
		fprintf(out, "sockfan_records_total %llu\n",
			(unsigned long long)bpf_source_records(s->v.src));
		prom_family(out, fmt, "sockfan_lost_records_total", "counter",
			    "Records the BPF ring buffer had no room for.");
		fprintf(out, "sockfan_lost_records_total %llu\n",
			(unsigned long long)s->v.meta.lost);
		prom_family(out, fmt, "sockfan_lost_counts_total", "counter",
			    "Counts the BPF programs' port table had no room for.");
		fprintf(out, "sockfan_lost_counts_total %llu\n",
			(unsigned long long)s->v.meta.counts_lost);
		prom_family(out, fmt, "sockfan_lost_lifetimes_total", "counter",
			    "Lifetimes lost: the BPF programs' slot of a live connection was taken by a newer one.");
		fprintf(out, "sockfan_lost_lifetimes_total %llu\n",
			(unsigned long long)s->v.meta.times_lost);
		prom_family(out, fmt, "sockfan_records_streams", "gauge",
			    "/records streams open now: while there is one, the BPF programs write a record per connection.");
		fprintf(out, "sockfan_records_streams %u\n", records_streams(s->records));
	}
	s->v.meta.max_series = s->max_series;
	s->v.meta.format = fmt;
	err = ports_print_prom(out, &s->v.f, &s->o.filter, &s->v.meta);
	if (fmt == PROM_OPENMETRICS)
		fprintf(out, "# EOF\n");
	if (fclose(out) || err) {
		free(*buf);
		return err ?: -ENOMEM;
	}
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * What the scraper's Accept header prefers: OpenMetrics if it names
 * application/openmetrics-text with a weight no lower than the text
 * format's or any type's (Prometheus asks for OpenMetrics first, then
 * "text/plain;version=0.0.4;q=0.5", then any type with q=0.1); the
 * text format otherwise, and without the header
 */
static enum prom_format negotiate(const char *accept)
{
	double om = -1, text = -1, q;
	const char *p = accept, *end, *qp;
	size_t n;

	while (p && *p) {
		p += strspn(p, " \t");
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		qp = memmem(p, n, ";q=", 3);
		q = qp ? strtod(qp + 3, NULL) : 1.0;
		if (n >= 28 && !strncasecmp(p, "application/openmetrics-text", 28) && q > om)
			om = q;
		else if (((n >= 10 && !strncasecmp(p, "text/plain", 10)) ||
			  (n >= 3 && !strncmp(p, "*/*", 3))) && q > text)
			text = q;
		p = end ? end + 1 : NULL;
	}
	return om > 0 && om >= text ? PROM_OPENMETRICS : PROM_TEXT;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_len, void **state)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct serve *s = cls;
	enum prom_format fmt;
	unsigned int status;
	const char *why;
	size_t len;
	char *buf;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET only\n", 9,
			     MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/healthz"))
		return reply(c, MHD_HTTP_OK, text, "ok\n", 3, MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/records")) {
		/* HEAD would switch records on for nothing */
		if (strcmp(method, MHD_HTTP_METHOD_GET))
			return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "/records: GET only\n",
				     18, MHD_RESPMEM_PERSISTENT);
		status = records_request(s->records, c, &why);
		return status ? reply(c, status, text, (char *)why, strlen(why),
				      MHD_RESPMEM_PERSISTENT) : MHD_YES;
	}
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, text,
			     "not found: /metrics, /healthz or /records\n", 42,
			     MHD_RESPMEM_PERSISTENT);
	fmt = negotiate(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	if (metrics(s, fmt, &buf, &len))
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text,
			     "sockfan could not read its source: see its log\n", 48,
			     MHD_RESPMEM_PERSISTENT);
	return reply(c, MHD_HTTP_OK, fmt == PROM_OPENMETRICS ?
		     "application/openmetrics-text; version=1.0.0; charset=utf-8" :
		     "text/plain; version=0.0.4; charset=utf-8", buf, len, MHD_RESPMEM_MUST_FREE);
}

static struct MHD_Daemon *http_start(struct serve *s)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *d;

	if (s->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&s->addr,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10U,
			     MHD_OPTION_CONNECTION_LIMIT, 64U,
			     MHD_OPTION_END);
	if (!d)
		fprintf(stderr, "%s serve: cannot serve on %s (address in use or not local?): give another with --listen\n",
			prog_name, s->listen ? s->listen : SERVE_DEFAULT_LISTEN);
	return d;
}

int cmd_serve(int argc, char **argv)
{
	struct serve s = { .max_series = SERVE_DEFAULT_SERIES };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	int err;

	view_opts_init(&s.o);
	if (parse_opts(argc, argv, &s)) {
		serve_usage(stderr);
		return EXIT_USAGE;
	}
	stop_on_signals();
	err = view_open(&s.v, &s.o);
	s.walked_ns = mono_ns();
	if (!err) {
		s.records = records_hub_new(&s.v);
		if (!s.records) {
			fprintf(stderr, "%s serve: out of memory\n", prog_name);
			err = -ENOMEM;
		}
	}
	d = err ? NULL : http_start(&s);
	info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (d && !info) {
		fprintf(stderr, "%s serve: libmicrohttpd gave no epoll descriptor\n", prog_name);
		err = -EINVAL;
	}
	if (d && info) {
		fprintf(stderr, "# serving http://%s/metrics\n",
			s.listen ? s.listen : SERVE_DEFAULT_LISTEN);
		/*
		 * Records between requests; a request as soon as it comes;
		 * while a /records stream is open, a turn at least every
		 * 100 ms, which hands it what came, and every 10 ms while
		 * one has more to send (libmicrohttpd takes a block a turn)
		 */
		while (!err && !stop_requested()) {
			err = view_wait(&s.v, records_pending(s.records) ? 10 :
					records_streams(s.records) ? 100 : 1000, info->epoll_fd);
			if (err >= 0)
				err = MHD_run(d) == MHD_YES ? 0 : -EIO;
			/*
			 * Between scrapes, so that a scrape rarely walks.  A
			 * failed walk is said (view_refresh()); the next
			 * scrape walks again, and answers 500 if it fails too.
			 */
			if (!err && s.snapshot_age_ms &&
			    mono_ns() - s.walked_ns >= s.snapshot_age_ms * 500000ULL)
				s.walked_ns = view_refresh(&s.v) ? 0 : mono_ns();
		}
	}
	if (d)
		MHD_stop_daemon(d);
	records_hub_free(s.records);
	view_close(&s.v);
	return err || !d ? 1 : 0;
}
