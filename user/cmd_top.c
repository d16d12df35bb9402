// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan top`: the per-port fan-out, redrawn every --interval and
 * sorted by fan-out (connection sockets per port), with rates between
 * looks.  On a terminal it redraws in place with plain ANSI clears and
 * reads single keys (q quits); otherwise, or with --batch, it prints one
 * frame after another, like top -b.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "query.h"
#include "cli.h"
#include "loop.h"
#include "view.h"

struct top_state {
	/*
	 * The last look's counters of every port, not only of its rows: a
	 * row that appears (a burst of refused SYNs makes one) has its rate
	 * in the frame it appears in, from what its port had before (0 for
	 * a port that did not exist).
	 */
	struct fan_port *prev;
	size_t nprev;
	__u64 prev_ns;			/* 0: no look yet */
	bool batch;
	bool keys;			/* single keys are read (q quits) */
	unsigned int lines, cols;	/* terminal size, 0: no limit */
};

static void top_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s top [OPTIONS]\n\n"
		"Ports sorted by fan-out (connection sockets sharing the port), redrawn\n"
		"every --interval (default 1 s).  Keys: q quits, space redraws now.\n\n"
		"  -b, --batch         print frames one after another (default when stdout\n"
		"                      is not a terminal)\n",
		prog_name);
	view_usage(out);
}

static int top_opt(int c, const char *arg, void *ctx)
{
	struct top_state *t = ctx;

	if (c != 'b')
		return 1;
	t->batch = true;
	return 0;
}

static int parse_opts(int argc, char **argv, struct view_opts *o, struct top_state *t)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'b' },
		{ 0 },
	};
	static const struct view_cmd cmd = {
		.name = "top", .set = VIEW_OPTSET_ALL, .shortopts = "b", .longopts = opts,
		.opt = top_opt, .usage = top_usage,
	};

	if (view_parse(argc, argv, &cmd, o, t) < 0)
		return -1;
	if (!o->interval_ms)
		o->interval_ms = 1000;
	return view_opts_check("top", o);
}

/* one line of a frame, cut to the terminal's width so nothing wraps */
static void __printf(2, 3) emit(const struct top_state *t, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (t->cols && strlen(line) > t->cols)
		line[t->cols] = '\0';
	printf("%s\n", line);
}

static void term_size(struct top_state *t)
{
	struct winsize ws;

	if (t->batch || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_row)
		return;
	t->lines = ws.ws_row;
	t->cols = ws.ws_col;
}

static const struct fan_port *prev_port(const struct top_state *t, const struct fan_row *r)
{
	static const struct fan_port none;
	size_t i;

	for (i = 0; i < t->nprev; i++)
		if (t->prev[i].netns == r->netns && t->prev[i].port == r->port)
			return &t->prev[i];
	return &none;
}

