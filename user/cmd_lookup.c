// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan lookup LOCAL REMOTE`: which socket the kernel picks for a TCP
 * segment with this four-tuple, asked of the kernel itself
 * (source_lookup.c), with the owners sock_diag knows; as text, JSON or
 * a Graphviz drawing of the path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_writer.h"
#include "netns.h"
#include "render.h"
#include "source_lookup.h"
#include "view.h"

enum lookup_out { LOOKUP_TEXT, LOOKUP_JSON, LOOKUP_DOT };

struct lookup_args {
	enum lookup_out out;
};

static void lookup_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s lookup [--netns NS] [--json | --dot] LOCAL_ADDR:PORT REMOTE_ADDR:PORT...\n"
		"Ask the running kernel which socket a TCP segment from REMOTE to LOCAL would\n"
		"reach: its own lookup (bpf_skc_lookup_tcp(), run once; it changes nothing\n"
		"and sends nothing): the established hash (a connection, TIME-WAIT, a\n"
		"handshake in progress), else the listeners (for a SO_REUSEPORT group, the\n"
		"member the four-tuple's hash picks), else none: the segment gets a RST.\n"
		"Addresses: 10.0.0.1:80, [2001:db8::1]:80, [::ffff:10.0.0.1]:80 (looked up\n"
		"as IPv6, as a v4-mapped segment of a dual-stack socket would be).  Several\n"
		"remote ends: one answer each (JSON: a document per line), from one load.\n"
		"  -N, --netns NS      the network namespace (name, /proc/PID/ns/net, inode)\n"
		"      --json          one JSON document\n"
		"      --dot           the path as a Graphviz digraph\n",
		prog_name);
}

static int lookup_opt(int c, const char *arg, void *ctx)
{
	struct lookup_args *a = ctx;

	switch (c) {
	case 'J':
		a->out = LOOKUP_JSON;
		return 0;
	case 'G':
		a->out = LOOKUP_DOT;
		return 0;
	case 'N':
		return 1;
	case '?':
		return 1;
	}
	fprintf(stderr, "%s lookup: only --netns, --json and --dot apply: the four-tuple is the question\n",
		prog_name);
	return -1;
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into @k's local (@remote 0) or remote end */
static int parse_endpoint(const char *s, struct sockfan_key *k, int remote)
{
	__u8 *addr = remote ? k->raddr : k->laddr;
	const char *colon = strrchr(s, ':');
	unsigned long port;
	struct in_addr a4;
	char host[64];
	size_t len;
	int family;

	if (!colon || !parse_uint(colon + 1, 1, 65535, &port))
		goto bad;
	len = colon - s;
	if (len >= sizeof(host))
		goto bad;
	memcpy(host, s, len);
	host[len] = '\0';
	if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
		host[len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, addr) != 1)
			goto bad;
		family = AF_INET6;
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		sockfan_addr_v4mapped(addr, a4.s_addr);
		family = AF_INET;
	} else {
		goto bad;
	}
	if (k->family && k->family != family) {
		fprintf(stderr, "%s lookup: '%s': both ends must be of one family (a v4-mapped [::ffff:a.b.c.d] for IPv4 in IPv6)\n",
			prog_name, s);
		return -1;
	}
	k->family = family;
	if (remote)
		k->rport = port;
	else
		k->lport = port;
	return 0;
bad:
	fprintf(stderr, "%s lookup: '%s': want ADDR:PORT (10.0.0.1:80, [2001:db8::1]:80), port 1-65535\n",
		prog_name, s);
	return -1;
}

/* the keys asked about: *@kp (free() it), *@np of them */
static int parse_args(int argc, char **argv, struct view_opts *o, struct lookup_args *a,
		      struct sockfan_key **kp, size_t *np)
{
	struct sockfan_key local = { 0 }, *k;
	int i;

	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "dot", no_argument, NULL, 'G' },
		{ 0 },
	};
	static const struct view_cmd cmd = {
		.name = "lookup", .set = VIEW_OPTSET_FILTER, .shortopts = "", .longopts = opts,
		.opt = lookup_opt, .usage = lookup_usage, .args = true,
	};
	int first = view_parse(argc, argv, &cmd, o, a);

	if (first < 0)
		return -1;
	if (argc - first < 2) {
		fprintf(stderr, "%s lookup: want the local end and a remote one, LOCAL_ADDR:PORT REMOTE_ADDR:PORT\n",
			prog_name);
		return -1;
	}
	if (a->out == LOOKUP_DOT && argc - first > 2) {
		fprintf(stderr, "%s lookup: --dot draws one path: give one remote end\n", prog_name);
		return -1;
	}
	if (parse_endpoint(argv[first], &local, 0))
		return -1;
	k = calloc(argc - first - 1, sizeof(*k));
	if (!k) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return -1;
	}
	for (i = first + 1; i < argc; i++) {
		k[i - first - 1] = local;
		if (parse_endpoint(argv[i], &k[i - first - 1], 1)) {
			free(k);
			return -1;
		}
	}
	*kp = k;
	*np = argc - first - 1;
	return 0;
}

