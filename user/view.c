// SPDX-License-Identifier: GPL-2.0
/*
 * The source and filter options shared by ports, top and explain, and
 * the model behind them: one bpf_source followed across looks, or the
 * module's /proc files read afresh at each look.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "netns.h"
#include "query.h"
#include "diag_reconcile.h"
#include "seed_diag.h"
#include "cli.h"
#include "source_bpf.h"
#include "source_iter.h"
#include "source_proc.h"
#include "loop.h"
#include "view.h"

/* long options without a letter, past every char a command may use */
enum { OPT_CGROUP = 0x100 };

static const struct option filter_opts[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "netns", required_argument, NULL, 'N' },
	{ "src", required_argument, NULL, 'S' },
	{ "dst", required_argument, NULL, 'D' },
	{ "pid", required_argument, NULL, 'P' },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ 0 },
};

static const struct option source_opts[] = {
	{ "source", required_argument, NULL, 's' },
	{ "duration", required_argument, NULL, 'd' },
	{ "interval", required_argument, NULL, 'i' },
	{ "count", required_argument, NULL, 'n' },
	{ "proc-dir", required_argument, NULL, 'R' },
	{ "no-seed", no_argument, NULL, 'E' },
	{ "verbose", no_argument, NULL, 'v' },
	{ 0 },
};

static size_t append_opts(struct option *to, size_t n, size_t cap, const struct option *from)
{
	for (; from->name && n < cap - 1; from++)
		to[n++] = *from;
	return n;
}

int view_no_more_args(const char *cmd, int argc, char **argv, int first)
{
	if (first >= argc)
		return 0;
	fprintf(stderr, "%s %s: unexpected argument '%s'\n", prog_name, cmd, argv[first]);
	return -1;
}

void view_opts_init(struct view_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = true;
}

/* --netns: an inode number, a name under /run/netns, or a path */
static void netns_path(char *path, size_t len, const char *arg)
{
	snprintf(path, len, strchr(arg, '/') ? "%s" : "/run/netns/%s", arg);
}

/*
 * An inode, a name in /run/netns, or a path.  Whether it names a
 * namespace is checked before the look (view_check_targets()): that is
 * no usage error but a question about this host.
 */
static void parse_netns(struct view_opts *o, const char *arg)
{
	unsigned long ino;
	char path[512];
	struct stat st;

	o->netns_arg = NULL;
	if (parse_uint(arg, 1, 0xffffffffUL, &ino)) {
		o->filter.netns = ino;
		return;
	}
	o->netns_arg = arg;
	netns_path(path, sizeof(path), arg);
	/* never 0 ("every namespace"): a path that is none matches nothing */
	o->filter.netns = stat(path, &st) ? ~0U : (__u32)st.st_ino;
}

/* --cgroup's path, as the filter points at it: one per process */
static char cgroup_path[4096];

int view_check_targets(const char *cmd, const struct view_opts *o)
{
	const struct fan_filter *flt = &o->filter;
	char path[512];

	if (o->netns_arg) {
		netns_path(path, sizeof(path), o->netns_arg);
		if (access(path, F_OK)) {
			fprintf(stderr, "%s %s: --netns %s: no such network namespace (%s: %s; see ip netns list)\n",
				prog_name, cmd, o->netns_arg, path, strerror(errno));
			return -ENOENT;
		}
		if (!netns_is_net(path)) {
			fprintf(stderr, "%s %s: --netns %s: %s is not a network namespace (give a name from ip netns list, /proc/PID/ns/net, or an inode)\n",
				prog_name, cmd, o->netns_arg, path);
			return -ENOENT;
		}
	} else if (flt->netns && netns_find(flt->netns)) {
		fprintf(stderr, "%s %s: --netns %u: no network namespace has that inode here (ls -l /proc/PID/ns/net, ip netns list)\n",
			prog_name, cmd, flt->netns);
		return -ENOENT;
	}
	if (flt->cgroup) {
		char arg[sizeof(cgroup_path)];

		strcpy(arg, flt->cgroup);
		if (cgroup_arg(cmd, arg, cgroup_path, sizeof(cgroup_path)))
			return -ENOENT;
	}
	if (flt->pid && kill(flt->pid, 0) && errno == ESRCH) {
		fprintf(stderr, "%s %s: --pid %u: no such process (ps -p %u): nothing it listens on or accepted can be shown\n",
			prog_name, cmd, flt->pid, flt->pid);
		return -ENOENT;
	}
	return 0;
}

