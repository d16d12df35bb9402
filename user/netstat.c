// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/netstat: pairs of lines, a header of names and a line of
 * values, each starting with the same "Prefix:".  Columns are found by
 * name, as nstat does, never by position: kernels add counters.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netstat.h"
#include "cli.h"

#define NETSTAT_PATH	"/proc/thread-self/net/netstat"
#define NETSTAT_MAX	(64 * 1024)

static const struct {
	const char *name;
	size_t off;
} wanted[] = {
	{ "ListenOverflows", offsetof(struct netstat_listen, overflows) },
	{ "ListenDrops", offsetof(struct netstat_listen, drops) },
	{ "TCPDeferAcceptDrop", offsetof(struct netstat_listen, defer_accept) },
	{ "SyncookiesSent", offsetof(struct netstat_listen, syncookies_sent) },
	{ "SyncookiesRecv", offsetof(struct netstat_listen, syncookies_recv) },
	{ "SyncookiesFailed", offsetof(struct netstat_listen, syncookies_failed) },
};

#define NWANTED	ARRAY_SIZE(wanted)
/* between names or values; a line ends the last one */
static const char sep[] = "\n ";

/* one "TcpExt:" header line @names and its values @vals, both NUL-ended */
static unsigned int take(char *names, char *vals, struct netstat_listen *out)
{
	char *ns, *vs, *n, *v;
	unsigned int found = 0;
	size_t i;

	n = strtok_r(names, sep, &ns);
	v = strtok_r(vals, sep, &vs);
	while ((n = strtok_r(NULL, sep, &ns)) && (v = strtok_r(NULL, sep, &vs))) {
		for (i = 0; i < NWANTED; i++) {
			char *end;

			if (strcmp(n, wanted[i].name))
				continue;
			errno = 0;
			*(__u64 *)((char *)out + wanted[i].off) = strtoull(v, &end, 10);
			if (!errno && !*end)
				found |= 1U << i;
		}
	}
	return found;
}

int netstat_listen_parse(const char *text, struct netstat_listen *out)
{
	char *copy = strdup(text), *line, *next, *prev = NULL;
	unsigned int found = 0;

	if (!copy)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	for (line = copy; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "TcpExt:", 7)) {
			prev = NULL;
			continue;
		}
		/* the second TcpExt: line holds the first one's values */
		if (prev) {
			found |= take(prev, line, out);
			prev = NULL;
		} else {
			prev = line;
		}
	}
	free(copy);
	return found == (1U << NWANTED) - 1 ? 0 : -EPROTO;
}

int netstat_listen_read(struct netstat_listen *out)
{
	char *buf = malloc(NETSTAT_MAX);
	size_t len;
	FILE *fp;
	int err;

	if (!buf)
		return -ENOMEM;
	fp = fopen(NETSTAT_PATH, "re");
	if (!fp) {
		err = -errno;
		fprintf(stderr, "sockfan: cannot read %s: %s (is /proc mounted?)\n", NETSTAT_PATH,
			strerror(-err));
		free(buf);
		return err;
	}
	len = fread(buf, 1, NETSTAT_MAX - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	err = netstat_listen_parse(buf, out);
	if (err)
		fprintf(stderr, "sockfan: %s lacks TcpExt ListenOverflows, ListenDrops or TCPDeferAcceptDrop: a kernel this sockfan does not know\n",
			NETSTAT_PATH);
	free(buf);
	return err;
}