/* what the model (sock_diag) knows of the socket found: its owner or holder */
struct found_owner {
	__u64 cookie;
	__u32 pid;
	char comm[SOCKFAN_COMM_LEN + 1];
	const struct cgroup_info *cgroup;
};

static int match_conn(const struct fan_conn *c, void *arg)
{
	struct found_owner *fo = arg;

	if (c->cookie != fo->cookie)
		return 0;
	fo->pid = c->hold_pid;
	snprintf(fo->comm, sizeof(fo->comm), "%.*s", SOCKFAN_COMM_LEN, c->hold_comm);
	fo->cgroup = c->cgroup;
	return 1;
}

static void find_owner(struct fanout *f, __u64 cookie, struct found_owner *fo)
{
	struct fan_listener *l = fanout_listener(f, cookie);

	memset(fo, 0, sizeof(*fo));
	fo->cookie = cookie;
	if (!cookie)
		return;
	if (l) {
		fo->pid = l->pid;
		snprintf(fo->comm, sizeof(fo->comm), "%.*s", SOCKFAN_COMM_LEN, l->comm);
		fo->cgroup = l->cgroup;
		return;
	}
	fanout_each_conn(f, match_conn, fo);
}

enum lookup_path { PATH_NONE, PATH_CONN, PATH_TIMEWAIT, PATH_REQUEST, PATH_LISTENER };

static enum lookup_path path_of(const struct sockfan_lookup_answer *a)
{
	if (!a->found)
		return PATH_NONE;
	switch (a->state) {
	case 6:
		return PATH_TIMEWAIT;
	case 10:
		return PATH_LISTENER;
	case 12:
		return PATH_REQUEST;
	}
	return PATH_CONN;
}

static const char * const path_names[] = {
	[PATH_NONE] = "none", [PATH_CONN] = "connection", [PATH_TIMEWAIT] = "time-wait",
	[PATH_REQUEST] = "request", [PATH_LISTENER] = "listener",
};

/* the socket found, as a key (what fmt_endpoint() prints) */
static void found_key(const struct sockfan_lookup_answer *a, struct sockfan_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->laddr, a->laddr, 16);
	memcpy(k->raddr, a->raddr, 16);
	k->lport = a->lport;
	k->rport = a->rport;
	k->family = a->family;
}

/* what the kernel does with the segment, in a sentence */
static const char *verdict(const struct lookup_result *r)
{
	switch (path_of(&r->answer)) {
	case PATH_CONN:
		return "its segments go to this connection socket (the established hash comes first)";
	case PATH_TIMEWAIT:
		return "a TIME-WAIT socket holds the four-tuple: a new SYN is checked against it, and if acceptable goes on to the listeners; other segments get an ACK or RST from it";
	case PATH_REQUEST:
		return "a handshake with this four-tuple is in progress: its final ACK completes the request socket into a connection of its listener";
	case PATH_LISTENER:
		return "a SYN with this four-tuple is handed to this listener, which queues the connection for accept()";
	default:
		return "no socket: the segment is answered with a RST (a SYN: connection refused)";
	}
}