/* keep this look's port counters for the next look's rates */
static int keep_counters(struct top_state *t, const struct fanout *f, __u64 now)
{
	struct fan_port *p = NULL;

	if (f->nports) {
		p = malloc(f->nports * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(p, f->ports, f->nports * sizeof(*p));
	}
	free(t->prev);
	t->prev = p;
	t->nprev = f->nports;
	t->prev_ns = now;
	return 0;
}

/* per second since the last look; "-" on the first one */
static const char *fmt_rate(char *buf, size_t len, __u64 now, __u64 before, double secs)
{
	if (secs <= 0 || now < before)
		return "-";
	snprintf(buf, len, "%.1f", (now - before) / secs);
	return buf;
}

static int draw(const struct view *v, struct top_state *t)
{
	char acc[16], cls[16], refused[16], wait[16], owner[48], clock[16], src[600];
	const struct fanout *f = &v->f;
	__u64 now = mono_ns(), estab = 0;
	double secs = t->prev_ns ? (now - t->prev_ns) / 1e9 : 0;
	unsigned int listeners = 0, shown = 0;
	struct fan_row *rows;
	time_t wall = time(NULL);
	size_t i, n;

	if (query_rows(f, &v->o->filter, &rows, &n))
		return -ENOMEM;
	qsort(rows, n, sizeof(*rows), query_row_by_busy);
	for (i = 0; i < n; i++) {
		listeners += rows[i].listeners;
		estab += rows[i].conns;
	}
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&wall));
	term_size(t);
	if (!t->batch)
		printf("\033[H\033[2J");
	if (v->meta.hooks)
		snprintf(src, sizeof(src), "bpf (%llu records, %llu lost, %llu reconciled)",
			 (unsigned long long)v->meta.records, (unsigned long long)v->meta.lost,
			 (unsigned long long)v->meta.reconciled);
	else
		snprintf(src, sizeof(src), "proc (%s)", v->meta.proc_dir);
	emit(t, "sockfan top - %s, every %.1fs, source %s", clock,
	     v->o->interval_ms / 1000.0, src);
	emit(t, "ports %zu, listening sockets %u, connection sockets %llu%s", n, listeners,
	     (unsigned long long)estab, t->keys ? "    (q quits)" : "");
	emit(t, "%s", "");
	emit(t, "%-10s %5s %6s %6s %10s %5s %8s %7s %5s %7s %9s %8s  %s", "NETNS", "PORT",
	     "LISTEN", "ESTAB", "CLOSE-WAIT", "PEERS", "ACCEPT/s", "CLOSE/s", "QLEN", "SKDROPS", "REFUSED/s",
	     "WAIT_AVG", "OWNER");
	for (i = 0; i < n; i++) {
		const struct fan_row *r = &rows[i];
		const struct fan_port *p = prev_port(t, r);

		if (t->lines && shown + 5 >= t->lines)
			break;
		emit(t, "%-10u %5u %6u %6llu %10llu %5llu %8s %7s %5llu %7llu %9s %8s  %s",
		     r->netns, r->port, r->listeners,
		     (unsigned long long)r->states[TCP_ESTABLISHED],
		     (unsigned long long)r->states[TCP_CLOSE_WAIT],
		     (unsigned long long)r->peers,
		     fmt_rate(acc, sizeof(acc), r->accepted, p->accepted, secs),
		     fmt_rate(cls, sizeof(cls), r->closed, p->closed, secs),
		     (unsigned long long)r->qlen, (unsigned long long)r->drops,
		     f->counts & FAN_COUNTS_MISSES ?
		     fmt_rate(refused, sizeof(refused), r->refused, p->refused, secs) : "-",
		     fmt_duration(wait, sizeof(wait), r->wait_avg_ns),
		     fmt_task(owner, sizeof(owner), r->owner_pid, r->owner_comm));
		shown++;
	}
	if (t->batch)
		printf("\n");
	fflush(stdout);
	free(rows);
	return keep_counters(t, f, now);
}

/* single keys without Enter or echo, restored on the way out */
static struct termios saved_tty, raw_tty;
static bool tty_raw;

static void tty_leave(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_raw = false;
}

/* Ctrl-Z: give the shell its terminal back; fg: take single keys again */
static void on_tstp(int sig)
{
	tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	signal(SIGTSTP, SIG_DFL);
	raise(SIGTSTP);
}

static void on_cont(int sig)
{
	signal(SIGTSTP, on_tstp);
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &raw_tty);
}

static void tty_enter(void)
{
	if (tcgetattr(STDIN_FILENO, &saved_tty))
		return;
	raw_tty = saved_tty;
	raw_tty.c_lflag &= ~(ICANON | ECHO);
	raw_tty.c_cc[VMIN] = 0;
	raw_tty.c_cc[VTIME] = 0;
	tty_raw = !tcsetattr(STDIN_FILENO, TCSANOW, &raw_tty);
	if (!tty_raw)
		return;
	atexit(tty_leave);
	signal(SIGTSTP, on_tstp);
	signal(SIGCONT, on_cont);
}

int cmd_top(int argc, char **argv)
{
	struct top_state t = { 0 };
	unsigned long looks = 0;
	struct view_opts o;
	struct view v;
	int err, key_fd = -1;
	char key;

	view_opts_init(&o);
	if (parse_opts(argc, argv, &o, &t)) {
		top_usage(stderr);
		return EXIT_USAGE;
	}
	if (!isatty(STDOUT_FILENO))
		t.batch = true;
	/* before the terminal changes mode: a ^C from here on ends cleanly */
	stop_on_signals();
	err = view_open(&v, &o);
	if (!err && !t.batch && isatty(STDIN_FILENO)) {
		tty_enter();
		key_fd = tty_raw ? STDIN_FILENO : -1;
		t.keys = tty_raw;
	}
	while (!err && !stop_requested()) {
		err = draw(&v, &t);
		if (err || ++looks == o.count)
			break;
		err = view_wait(&v, o.interval_ms, key_fd);
		if (err > 0) {
			/* q, or the terminal went away: stop; other keys redraw */
			if (read(key_fd, &key, 1) != 1 || key == 'q' || key == 'Q') {
				err = 0;
				break;
			}
			err = 0;
		}
		if (err < 0 || stop_requested())
			break;
		err = view_refresh(&v);
	}
	tty_leave();
	if (err == -ENOMEM)
		fprintf(stderr, "%s: out of memory\n", prog_name);
	free(t.prev);
	view_close(&v);
	return err ? 1 : 0;
}