/* "2", "0.5", "1.25": seconds with up to millisecond precision */
static bool parse_interval(const char *s, unsigned long *ms)
{
	unsigned long whole, frac = 0, scale = 100;
	const char *dot = strchr(s, '.');
	char buf[16];

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	if (dot) {
		const char *p;

		buf[dot - s] = '\0';
		if (!dot[1] || strlen(dot + 1) > 3)
			return false;
		for (p = dot + 1; *p; p++, scale /= 10) {
			if (*p < '0' || *p > '9')
				return false;
			frac += (*p - '0') * scale;
		}
	}
	if (!parse_uint(buf, 0, 86400, &whole))
		return false;
	*ms = whole * 1000 + frac;
	return *ms >= 100;
}

static int bad(const char *cmd, const char *opt, const char *want, const char *arg)
{
	fprintf(stderr, "%s %s: %s wants %s, not '%s'\n", prog_name, cmd, opt, want, arg);
	return -1;
}

/*
 * Apply option @c (with @arg) if it is a shared one: 1 if it was, 0 if
 * it is not shared, -1 (message printed, naming @cmd) if @arg is bad.
 */
static int view_opt(const char *cmd, int c, const char *arg, struct view_opts *o)
{
	struct fan_filter *flt = &o->filter;
	unsigned long v;

	switch (c) {
	case 's':
		if (!strcmp(arg, "bpf"))
			o->source = VIEW_BPF;
		else if (!strcmp(arg, "proc"))
			o->source = VIEW_PROC;
		else if (!strcmp(arg, "diag"))
			o->source = VIEW_DIAG;
		else if (!strcmp(arg, "auto"))
			o->source = VIEW_AUTO;
		else
			return bad(cmd, "--source", "auto, bpf, proc or diag", arg);
		return 1;
	case 'p':
		if (!parse_uint(arg, 1, 65535, &v))
			return bad(cmd, "--port", "a port number 1-65535", arg);
		flt->port = v;
		return 1;
	case 'N':
		parse_netns(o, arg);
		return 1;
	case 'S':
	case 'D':
		if (!filter_parse_prefix(arg, c == 'S' ? &flt->src : &flt->dst))
			return bad(cmd, c == 'S' ? "--src" : "--dst",
				   "an address with an optional /prefix (10.0.0.0/8, ::1)", arg);
		return 1;
	case 'P':
		if (!parse_uint(arg, 1, 0x7fffffffUL, &v))
			return bad(cmd, "--pid", "a process id", arg);
		flt->pid = v;
		return 1;
	case OPT_CGROUP:
		/* made a path like /proc/PID/cgroup's by view_check_targets() */
		if (arg[0] != '/' || strlen(arg) >= sizeof(cgroup_path))
			return bad(cmd, "--cgroup",
				   "a cgroup path as /proc/PID/cgroup shows it (/system.slice/nginx.service) or under the cgroup2 mount",
				   arg);
		strcpy(cgroup_path, arg);
		flt->cgroup = cgroup_path;
		return 1;
	case '4':
	case '6':
		if (flt->family) {
			fprintf(stderr, "%s %s: -4 and -6 exclude each other (neither: both families)\n",
				prog_name, cmd);
			return -1;
		}
		flt->family = c == '4' ? AF_INET : AF_INET6;
		return 1;
	case 'd':
		if (!parse_uint(arg, 0, 86400, &o->duration))
			return bad(cmd, "--duration", "seconds 0-86400", arg);
		return 1;
	case 'i':
		if (!parse_interval(arg, &o->interval_ms))
			return bad(cmd, "--interval", "seconds 0.1-86400 (0.5, 2)", arg);
		return 1;
	case 'n':
		if (!parse_uint(arg, 1, 1000000000UL, &o->count))
			return bad(cmd, "--count", "a number of looks, at least 1", arg);
		return 1;
	case 'R':
		o->proc_dir = arg;
		return 1;
	case 'E':
		o->seed = false;
		return 1;
	case 'v':
		verbose = true;
		return 1;
	}
	return 0;
}

static const struct option help_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int view_parse(int argc, char **argv, const struct view_cmd *cmd, struct view_opts *o,
	       void *ctx)
{
	struct option merged[48];
	char shorts[64];
	size_t n = 0;
	int c, r;

	n = append_opts(merged, n, ARRAY_SIZE(merged), filter_opts);
	if (cmd->set == VIEW_OPTSET_ALL)
		n = append_opts(merged, n, ARRAY_SIZE(merged), source_opts);
	n = append_opts(merged, n, ARRAY_SIZE(merged), help_opts);
	n = append_opts(merged, n, ARRAY_SIZE(merged), cmd->longopts);
	memset(&merged[n], 0, sizeof(merged[n]));
	snprintf(shorts, sizeof(shorts), "p:46h%s%s",
		 cmd->set == VIEW_OPTSET_ALL ? "s:d:i:n:v" : "", cmd->shortopts);
	while ((c = getopt_long(argc, argv, shorts, merged, NULL)) != -1) {
		if (c == 'h' && cmd->usage) {
			cmd->usage(stdout);
			exit(0);
		}
		r = cmd->opt(c, optarg, ctx);
		if (r < 0)
			return -1;
		if (!r)
			continue;
		/* '?': getopt_long() said what was wrong */
		if (c == '?' || view_opt(cmd->name, c, optarg, o) <= 0)
			return -1;
	}
	if (!cmd->args && view_no_more_args(cmd->name, argc, argv, optind))
		return -1;
	return optind;
}

