// SPDX-License-Identifier: GPL-2.0
/*
 * Listener lookups per port through sk_lookup (bpf/sockfan_sklookup.bpf.c).
 * The program's context does not name its namespace, so each namespace
 * gets an instance of its own, with its inode in .rodata; the first
 * instance's maps are the ones all of them count into.  Once attached,
 * an instance is its link and its program's descriptor only (for
 * --hook-cost): its object is closed, so that a host with many
 * namespaces does not run out of descriptors.
 *
 * The program counts hits only (a lookup a live listener covers, by
 * the listeners' addresses the main programs keep in listen_addrs, which
 * every instance shares): the keys are the listeners' addresses, and
 * their counts only grow.
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
#include "bpf_percpu.h"
#include "netns.h"
#include "source_sklookup.h"

/*
 * Namespaces counted at most: two descriptors each (the link and the
 * program), within the usual limit of 1024 descriptors
 */
#define SKLOOKUP_MAX_NETNS	256

struct sklookup_instance {
	struct bpf_link *link;
	int prog_fd;
	__u32 netns;
};

struct sklookup_counter {
	struct sklookup_instance inst[SKLOOKUP_MAX_NETNS];
	size_t n;
	__u32 refused[SKLOOKUP_MAX_NETNS];	/* namespaces that refused, not tried again */
	size_t nrefused;
	__u32 only;		/* 0: every namespace */
	int map_fd;		/* listener_lookups, of all instances */
	int lost_fd;		/* lookups_lost, of all instances */
	int addrs_fd;		/* listen_addrs: the main programs' */
};

static bool known_netns(__u32 netns, void *arg)
{
	const struct sklookup_counter *c = arg;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->inst[i].netns == netns)
			return true;
	for (i = 0; i < c->nrefused; i++)
		if (c->refused[i] == netns)
			return true;
	return c->n == SKLOOKUP_MAX_NETNS;
}

/* an instance for the namespace the caller is in now, inode @netns */
static int attach_here(__u32 netns, void *arg)
{
	struct sklookup_counter *c = arg;
	struct sklookup_instance in = { .netns = netns, .prog_fd = -1 };
	struct sockfan_sklookup_bpf *skel;
	int fd, err = 0;

	skel = sockfan_sklookup_bpf__open();
	if (!skel)
		return -errno ?: -ENOMEM;
	skel->rodata->netns_ino = netns;
	err = bpf_map__reuse_fd(skel->maps.listen_addrs, c->addrs_fd);
	if (!err && c->map_fd >= 0)
		err = bpf_map__reuse_fd(skel->maps.listener_lookups, c->map_fd) ?:
		      bpf_map__reuse_fd(skel->maps.lookups_lost, c->lost_fd);
	if (!err)
		err = sockfan_sklookup_bpf__load(skel);
	fd = err ? -1 : open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!err && fd < 0)
		err = -errno;
	if (!err) {
		in.link = bpf_program__attach_netns(skel->progs.count_lookup, fd);
		if (!in.link)
			err = -errno ?: -EINVAL;
	}
	if (fd >= 0)
		close(fd);
	if (!err) {
		in.prog_fd = fcntl(bpf_program__fd(skel->progs.count_lookup), F_DUPFD_CLOEXEC, 0);
		if (in.prog_fd < 0)
			err = -errno;
	}
	if (!err && c->map_fd < 0) {
		c->map_fd = fcntl(bpf_map__fd(skel->maps.listener_lookups), F_DUPFD_CLOEXEC, 0);
		c->lost_fd = fcntl(bpf_map__fd(skel->maps.lookups_lost), F_DUPFD_CLOEXEC, 0);
		if (c->map_fd < 0 || c->lost_fd < 0)
			err = -errno;
	}
	/* the link holds the program, the program its maps */
	sockfan_sklookup_bpf__destroy(skel);
	if (err) {
		bpf_link__destroy(in.link);
		if (in.prog_fd >= 0)
			close(in.prog_fd);
		return err;
	}
	c->inst[c->n++] = in;
	return 0;
}

/*
 * A namespace that refuses (another user namespace's, one with its 64
 * sk_lookup programs) is left out, not the others, and not tried again
 */
static int attach_or_skip(__u32 netns, void *arg)
{
	struct sklookup_counter *c = arg;
	int err = attach_here(netns, c);

	if (err == -ENOMEM || err == -EMFILE)
		return err;
	if (err && c->nrefused < SKLOOKUP_MAX_NETNS)
		c->refused[c->nrefused++] = netns;
	return 0;
}

/* a namespace that went away detached its link; its inode may come back */
static void drop_gone(struct sklookup_counter *c)
{
	struct bpf_link_info info;
	__u32 len;
	size_t i;

	for (i = 0; i < c->n;) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_link__fd(c->inst[i].link), &info, &len) ||
		    info.netns.netns_ino) {
			i++;
			continue;
		}
		bpf_link__destroy(c->inst[i].link);
		close(c->inst[i].prog_fd);
		c->inst[i] = c->inst[--c->n];
	}
}

int sklookup_open(struct sklookup_counter **cp, __u32 netns, int listen_addrs_fd)
{
	struct sklookup_counter *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->only = netns;
	c->addrs_fd = listen_addrs_fd;
	c->map_fd = -1;
	c->lost_fd = -1;
	err = netns_each_but(netns, known_netns, attach_or_skip, c);
	if (!err && !c->n)
		err = -ENOENT;
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
	__u64 sum;
	int err = 0;

	/* namespaces made since the last look, and gone since */
	drop_gone(c);
	if (!c->only)
		netns_each_but(0, known_netns, attach_or_skip, c);
	while (!err && !bpf_map_get_next_key(c->map_fd, prev, &next)) {
		k = next;
		prev = &k;
		err = bpf_percpu_u64_sum(c->map_fd, &k, &sum);
		if (err == -ENOENT) {
			err = 0;	/* gone meanwhile */
			continue;
		}
		if (!err)
			err = fn(&k, sum, arg);
	}
	return err;
}

size_t sklookup_netns(const struct sklookup_counter *c)
{
	return c->n;
}

int sklookup_prog_fd(const struct sklookup_counter *c, size_t i)
{
	return c->inst[i].prog_fd;
}

__u64 sklookup_lost(const struct sklookup_counter *c)
{
	__u32 zero = 0;
	__u64 lost;

	if (c->lost_fd < 0 || bpf_percpu_u64_sum(c->lost_fd, &zero, &lost))
		return 0;
	return lost;
}

void sklookup_close(struct sklookup_counter *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		bpf_link__destroy(c->inst[i].link);
		close(c->inst[i].prog_fd);
	}
	if (c->map_fd >= 0)
		close(c->map_fd);
	if (c->lost_fd >= 0)
		close(c->lost_fd);
	free(c);
}
