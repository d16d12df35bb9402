// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "owners.h"

/*
 * What the last look found, for the next (serve scrapes again and
 * again): where each owner was (pid and fd), tried first with one
 * readlink, and which inodes no task was found to hold (a socket passed
 * in flight, a task whose /proc is not readable), not looked for again
 * for a while.  Without them every scrape would read through the
 * descriptors of every task until the last listener's owner: a million
 * at a million connections, about a second.
 */
#define HINTS_MAX		4096
#define UNOWNED_RETRY_S		30

static struct owner hints[HINTS_MAX];
static size_t nhints;
static struct unowned {
	__u32 inode;
	time_t since;
} unowned[HINTS_MAX];
static size_t nunowned;

static int owner_cmp(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static void read_comm(__u32 pid, char *comm)
{
	char path[64];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	strcpy(comm, "-");
	fp = fopen(path, "re");
	if (!fp)
		return;
	if (fgets(comm, SOCKFAN_COMM_LEN, fp))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(fp);
}

int wanted_alloc(struct wanted *w, size_t n)
{
	memset(w, 0, sizeof(*w));
	w->inode = calloc(n + 1, sizeof(*w->inode));
	w->found = calloc(n + 1, sizeof(*w->found));
	if (!w->inode || !w->found) {
		wanted_free(w);
		return -ENOMEM;
	}
	return 0;
}

void wanted_free(struct wanted *w)
{
	free(w->inode);
	free(w->found);
	w->inode = NULL;
	w->found = NULL;
}

int owners_inode_cmp(const void *a, const void *b)
{
	const __u32 *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* true when @ino is wanted and had no owner yet */
static bool wanted_take(struct wanted *w, __u32 ino)
{
	__u32 *p = bsearch(&ino, w->inode, w->n, sizeof(*w->inode), owners_inode_cmp);

	if (!p || w->found[p - w->inode])
		return false;
	w->found[p - w->inode] = true;
	w->nfound++;
	return true;
}

static int owner_add(struct owners *o, __u32 ino, __u32 pid, __u32 fd, const char *comm)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 256;
		struct owner *p = realloc(o->v, cap * sizeof(*p));

		if (!p)
			return -1;
		o->v = p;
		o->cap = cap;
	}
	o->v[o->n].inode = ino;
	o->v[o->n].pid = pid;
	o->v[o->n].fd = fd;
	memcpy(o->v[o->n].comm, comm, SOCKFAN_COMM_LEN);
	o->n++;
	return 0;
}

/* the socket inode /proc/@pid/fd/@fd is, 0 if none */
static unsigned long fd_inode(__u32 pid, const char *fd)
{
	char path[64], link[64];
	unsigned long ino;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%u/fd/%.16s", pid, fd);
	len = readlink(path, link, sizeof(link) - 1);
	if (len <= 0)
		return 0;
	link[len] = '\0';
	return sscanf(link, "socket:[%lu]", &ino) == 1 ? ino : 0;
}

/* the last look's owners where they were, and its unowned for a while */
static void owners_from_hints(struct owners *o, struct wanted *w)
{
	char fd[16], comm[SOCKFAN_COMM_LEN];
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < nhints && w->nfound < w->n; i++) {
		snprintf(fd, sizeof(fd), "%u", hints[i].fd);
		if (fd_inode(hints[i].pid, fd) != hints[i].inode || !wanted_take(w, hints[i].inode))
			continue;
		read_comm(hints[i].pid, comm);
		if (owner_add(o, hints[i].inode, hints[i].pid, hints[i].fd, comm))
			return;
	}
	for (i = 0; i < nunowned && w->nfound < w->n; i++)
		if (now - unowned[i].since < UNOWNED_RETRY_S)
			wanted_take(w, unowned[i].inode);
}

/* for the next look: where these owners are, and what a scan left unowned */
static void hints_keep(const struct owners *o, const struct wanted *w, bool scanned)
{
	time_t now = time(NULL);
	struct unowned keep[HINTS_MAX];
	size_t i, n = 0;

	nhints = o->n <= HINTS_MAX ? o->n : 0;
	memcpy(hints, o->v, nhints * sizeof(*hints));
	/* still unowned and not yet due for another look */
	for (i = 0; i < nunowned; i++)
		if (now - unowned[i].since < UNOWNED_RETRY_S)
			keep[n++] = unowned[i];
	for (i = 0; scanned && i < w->n && n < HINTS_MAX; i++)
		if (!w->found[i])
			keep[n++] = (struct unowned){ w->inode[i], now };
	memcpy(unowned, keep, n * sizeof(*keep));
	nunowned = n;
}

static void owners_scan_pid(struct owners *o, struct wanted *w, __u32 pid)
{
	char path[64], comm[SOCKFAN_COMM_LEN] = "";
	unsigned long ino;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while (w->nfound < w->n && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		ino = fd_inode(pid, d->d_name);
		if (!ino || !wanted_take(w, ino))
			continue;
		if (!comm[0])
			read_comm(pid, comm);
		if (owner_add(o, ino, pid, strtoul(d->d_name, NULL, 10), comm))
			break;
	}
	closedir(dir);
}

void owners_load(struct owners *o, struct wanted *w)
{
	bool scanned = false;
	struct dirent *d;
	DIR *dir;

	owners_from_hints(o, w);
	/* sockfan's own first: serve's listener, behind a big server's table */
	if (w->nfound < w->n)
		owners_scan_pid(o, w, getpid());
	dir = w->nfound < w->n ? opendir("/proc") : NULL;
	if (dir) {
		scanned = true;
		while (w->nfound < w->n && (d = readdir(dir)))
			if (d->d_name[0] >= '1' && d->d_name[0] <= '9')
				owners_scan_pid(o, w, (__u32)strtoul(d->d_name, NULL, 10));
		closedir(dir);
	}
	qsort(o->v, o->n, sizeof(*o->v), owner_cmp);
	hints_keep(o, w, scanned);
}

const struct owner *owner_of(const struct owners *o, __u32 inode)
{
	struct owner key = { .inode = inode };

	if (!inode)
		return NULL;
	return bsearch(&key, o->v, o->n, sizeof(*o->v), owner_cmp);
}