int view_opts_check(const char *cmd, struct view_opts *o)
{
	struct stat st;

	o->cmd = cmd;
	if (o->source == VIEW_AUTO && (o->proc_dir || !stat(SOCKFAN_PROC_PATH, &st)))
		o->source = VIEW_PROC;
	else if (o->source == VIEW_AUTO)
		o->source = o->duration || o->interval_ms || !o->seed ? VIEW_BPF : VIEW_DIAG;
	if (o->source == VIEW_DIAG && (o->duration || o->interval_ms || !o->seed)) {
		fprintf(stderr, "%s %s: --source diag is one sock_diag snapshot: %s\n",
			prog_name, cmd, o->duration ? "--duration needs --source bpf" :
			o->interval_ms ? "looking again (--interval, top) needs --source bpf or proc" :
			"--no-seed would leave it nothing to show");
		return -1;
	}
	if (o->duration && o->source == VIEW_PROC) {
		fprintf(stderr, "%s %s: --duration needs --source bpf (the module keeps its own totals)\n",
			prog_name, cmd);
		return -1;
	}
	if (o->filter.netns && o->source == VIEW_PROC && o->filter.netns != netns_self()) {
		fprintf(stderr, "%s %s: the proc source shows the caller's network namespace; run it there (ip netns exec NAME %s %s ...)\n",
			prog_name, cmd, prog_name, cmd);
		return -1;
	}
	if (o->proc_dir && o->source != VIEW_PROC) {
		fprintf(stderr, "%s %s: --proc-dir needs --source proc\n", prog_name, cmd);
		return -1;
	}
	if (o->count && !o->interval_ms) {
		fprintf(stderr, "%s %s: --count needs --interval\n", prog_name, cmd);
		return -1;
	}
	return 0;
}

/* the source options every view takes; @timed: and the timing ones */
static void source_usage(FILE *out, bool timed)
{
	fprintf(out,
		"Source:\n"
		"  -s, --source SRC    bpf: load the BPF programs; proc: read %s\n"
		"                      (sockfan.ko); diag: one sock_diag snapshot, no events;\n"
		"                      auto (default): proc if present, else diag for one\n"
		"                      look, bpf to follow events (--duration, --interval, top)\n",
		SOCKFAN_PROC_PATH);
	if (timed)
		fprintf(out,
			"  -d, --duration SEC  bpf: follow events for SEC seconds before the first\n"
			"                      look (Ctrl-C looks early); default 0, a snapshot\n");
	fprintf(out,
		"      --proc-dir DIR  proc: read DIR instead of %s\n"
		"      --no-seed       do not count sockets that existed before (sock_diag)\n",
		SOCKFAN_PROC_PATH);
	if (timed)
		fprintf(out,
			"  -i, --interval SEC  look again every SEC seconds (0.1-86400)\n"
			"  -n, --count N       stop after N looks\n");
	fprintf(out, "  -v, --verbose       say which hooks were tried and show libbpf's log\n");
}

void view_usage(FILE *out)
{
	source_usage(out, true);
	filter_usage(out);
}

void view_usage_untimed(FILE *out)
{
	source_usage(out, false);
	filter_usage(out);
}

void filter_usage(FILE *out)
{
	fprintf(out,
		"Filters (as in ss; sockets must match all that are given):\n"
		"  -p, --port PORT     local port\n"
		"      --netns NS      network namespace: inode (as in /proc/PID/ns/net),\n"
		"                      name in /run/netns, or a path\n"
		"      --src ADDR[/N]  local address; a listener on 0.0.0.0 matches any IPv4\n"
		"                      address, one on :: any address (dual stack)\n"
		"      --dst ADDR[/N]  remote address (listeners have none and stay)\n"
		"      --pid PID       listeners of PID, connections PID accepted\n"
		"                      (trace: events whose task is PID)\n"
		"      --cgroup PATH   listeners and connections whose task is in cgroup\n"
		"                      PATH or below it (as /proc/PID/cgroup shows it, or\n"
		"                      under the cgroup2 mount)\n"
		"  -4, -6              IPv4 or IPv6 sockets only\n");
}