static void print_text(const struct sockfan_key *q, __u32 netns, const struct lookup_result *r,
		       const struct found_owner *fo)
{
	const struct sockfan_lookup_answer *a = &r->answer;
	enum lookup_path path = path_of(a);
	char lep[FMT_ADDR_LEN], rep[FMT_ADDR_LEN], fep[FMT_ADDR_LEN], task[48], cg[4200];
	struct sockfan_key k;

	found_key(a, &k);
	printf("segment %s -> %s in netns %u, looked up by the kernel (bpf_skc_lookup_tcp, once)\n",
	       fmt_endpoint(rep, sizeof(rep), q, 1), fmt_endpoint(lep, sizeof(lep), q, 0), netns);
	printf("  1. established hash: ");
	if (path == PATH_CONN || path == PATH_TIMEWAIT || path == PATH_REQUEST)
		printf("%s %s -> %s, cookie %llu, inode %u, held by %s\n", fmt_state(a->state),
		       fmt_endpoint(fep, sizeof(fep), &k, 0), fmt_endpoint(rep, sizeof(rep), &k, 1),
		       (unsigned long long)a->cookie, a->inode,
		       fmt_task(task, sizeof(task), fo->pid, fo->comm));
	else
		printf("nothing with this four-tuple\n");
	if (path == PATH_REQUEST)
		printf("     (a request socket of listener cookie %llu)\n",
		       (unsigned long long)a->listener);
	if (path == PATH_LISTENER || path == PATH_NONE) {
		printf("  2. listeners: ");
		if (path == PATH_LISTENER)
			printf("LISTEN %s, cookie %llu, inode %u, owner %s, cgroup %s\n",
			       fmt_endpoint(fep, sizeof(fep), &k, 0), (unsigned long long)a->cookie,
			       a->inode, fmt_task(task, sizeof(task), fo->pid, fo->comm),
			       fmt_cgroup(cg, sizeof(cg), fo->cgroup));
		else
			printf("none for %s\n", fmt_endpoint(lep, sizeof(lep), q, 0));
	}
	if (path == PATH_LISTENER && a->reuse_members)
		printf("     SO_REUSEPORT group of %u: the four-tuple's hash picks member %u (counting from 0)\n",
		       a->reuse_members, a->reuse_index);
	printf("  => %s\n", verdict(r));
	if (a->reuse_prog)
		printf("note: the group has a SO_ATTACH_REUSEPORT BPF program: real SYNs go where it says, which this lookup (without a packet) does not run\n");
	if (r->sk_lookup_progs > 0)
		printf("note: %d BPF sk_lookup program%s attached in this namespace: %s ran for this lookup too, with the four-tuple only; one that reads more of a real segment may choose otherwise\n",
		       r->sk_lookup_progs, r->sk_lookup_progs == 1 ? " is" : "s are",
		       r->sk_lookup_progs == 1 ? "it" : "they");
	if (a->found && !a->cookie)
		printf("note: the socket has no cookie yet (none was asked for): it is named by its inode\n");
}

static void print_json(const struct sockfan_key *q, __u32 netns, const struct lookup_result *r,
		       const struct found_owner *fo)
{
	const struct sockfan_lookup_answer *a = &r->answer;
	struct json_writer w;
	struct sockfan_key k;

	found_key(a, &k);
	jsonw_init(&w, stdout);
	jsonw_start_object(&w);
	jsonw_uint_field(&w, "netns", netns);
	jsonw_start_object_field(&w, "segment");
	render_tuple_json(&w, q);
	jsonw_end_object(&w);
	jsonw_string_field(&w, "path", path_names[path_of(a)]);
	if (a->found) {
		jsonw_start_object_field(&w, "socket");
		jsonw_uint_field(&w, "cookie", a->cookie);
		jsonw_uint_field(&w, "inode", a->inode);
		jsonw_string_field(&w, "state", fmt_state(a->state));
		render_tuple_json(&w, &k);
		if (fo->pid) {
			jsonw_start_object_field(&w, "owner");
			jsonw_uint_field(&w, "pid", fo->pid);
			jsonw_string_field(&w, "comm", fo->comm);
			jsonw_end_object(&w);
		} else {
			jsonw_null_field(&w, "owner");
		}
		jsonw_count_field(&w, "listener", a->listener, path_of(a) == PATH_REQUEST);
		jsonw_end_object(&w);
	} else {
		jsonw_null_field(&w, "socket");
	}
	if (a->reuse_members) {
		jsonw_start_object_field(&w, "reuseport");
		jsonw_uint_field(&w, "members", a->reuse_members);
		jsonw_uint_field(&w, "index", a->reuse_index);
		jsonw_bool_field(&w, "bpf_program", a->reuse_prog);
		jsonw_end_object(&w);
	} else {
		jsonw_null_field(&w, "reuseport");
	}
	if (r->sk_lookup_progs >= 0)
		jsonw_uint_field(&w, "sk_lookup_programs", r->sk_lookup_progs);
	else
		jsonw_null_field(&w, "sk_lookup_programs");
	jsonw_string_field(&w, "verdict", verdict(r));
	jsonw_end_object(&w);
	jsonw_end_document(&w);
}

