// SPDX-License-Identifier: GPL-2.0
/*
 * Parser of the module's /proc/net/sockfan files.  The format is a stable
 * spec (Documentation/proc-format.rst): a header line naming the columns,
 * then one record a line, single-space separated.  Anything else is
 * reported, never guessed at: a reader that tolerates garbage would show
 * numbers nobody can trust.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format.h"
#include "netns.h"
#include "cli.h"
#include "source_proc.h"
#include "loop.h"

#define MAX_FIELDS	16
#define PROC_LINE_MAX	1024	/* far above any record the module prints */

static const char LISTENERS_HDR[] = "cookie family laddr lport backlog qlen overflows drops handshakes accepted hits pid comm";
static const char CONNS_HDR[] = "cookie family laddr lport raddr rport listener pid comm age_ms segs_in state";
static const char STATS_HDR[] = "name value";
static const char PORTS_HDR[] = "port listeners established accepted closed peers lifetime_sum_us wait_sum_us wait_max_us refused owner_pid owner_comm";
static const char HIST_HDR[] = "port hist count sum_us slots";

struct proc_file {
	const char *path;
	unsigned int line;
	char *fields[MAX_FIELDS];
	int nfields;
	__u32 netns;
};

static int bad(const struct proc_file *pf, const char *what)
{
	fprintf(stderr, "sockfan: %s line %u: %s; the module and this sockfan do not agree on Documentation/proc-format.rst (reload a matching sockfan.ko)\n",
		pf->path, pf->line, what);
	return -EPROTO;
}

static int field_u64(const struct proc_file *pf, int i, __u64 max, __u64 *out)
{
	const char *s = pf->fields[i];
	char *end;

	if (*s < '0' || *s > '9')
		return bad(pf, "number expected");
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end || *out > max)
		return bad(pf, "number out of range");
	return 0;
}

static int field_addr(const struct proc_file *pf, int fam_i, int addr_i,
		      struct sockfan_key *k, __u8 *dst)
{
	const char *fam = pf->fields[fam_i];
	struct in_addr a4;

	if (!strcmp(fam, "inet")) {
		k->family = AF_INET;
		if (inet_pton(AF_INET, pf->fields[addr_i], &a4) != 1)
			return bad(pf, "IPv4 address expected");
		sockfan_addr_v4mapped(dst, a4.s_addr);
	} else if (!strcmp(fam, "inet6")) {
		k->family = AF_INET6;
		if (inet_pton(AF_INET6, pf->fields[addr_i], dst) != 1)
			return bad(pf, "IPv6 address expected");
	} else {
		return bad(pf, "family must be inet or inet6");
	}
	return 0;
}

static void field_comm(const struct proc_file *pf, int i, char *comm)
{
	snprintf(comm, SOCKFAN_COMM_LEN, "%s", pf->fields[i]);
}

/* split @line in place on single spaces; returns the field count */
static int split(struct proc_file *pf, char *line)
{
	char *save = NULL, *tok;

	pf->nfields = 0;
	line[strcspn(line, "\n")] = '\0';
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (pf->nfields == MAX_FIELDS)
			return MAX_FIELDS + 1;
		pf->fields[pf->nfields++] = tok;
	}
	return pf->nfields;
}

static int read_listener(struct fanout *f, struct proc_file *pf)
{
	__u64 cookie, port, backlog, qlen, overflows, drops, handshakes, accepted, hits, pid;
	struct sockfan_key k = { .netns = pf->netns };
	struct fan_listener *l;

	if (field_u64(pf, 0, ~0ULL, &cookie) || field_addr(pf, 1, 2, &k, k.laddr) ||
	    field_u64(pf, 3, 65535, &port) || field_u64(pf, 4, ~0U, &backlog) ||
	    field_u64(pf, 5, ~0U, &qlen) || field_u64(pf, 6, ~0ULL, &overflows) ||
	    field_u64(pf, 7, ~0U, &drops) || field_u64(pf, 8, ~0ULL, &handshakes) ||
	    field_u64(pf, 9, ~0ULL, &accepted) || field_u64(pf, 10, ~0ULL, &hits) ||
	    field_u64(pf, 11, ~0U, &pid))
		return -EPROTO;
	k.lport = port;
	l = fanout_snap_listener(f, &k, cookie, backlog);
	if (!l)
		return -ENOMEM;
	/* what the module counted since it was loaded */
	l->handshakes = handshakes;
	l->accepted = accepted;
	l->qlen = qlen;
	l->overflows = overflows;
	l->drops = drops;
	l->hits = hits;
	if (pid) {
		l->pid = pid;
		field_comm(pf, 12, l->comm);
	}
	return 0;
}