/*
 * Which task accepted a connection, and the segments it got (segs_in),
 * show only in a port's details (--port, explain) and under --pid:
 * elsewhere sock_diag is not asked for tcp_info (it locks each socket),
 * nor is every process's descriptor table read.
 */
static bool view_conn_details(const struct view_opts *o)
{
	return o->filter.port || o->filter.pid || o->filter.cgroup;
}

static const struct cgroup_info *task_cgroup(void *arg, __u32 pid)
{
	return cgroup_of_task(arg, pid);
}

/*
 * Whose cgroup each socket's task is in, read afresh at each look
 * (tasks move, pids are reused); the connections' only where their
 * tasks are known (details).
 */
static int view_cgroups(struct view *v)
{
	if (!v->cgroups) {
		v->cgroups = cgroup_cache_new();
		if (!v->cgroups) {
			fprintf(stderr, "%s: out of memory\n", prog_name);
			return -ENOMEM;
		}
	}
	cgroup_cache_forget_tasks(v->cgroups);
	fanout_set_cgroups(&v->f, task_cgroup, v->cgroups, view_conn_details(v->o));
	return 0;
}

/*
 * States as they are now (queues, segs_in), and the shown connections
 * the kernel no longer has although no CLOSE record said so: those the
 * dump lacks are asked about once the records queued meanwhile are
 * applied (a connection that closed after the first drain has its CLOSE
 * waiting), so that only a close the tracer missed counts as reconciled.
 */
static bool view_conn_shown(const struct fan_conn *c, const void *flt)
{
	return query_conn_shown(flt, c);
}

static int bpf_refresh_states(struct view *v)
{
	struct diag_suspects *sus = malloc(sizeof(*sus));
	struct diag_shown shown = { view_conn_shown, &v->o->filter };
	int err;

	if (!sus)
		return -ENOMEM;
	err = diag_refresh(&v->f, v->o->filter.netns, view_conn_details(v->o), &shown, sus);
	if (!err && sus->n) {
		bpf_source_drain(v->src);
		err = diag_reconcile(&v->f, v->o->filter.netns, sus);
	}
	free(sus);
	return err;
}

/*
 * The sockets that exist now, into the model: counted per port by the
 * BPF socket iterator where the look shows no socket of them and
 * selects none by more than port and namespace (the rows of ports, a
 * scrape of serve), else listed by sock_diag.  The iterator is loaded
 * at the first look; where the kernel has none, sock_diag serves.
 * SOCKFAN_SNAPSHOT=diag lists always; =iter fails rather than list.
 */
static int view_snapshot(struct view *v)
{
	const struct view_opts *o = v->o;
	const char *how = getenv("SOCKFAN_SNAPSHOT");
	bool count = !view_conn_details(o) && !filter_by_socket(&o->filter);
	int err;

	if (how && strcmp(how, "diag") && strcmp(how, "iter") && strcmp(how, "auto")) {
		fprintf(stderr, "%s: SOCKFAN_SNAPSHOT=%s: want diag, iter or auto\n", prog_name,
			how);
		return -EINVAL;
	}
	if (how && !strcmp(how, "diag"))
		count = false;
	if (count && !v->iter_tried) {
		v->iter_tried = true;
		err = iter_source_open(&v->iter, verbose || (how && !strcmp(how, "iter")));
		if (err && how && !strcmp(how, "iter"))
			return err;
	}
	v->meta.counted = count && v->iter;
	if (v->meta.counted)
		return iter_snapshot(v->iter, &v->f, o->filter.netns);
	return seed_diag(&v->f, o->filter.netns, view_conn_details(o));
}

/* the kernel's per-port aggregates into the model */
static int snap_port_stats(const struct sockfan_port_key *k, const struct sockfan_port_stats *st,
			   void *arg)
{
	struct view *v = arg;

	v->kernel_handshakes += st->handshakes;
	return fanout_snap_port_stats(&v->f, k->netns, k->port, st, false);
}

static int snap_listener_stats(__u64 cookie, const struct sockfan_port_stats *st, void *arg)
{
	struct view *v = arg;

	fanout_snap_listener_stats(&v->f, cookie, st, false);
	return 0;
}

/* sk_lookup's counts per address and port into the model */
static int snap_lookups(const struct sockfan_lookup_key *k, __u64 n, void *arg)
{
	return fanout_add_lookups(arg, k, n);
}

/*
 * The kernel's aggregates as read, before they are applied: a port's
 * (@k) or a listener's (@cookie)
 */
