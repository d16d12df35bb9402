// SPDX-License-Identifier: GPL-2.0
/*
 * Listener lookups per port through sk_lookup (bpf/sockfan_sklookup.bpf.c).
 * The program's context does not name its namespace, so each namespace
 * gets an instance of its own, with its inode in .rodata; the first
 * instance's map is the one all of them count into.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sockfan_sklookup.skel.h"
#include "netns.h"
#include "source_sklookup.h"

/*
 * Instances at most: one program and one link each (a host with
 * thousands of containers counts its first 4096 namespaces)
 */
#define SKLOOKUP_MAX_NETNS	4096

struct sklookup_instance {
	struct sockfan_sklookup_bpf *skel;
	struct bpf_link *link;
	__u32 netns;
};

struct sklookup_counter {
	struct sklookup_instance *inst;
	size_t n, cap;
	__u32 only;		/* 0: every namespace */
	int map_fd;		/* the first instance's listener_lookups */
	int err;		/* the first namespace that refused, if any */
};

static bool attached(const struct sklookup_counter *c, __u32 netns)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->inst[i].netns == netns)
			return true;
	return false;
}

/* an instance for the namespace the caller is in now, inode @netns */
static int attach_here(__u32 netns, void *arg)
{
	struct sklookup_counter *c = arg;
	struct sklookup_instance in = { .netns = netns };
	int fd, err;

	if (attached(c, netns) || c->n >= SKLOOKUP_MAX_NETNS)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct sklookup_instance *p = realloc(c->inst, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->inst = p;
		c->cap = cap;
	}
	in.skel = sockfan_sklookup_bpf__open();
	if (!in.skel)
		return -errno ?: -ENOMEM;
	in.skel->rodata->netns_ino = netns;
	err = c->map_fd >= 0 ? bpf_map__reuse_fd(in.skel->maps.listener_lookups, c->map_fd) : 0;
	if (!err)
		err = sockfan_sklookup_bpf__load(in.skel);
	fd = err ? -1 : open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!err && fd < 0)
		err = -errno;
	if (!err) {
		in.link = bpf_program__attach_netns(in.skel->progs.count_lookup, fd);
		if (!in.link)
			err = -errno ?: -EINVAL;
	}
	if (fd >= 0)
		close(fd);
	if (err) {
		sockfan_sklookup_bpf__destroy(in.skel);
		return err;
	}
	if (c->map_fd < 0)
		c->map_fd = bpf_map__fd(in.skel->maps.listener_lookups);
	c->inst[c->n++] = in;
	return 0;
}

/*
 * A namespace that refuses (another user namespace's, one going away)
 * is left out, not the others: its lookups are not counted
 */
static int attach_or_skip(__u32 netns, void *arg)
{
	struct sklookup_counter *c = arg;
	int err = attach_here(netns, c);

	if (err == -ENOMEM)
		return err;
	if (err && !c->err)
		c->err = err;
	return 0;
}

int sklookup_open(struct sklookup_counter **cp, __u32 netns)
{
	struct sklookup_counter *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->only = netns;
	c->map_fd = -1;
	err = netns_each(netns, attach_or_skip, c);
	if (!err && !c->n)
		err = c->err ?: -ENOENT;
	if (err) {
		sklookup_close(c);
		return err;
	}
	*cp = c;
	return 0;
}

int sklookup_each(struct sklookup_counter *c,
		  int (*fn)(const struct sockfan_lookup_key *k, __u64 n, void *arg), void *arg)
{
	struct sockfan_lookup_key k, next, *prev = NULL;
	int ncpus = libbpf_num_possible_cpus();
	__u64 *vals, sum;
	int i, err = 0;

	/* namespaces made since the last look */
	if (!c->only)
		netns_each(0, attach_or_skip, c);
	if (ncpus <= 0)
		return ncpus ?: -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (!err && !bpf_map_get_next_key(c->map_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(c->map_fd, &k, vals))
			continue;	/* gone meanwhile */
		for (i = 0, sum = 0; i < ncpus; i++)
			sum += vals[i];
		err = fn(&k, sum, arg);
	}
	free(vals);
	return err;
}

size_t sklookup_netns(const struct sklookup_counter *c)
{
	return c->n;
}

int sklookup_prog_fd(const struct sklookup_counter *c, size_t i)
{
	return bpf_program__fd(c->inst[i].skel->progs.count_lookup);
}

__u64 sklookup_lost(const struct sklookup_counter *c)
{
	__u64 lost = 0;
	size_t i;

	for (i = 0; i < c->n; i++)
		lost += c->inst[i].skel->bss->lookups_lost;
	return lost;
}

void sklookup_close(struct sklookup_counter *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		bpf_link__destroy(c->inst[i].link);
		sockfan_sklookup_bpf__destroy(c->inst[i].skel);
	}
	free(c->inst);
	free(c);
}