static int read_conn(struct fanout *f, struct proc_file *pf)
{
	__u64 cookie, lport, rport, listener, pid, age, segs;
	struct sockfan_key k = { .netns = pf->netns };
	struct fan_conn *c;
	unsigned int state;
	bool accepted;

	if (field_u64(pf, 0, ~0ULL, &cookie) || field_addr(pf, 1, 2, &k, k.laddr) ||
	    field_u64(pf, 3, 65535, &lport) || field_addr(pf, 1, 4, &k, k.raddr) ||
	    field_u64(pf, 5, 65535, &rport) || field_u64(pf, 6, ~0ULL, &listener) ||
	    field_u64(pf, 7, ~0U, &pid) || field_u64(pf, 9, ~0ULL, &age) ||
	    field_u64(pf, 10, ~0U, &segs))
		return -EPROTO;
	state = fmt_state_parse(pf->fields[11]);
	if (!state || state == TCP_LISTEN)
		return bad(pf, "TCP state of a connection expected (ESTAB, CLOSE-WAIT, ...)");
	k.lport = lport;
	k.rport = rport;
	/* pid 0 with comm "?": accepted, by a task this reader may not know */
	accepted = pid || !strcmp(pf->fields[8], "?");
	c = fanout_snap_conn(f, &k, cookie, state, listener, accepted);
	if (!c)
		return -ENOMEM;
	if (pid) {
		c->pid = pid;
		field_comm(pf, 8, c->comm);
	}
	c->segs_in = segs;
	/* the module's clock is ktime_get_ns(), CLOCK_MONOTONIC here */
	c->est_ns = mono_ns() - age * 1000000ULL;
	return 0;
}

/*
 * stats: "name value" lines.  Only strays are the model's (the
 * namespace's, they belong to no port); the rest describes the module
 * itself, and names it adds later are skipped.
 */
static int read_stat(struct fanout *f, struct proc_file *pf)
{
	struct fan_netns *n;
	__u64 v;

	if (strcmp(pf->fields[0], "strays"))
		return 0;
	if (field_u64(pf, 1, ~0ULL, &v))
		return -EPROTO;
	n = fanout_netns(f, pf->netns);
	if (!n)
		return -ENOMEM;
	n->strays = v;
	return 0;
}

static int read_port(struct fanout *f, struct proc_file *pf)
{
	__u64 v[10];
	struct fan_port *p;
	int i;

	for (i = 0; i < 10; i++)
		if (field_u64(pf, i, i ? ~0ULL : 65535, &v[i]))
			return -EPROTO;
	p = fanout_port(f, pf->netns, v[0]);
	if (!p)
		return -ENOMEM;
	/* totals the module kept since it was loaded, sockets gone since too */
	p->accepted = v[3];
	p->closed = v[4];
	/* the module times every connection it tracks */
	p->lifetime_ns = v[6] * 1000ULL;
	p->lifetimes = v[4];
	p->wait_ns = v[7] * 1000ULL;
	p->waits = v[3];
	p->wait_max_ns = v[8] * 1000ULL;
	p->refused = v[9];
	return 0;
}

/*
 * "8080 accept_wait 20 310 0:5,1:15": one histogram of a port, into the
 * port's kernel aggregates (struct sockfan_port_stats, as the BPF
 * programs keep them): its slots, which must add up to its count
 */