struct stats_vec {
	struct stats_entry {
		struct sockfan_port_key k;
		__u64 cookie;
		struct sockfan_port_stats st;
	} *v;
	size_t n, cap;
};

/* room for one more entry of @sv, NULL: out of memory */
static struct stats_entry *stats_push(struct stats_vec *sv, const struct sockfan_port_stats *st)
{
	struct stats_entry *e;

	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? 2 * sv->cap : 64;

		e = realloc(sv->v, cap * sizeof(*e));
		if (!e)
			return NULL;
		sv->v = e;
		sv->cap = cap;
	}
	e = &sv->v[sv->n++];
	memset(e, 0, sizeof(*e));
	e->st = *st;
	return e;
}

static int collect_port_stats(const struct sockfan_port_key *k,
			      const struct sockfan_port_stats *st, void *arg)
{
	struct stats_entry *e = stats_push(arg, st);

	if (!e)
		return -ENOMEM;
	e->k = *k;
	return 0;
}

static int collect_listener_stats(__u64 cookie, const struct sockfan_port_stats *st, void *arg)
{
	struct stats_entry *e = stats_push(arg, st);

	if (!e)
		return -ENOMEM;
	e->cookie = cookie;
	return 0;
}

/*
 * Without a hook on accept(): the port's accepted connections are its
 * handshakes less the connections its listeners still queue.  The
 * counts were read before the snapshot, so a handshake that comes in
 * between is in the queue and not yet in the counts: the difference is
 * never ahead of the truth, and never shown below what an earlier look
 * showed (a connection queued since then is not taken back).  A
 * listener closed with connections queued adds them, never accepted.
 */
static int accepted_derived(struct view *v, __u32 netns, __u16 port, __u64 handshakes)
{
	struct fan_port *p = fanout_port(&v->f, netns, port);
	__u64 queued = 0, acc;
	size_t i;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < v->f.nlisteners; i++)
		if (v->f.listeners[i].key.netns == netns && v->f.listeners[i].key.lport == port)
			queued += v->f.listeners[i].qlen;
	acc = handshakes > queued ? handshakes - queued : 0;
	for (i = 0; i < v->nfloors; i++)
		if (v->floors[i].netns == netns && v->floors[i].port == port)
			break;
	if (i == v->nfloors) {
		struct accepted_floor *fl = realloc(v->floors, (i + 1) * sizeof(*fl));

		if (!fl)
			return -ENOMEM;
		v->floors = fl;
		v->floors[i] = (struct accepted_floor){ .netns = netns, .port = port };
		v->nfloors++;
	}
	if (acc < v->floors[i].accepted)
		acc = v->floors[i].accepted;
	v->floors[i].accepted = acc;
	p->accepted = acc;
	return 0;
}

/*
 * A listener's accepted derived the same way (fanout_snap_listener_stats())
 * is kept from falling below what the last look showed, as a port's:
 * handshakes read before the walk, a queue that grew meanwhile.  The
 * last look's value is the listener's watch (view_watch_members()).
 */
static void accepted_floor_listener(const struct view *v, struct fan_listener *l)
{
	size_t i;

	for (i = 0; i < v->nwatches; i++)
		if (v->watches[i].cookie == l->cookie && l->accepted < v->watches[i].accepted)
			l->accepted = v->watches[i].accepted;
}

/* the accepted last shown for a port without an accept hook (0: none yet) */
static __u64 accepted_shown(const struct view *v, __u32 netns, __u16 port)
{
	size_t i;

	for (i = 0; i < v->nfloors; i++)
		if (v->floors[i].netns == netns && v->floors[i].port == port)
			return v->floors[i].accepted;
	return 0;
}

/*
 * Without records: what the programs counted since they were attached,
 * read first, then (with @walk) the sockets as the kernel shows them
 * now.  The listeners' LISTEN records, read meanwhile, went into the
 * model this replaces.  Without @walk the sockets stay as the last walk
 * saw them, and so does accepted where it is derived from their queues.
 */