static void print_dot(const struct sockfan_key *q, const struct lookup_result *r,
		      const struct found_owner *fo)
{
	const struct sockfan_lookup_answer *a = &r->answer;
	enum lookup_path path = path_of(a);
	char lep[FMT_ADDR_LEN], rep[FMT_ADDR_LEN], fep[FMT_ADDR_LEN], task[48];
	struct sockfan_key k;

	found_key(a, &k);
	printf("digraph lookup {\n\trankdir=LR;\n\tnode [shape=box];\n");
	printf("\tseg [label=\"segment\\n%s -> %s\", shape=oval];\n",
	       fmt_endpoint(rep, sizeof(rep), q, 1), fmt_endpoint(lep, sizeof(lep), q, 0));
	printf("\tehash [label=\"established hash\"];\n\tlhash [label=\"listeners\"];\n");
	printf("\tseg -> ehash;\n");
	if (path == PATH_CONN || path == PATH_TIMEWAIT || path == PATH_REQUEST) {
		printf("\tsock [label=\"%s %s\\ncookie %llu\\n%s\", style=bold];\n", fmt_state(a->state),
		       fmt_endpoint(fep, sizeof(fep), &k, 1), (unsigned long long)a->cookie,
		       fmt_task(task, sizeof(task), fo->pid, fo->comm));
		printf("\tehash -> sock [label=\"hit\", style=bold];\n");
	} else {
		printf("\tehash -> lhash [label=\"miss\"];\n");
	}
	if (path == PATH_LISTENER) {
		printf("\tsock [label=\"LISTEN %s\\ncookie %llu\\n%s", fmt_endpoint(fep, sizeof(fep), &k, 0),
		       (unsigned long long)a->cookie, fmt_task(task, sizeof(task), fo->pid, fo->comm));
		if (a->reuse_members)
			printf("\\nreuseport member %u of %u", a->reuse_index, a->reuse_members);
		printf("\", style=bold];\n\tlhash -> sock [label=\"hit\", style=bold];\n");
	} else if (path == PATH_NONE) {
		printf("\trst [label=\"RST\", shape=octagon];\n\tlhash -> rst [label=\"miss\"];\n");
	}
	printf("}\n");
}

int cmd_lookup(int argc, char **argv)
{
	struct lookup_args a = { LOOKUP_TEXT };
	struct lookup_result *r = NULL;
	struct sockfan_key *q = NULL;
	struct found_owner fo;
	struct view_opts o;
	size_t i, n = 0;
	struct view v;
	__u32 netns;
	int err;

	view_opts_init(&o);
	if (parse_args(argc, argv, &o, &a, &q, &n)) {
		lookup_usage(stderr);
		return EXIT_USAGE;
	}
	/*
	 * sock_diag first: it names the owners, and makes a cookie for each
	 * socket it dumps, which the lookup then reads from the socket
	 */
	o.cmd = "lookup";
	o.source = VIEW_DIAG;
	o.filter.port = q[0].lport;
	err = view_open(&v, &o);
	if (!err) {
		r = calloc(n, sizeof(*r));
		if (!r) {
			fprintf(stderr, "%s: out of memory\n", prog_name);
			err = -ENOMEM;
		}
	}
	netns = o.filter.netns ?: netns_self();
	if (!err)
		err = lookup_run(o.filter.netns, q, n, r);
	for (i = 0; !err && i < n; i++) {
		find_owner(&v.f, r[i].answer.cookie, &fo);
		if (a.out == LOOKUP_JSON)
			print_json(&q[i], netns, &r[i], &fo);
		else if (a.out == LOOKUP_DOT)
			print_dot(&q[i], &r[i], &fo);
		else if (i)
			printf("\n");
		if (a.out == LOOKUP_TEXT)
			print_text(&q[i], netns, &r[i], &fo);
	}
	free(r);
	free(q);
	view_close(&v);
	return err ? 1 : 0;
}