static int read_hist(struct fanout *f, struct proc_file *pf)
{
	struct sockfan_port_stats st = { 0 };
	__u64 port, count, sum_us, total = 0, slot, n;
	const char *s = pf->fields[4];
	struct fan_port *p;
	char *end;
	int h;

	if (field_u64(pf, 0, 65535, &port) || field_u64(pf, 2, ~0ULL, &count) ||
	    field_u64(pf, 3, ~0ULL / 1000, &sum_us))
		return -EPROTO;
	for (h = 0; h < SOCKFAN_NR_HISTS; h++)
		if (!strcmp(pf->fields[1], fmt_hist(h)))
			break;
	if (h == SOCKFAN_NR_HISTS)
		return bad(pf, "histogram must be handshake, accept_wait or lifetime");
	p = fanout_port(f, pf->netns, port);
	if (!p)
		return -ENOMEM;
	if (p->kstats)
		st = *p->kstats;
	if (strcmp(s, "-")) {
		while (*s) {
			if (*s < '0' || *s > '9')
				return bad(pf, "slot:count expected");
			errno = 0;
			slot = strtoull(s, &end, 10);
			if (errno || *end != ':' || slot >= SOCKFAN_HIST_SLOTS || st.slots[h][slot])
				return bad(pf, "slot number 0-35, once each, expected");
			s = end + 1;
			if (*s < '0' || *s > '9')
				return bad(pf, "count expected");
			n = strtoull(s, &end, 10);
			if (errno || !n || (*end && *end != ',') || (*end && !end[1]))
				return bad(pf, "count above 0, then a comma or the end, expected");
			st.slots[h][slot] = n;
			total += n;
			s = *end ? end + 1 : end;
		}
	}
	if (total != count)
		return bad(pf, "slots do not add up to the count");
	st.sum_ns[h] = sum_us * 1000;
	if (h == SOCKFAN_HIST_HANDSHAKE)
		st.handshakes = count;
	else if (h == SOCKFAN_HIST_ACCEPT_WAIT)
		st.accepted = count;
	else
		st.closed = count;
	st.refused = p->refused;
	return fanout_snap_port_stats(f, pf->netns, port, &st, false);
}

static const struct proc_format {
	const char *name;
	const char *hdr;
	int nfields;
	int (*fn)(struct fanout *f, struct proc_file *pf);
} formats[] = {
	{ "conns", CONNS_HDR, 12, read_conn },
	{ "listeners", LISTENERS_HDR, 13, read_listener },
	{ "ports", PORTS_HDR, 12, read_port },
	{ "hist", HIST_HDR, 5, read_hist },
	{ "stats", STATS_HDR, 2, read_stat },
};

int proc_source_parse(struct fanout *f, const char *name, FILE *fp, const char *path)
{
	struct proc_file pf = { .path = path, .netns = netns_self() };
	const struct proc_format *fmt = NULL;
	size_t i, cap = 0;
	char *line = NULL;
	ssize_t len;
	int err = 0;

	for (i = 0; i < ARRAY_SIZE(formats); i++)
		if (!strcmp(name, formats[i].name))
			fmt = &formats[i];
	if (!fmt)
		return -EINVAL;
	while (!err && (len = getline(&line, &cap, fp)) >= 0) {
		pf.line++;
		if (len > PROC_LINE_MAX)
			err = bad(&pf, "line too long");
		else if ((size_t)len != strlen(line))
			err = bad(&pf, "NUL byte in the line");
		else if (pf.line == 1) {
			line[strcspn(line, "\n")] = '\0';
			if (strcmp(line, fmt->hdr))
				err = bad(&pf, "unexpected header");
		} else if (split(&pf, line) != fmt->nfields) {
			err = bad(&pf, "wrong number of fields");
		} else {
			err = fmt->fn(f, &pf);
		}
	}
	free(line);
	if (!err && ferror(fp))
		err = -EIO;
	if (!err && pf.line == 0)
		err = bad(&pf, "empty file, header missing");
	return err;
}

static int read_file(struct fanout *f, const char *dir, const char *name)
{
	char path[512];
	FILE *fp;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "re");
	if (!fp) {
		err = -errno;
		fprintf(stderr, "sockfan: cannot open %s: %s\n", path, strerror(-err));
		return err;
	}
	err = proc_source_parse(f, name, fp, path);
	fclose(fp);
	return err;
}

int proc_source_read(struct fanout *f, const char *dir)
{
	struct stat st;
	int err;

	if (stat(dir, &st)) {
		if (!strcmp(dir, SOCKFAN_PROC_PATH))
			fprintf(stderr, "sockfan: %s does not exist: the sockfan module is not loaded (insmod sockfan.ko, or use --source bpf)\n",
				dir);
		else
			fprintf(stderr, "sockfan: %s: %s\n", dir, strerror(errno));
		return -ENOENT;
	}
	/* listeners first: a connection without one names its port's sole one */
	err = read_file(f, dir, "listeners");
	if (!err)
		err = read_file(f, dir, "conns");
	if (!err)
		err = read_file(f, dir, "ports");
	if (!err)
		err = read_file(f, dir, "hist");
	if (!err)
		err = read_file(f, dir, "stats");
	return err;
}