static int bpf_snapshot(struct view *v, bool walk)
{
	unsigned int counts = v->f.counts;
	struct stats_vec sv = { 0 }, lv = { 0 };
	struct fan_port *p;
	size_t i;
	int err;

	err = bpf_source_port_stats(v->src, collect_port_stats, &sv);
	if (!err)
		err = bpf_source_listener_stats(v->src, collect_listener_stats, &lv);
	if (walk) {
		fanout_free(&v->f);
		if (!err && fanout_init(&v->f))
			err = -ENOMEM;
		v->f.counts = counts;
		if (!err)
			err = view_snapshot(v);
	}
	for (i = 0; !err && i < sv.n; i++) {
		const struct stats_entry *e = &sv.v[i];

		v->kernel_handshakes += e->st.handshakes;
		err = fanout_snap_port_stats(&v->f, e->k.netns, e->k.port, &e->st, true);
		if (err || !e->k.port || (counts & FAN_COUNTS_ACCEPT_WAITS))
			continue;
		if (walk) {
			err = accepted_derived(v, e->k.netns, e->k.port, e->st.handshakes);
		} else {
			p = fanout_port(&v->f, e->k.netns, e->k.port);
			if (p)
				p->accepted = accepted_shown(v, e->k.netns, e->k.port);
		}
	}
	for (i = 0; !err && i < lv.n; i++) {
		struct fan_listener *l;

		l = fanout_snap_listener_stats(&v->f, lv.v[i].cookie, &lv.v[i].st, true);
		if (l && !(counts & FAN_COUNTS_ACCEPT_WAITS))
			accepted_floor_listener(v, l);
	}
	free(lv.v);
	free(sv.v);
	if (err == -ENOMEM)
		fprintf(stderr, "%s: out of memory\n", prog_name);
	return err;
}

/*
 * What is queued, then (with @states) states as they are now; without
 * records, @states walks the sockets again, else only the counts change
 */
static int bpf_refresh(struct view *v, bool states)
{
	int n, err;

	bpf_source_drain(v->src);
	v->kernel_handshakes = 0;
	if (v->o->aggregate) {
		err = bpf_snapshot(v, states);
	} else {
		err = states ? bpf_refresh_states(v) : 0;
		if (!err)
			err = bpf_source_port_stats(v->src, snap_port_stats, v);
		if (!err)
			err = bpf_source_listener_stats(v->src, snap_listener_stats, v);
	}
	if (!err && (v->f.counts & FAN_COUNTS_PORT_HITS)) {
		fanout_clear_lookup_hits(&v->f);
		err = bpf_source_lookup_counts(v->src, snap_lookups, &v->f);
	}
	if (err)
		return err;
	v->meta.counts_lost = bpf_source_counts_lost(v->src);
	v->meta.times_lost = bpf_source_times_lost(v->src);
	v->meta.records = bpf_source_records(v->src);
	v->meta.reconciled = v->f.reconciled;
	v->meta.lost = bpf_source_lost(v->src);
	v->meta.malformed = bpf_source_malformed(v->src);
	if (v->o->hook_cost) {
		n = bpf_source_hook_cost(v->src, v->hook_cost);
		if (n < 0)
			return n;
		v->meta.hook_cost = v->hook_cost;
		v->meta.nhook_cost = n;
		v->meta.handshakes = v->kernel_handshakes;
		v->meta.empty_run_ns = bpf_source_empty_run_ns(v->src);
	}
	return 0;
}

/*
 * The views' sink: every record to the tap, if any, and into the model;
 * per port only (aggregate), the model keeps no connection, and takes
 * the listeners' records, which come either way, not the connections'
 * ones that come while records are on for the tap (serve's /records)
 */
static void view_apply(const struct sockfan_event *e, void *arg)
{
	struct view *v = arg;

	if (v->tap)
		v->tap(e, v->tap_arg);
	if (v->o->aggregate && !event_of_listener(e))
		return;
	fanout_apply(&v->f, e);
}

static int open_bpf(struct view *v)
{
	const struct view_opts *o = v->o;
	struct capture_sink sink = { view_apply, v };
	unsigned int flags;
	int err;

	flags = (verbose ? BPF_SOURCE_LOG_LIBBPF : 0) | (o->hook_cost ? BPF_SOURCE_COUNT_RUNS : 0);
	/* always on: no syscall of the host's through the slow path, unless asked */
	if (o->aggregate && !o->accept_waits)
		flags |= BPF_SOURCE_NO_ACCEPT_TP;
	if (o->aggregate)
		flags |= BPF_SOURCE_PORTS_ONLY;
	err = bpf_source_open(&v->src, &sink, o->filter.netns, flags);
	if (err) {
		v->src = NULL;
		return err;
	}
	v->f.counts = bpf_source_counts(v->src);
	if (o->aggregate) {
		/*
		 * Per port only: listener hits and overflows per listener
		 * come with records; refused SYNs and strays are counted
		 */
		bpf_source_conn_records(v->src, false);
		v->f.counts &= FAN_COUNTS_MISSES | FAN_COUNTS_ACCEPT_WAITS | FAN_COUNTS_MEMBERS;
		v->f.counts |= FAN_COUNTS_TOTALS;
	}
	/*
	 * Attach first, then snapshot: nothing falls between the two.  A
	 * connection the dump read that closes before the programs follow
	 * it still gets its CLOSE record (bpf_source_seed_begin()); the
	 * ring is read only after the seed is applied, so that record
	 * finds the seeded entry and ends it.  Without records there is
	 * nothing to seed: the programs count any passive connection's
	 * close from the socket, and each look takes its own snapshot.
	 */
	if (o->seed && !o->aggregate) {
		bpf_source_seed_begin(v->src);
		err = seed_diag(&v->f, o->filter.netns, view_conn_details(o));
		if (err)
			return err;
		bpf_source_follow_seeded(v->src, &v->f);
	}
	snprintf(v->hooks, sizeof(v->hooks), "%s", bpf_source_hooks(v->src));
	fprintf(stderr, "# attached: %s\n", v->hooks);
	v->meta.source = "bpf";
	v->meta.hooks = v->hooks;
	err = bpf_source_follow(v->src, o->duration);
	/* ^C ended --duration early ("look now"), not the looks after it */
	stop_clear();
	/* a snapshot's states were dumped a moment ago: once is enough */
	return err ?: bpf_refresh(v, !o->seed || o->duration || o->aggregate);
}

static int read_proc(struct view *v)
{
	const struct view_opts *o = v->o;
	int err;

	fanout_free(&v->f);
	if (fanout_init(&v->f)) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return -ENOMEM;
	}
	err = proc_source_read(&v->f, v->meta.proc_dir);
	/* the module's probes count both (or log why one is missing) */
	v->f.counts = FAN_COUNTS_LISTENER_HITS | FAN_COUNTS_MISSES | FAN_COUNTS_TOTALS |
		      FAN_COUNTS_OVERFLOWS | FAN_COUNTS_HISTS | FAN_COUNTS_ACCEPT_WAITS |
		      FAN_COUNTS_MEMBERS;
	/*
	 * What the module's files lack (holders, and with details segs_in
	 * as tcp_info has it), of this namespace only, like the files: a
	 * snapshot, which leaves the totals the module kept as they are
	 */
	if (!err && o->seed)
		err = seed_diag(&v->f, netns_self(), view_conn_details(o));
	/* the seed reads them too: here only without it */
	else if (!err)
		err = seed_listen_counters(&v->f, netns_self());
	return err;
}

/*
 * A member that has connections waiting in its queue and accepted none
 * for this long is stalled: the task behind it stopped taking its share
 * (a worker blocked or stopped), while the kernel's reuseport hash goes
 * on handing it one connection in N.
 */
#define STALL_NS	(5ULL * 1000000000)

/*
 * Time, which the model does not keep: how long each listener has
 * accepted nothing as far as this view watched it, and whether that
 * makes it stalled.  Its accepts since the window began count where the
 * source counts them (FAN_COUNTS_TOTALS): else nothing is said.
 */
static int view_watch_members(struct view *v)
{
	struct member_watch *w, *old = v->watches;
	size_t i, j, nold = v->nwatches;
	__u64 now = mono_ns();

	if (!(v->f.counts & FAN_COUNTS_TOTALS))
		return 0;
	w = calloc(v->f.nlisteners + 1, sizeof(*w));
	if (!w) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return -ENOMEM;
	}
	for (i = 0; i < v->f.nlisteners; i++) {
		struct fan_listener *l = &v->f.listeners[i];

		w[i] = (struct member_watch){ l->cookie, l->accepted, v->open_ns };
		for (j = 0; j < nold; j++)
			if (old[j].cookie == l->cookie)
				break;
		if (j < nold && old[j].accepted == l->accepted)
			w[i].since_ns = old[j].since_ns;
		else if (j < nold)
			w[i].since_ns = now;
		/* first seen now, with accepts in the window: it did take some */
		else if (l->accepted)
			w[i].since_ns = now;
		l->idle_ns = now - w[i].since_ns;
		l->stalled = l->qlen && l->idle_ns >= STALL_NS;
	}
	free(old);
	v->watches = w;
	v->nwatches = v->f.nlisteners;
	return 0;
}

int view_open(struct view *v, const struct view_opts *o)
{
	int err;

	memset(v, 0, sizeof(*v));
	v->o = o;
	v->open_ns = mono_ns();
	err = view_check_targets(o->cmd, o);
	if (err)
		return err;
	if (fanout_init(&v->f)) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return -ENOMEM;
	}
	if (o->source == VIEW_BPF) {
		err = open_bpf(v);
	} else if (o->source == VIEW_DIAG) {
		v->meta.source = "diag";
		err = view_snapshot(v);
	} else {
		v->meta.source = "proc";
		v->meta.proc_dir = o->proc_dir ? o->proc_dir : SOCKFAN_PROC_PATH;
		err = read_proc(v);
	}
	return err ?: view_cgroups(v) ?: view_watch_members(v);
}

int view_wait(struct view *v, unsigned long ms, int fd)
{
	__u64 end = mono_ns() + ms * 1000000ULL, now;
	/* @fd first: poll() skips a negative one; then the ring, if any */
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
				 { .fd = v->src ? bpf_source_fd(v->src) : -1, .events = POLLIN } };
	int n;

	stop_on_signals();
	while (!stop_requested() && (now = mono_ns()) < end) {
		int slice = (end - now) / 1000000 + 1;

		/* at least every 100 ms: records below the wakeup batch */
		if (slice > 100)
			slice = 100;
		n = poll(pfd, 2, slice);
		if (n > 0 && pfd[0].revents)
			return 1;	/* a key, or hangup/error: the caller reads */
		if (v->src) {
			n = bpf_source_poll(v->src, 0);
			if (n < 0) {
				fprintf(stderr, "%s: reading the BPF ring buffer failed: %s\n",
					prog_name, strerror(-n));
				return n;
			}
		}
	}
	return 0;
}

int view_refresh_counts(struct view *v)
{
	if (!v->src || !v->o->aggregate)
		return view_refresh(v);
	return bpf_refresh(v, false) ?: view_watch_members(v);
}

int view_refresh(struct view *v)
{
	int err;

	if (v->src)
		err = bpf_refresh(v, true);
	else	/* diag is one snapshot, taken at open: it refuses looking again */
		err = v->o->source == VIEW_DIAG ? 0 : read_proc(v);
	return err ?: view_cgroups(v) ?: view_watch_members(v);
}

/*
 * "# hook cost: state_btf 1767100 runs 322245123 ns (182 ns/run), ...;
 * an empty run counts 51 ns; 2050 ns per handshake beyond that (176710
 * handshakes)": the kernel's count since sockfan started, as it counted
 * (bpftool shows the same); what an empty program's run counts (mostly
 * the count's own clock reads); then what a passive connection costs in
 * all (the programs also run for the client side and for other
 * namespaces, and drop those) beyond an empty run per call, or "as
 * counted" where that is not known ("-").  "-" per handshake before the
 * first.
 */
static void print_hook_cost(const struct ports_meta *m)
{
	__u64 total = 0, runs = 0, empty_ns;
	int i;

	printf("# hook cost:");
	for (i = 0; i < m->nhook_cost; i++) {
		const struct hook_cost *h = &m->hook_cost[i];

		printf("%s %s %llu runs %llu ns (%llu ns/run)", i ? "," : "", h->prog,
		       (unsigned long long)h->runs, (unsigned long long)h->run_ns,
		       (unsigned long long)(h->runs ? h->run_ns / h->runs : 0));
		total += h->run_ns;
		runs += h->runs;
	}
	if (m->empty_run_ns)
		printf("; an empty run counts %llu ns", (unsigned long long)m->empty_run_ns);
	else
		printf("; an empty run counts - ns");
	/* never below zero: the empty run is measured apart, not exact */
	empty_ns = m->empty_run_ns * runs;
	total = total > empty_ns ? total - empty_ns : 0;
	if (m->handshakes)
		printf("; %llu ns", (unsigned long long)(total / m->handshakes));
	else
		printf("; - ns");
	printf(" per handshake %s (%llu handshakes)\n",
	       m->empty_run_ns ? "beyond that" : "as counted", (unsigned long long)m->handshakes);
}

void view_print_source(const struct ports_meta *m, bool counts)
{
	if (m->hooks && counts)
		printf("# source bpf: %s; %llu records, %llu lost, %llu malformed, %llu reconciled\n",
		       m->hooks, (unsigned long long)m->records,
		       (unsigned long long)m->lost, (unsigned long long)m->malformed,
		       (unsigned long long)m->reconciled);
	else if (m->hooks)
		printf("# source bpf: %s\n", m->hooks);
	else if (m->proc_dir)
		printf("# source proc: %s\n", m->proc_dir);
	else if (m->counted)
		printf("# source diag: a snapshot, sockets counted per port by a BPF iterator (--port lists them), no events (--duration SEC follows them)\n");
	else
		printf("# source diag: a sock_diag snapshot, no events (--duration SEC follows them)\n");
	if (m->hook_cost)
		print_hook_cost(m);
}

void view_close(struct view *v)
{
	if (v->src)
		bpf_source_close(v->src);
	v->src = NULL;
	free(v->floors);
	v->floors = NULL;
	free(v->watches);
	v->watches = NULL;
	v->nwatches = 0;
	fanout_free(&v->f);
	cgroup_cache_free(v->cgroups);
	v->cgroups = NULL;
	iter_source_close(v->iter);
	v->iter = NULL;
}
