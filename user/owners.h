/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which task holds a socket, as ss -p finds it: the socket inodes in
 * each process's descriptor table (/proc/PID/fd).  Read only for the
 * sockets a view names a task for, and stopped once each has one.
 */
#ifndef SOCKFAN_OWNERS_H
#define SOCKFAN_OWNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sockfan/sockfan.h>

/* socket inode -> owning task (the first found in pid order) */
struct owner {
	__u32 inode;
	__u32 pid;
	__u32 fd;		/* where in its table: the next look tries there first */
	char comm[SOCKFAN_COMM_LEN];
};

/*
 * The inodes whose owner the model shows (listeners, and connections on
 * their ports), sorted (owners_inode_cmp()): the /proc scan stops once
 * each has an owner, so that the clients of a busy host are not read
 * through for nothing.  @found: one flag per inode, zeroed.
 */
struct wanted {
	__u32 *inode;
	bool *found;
	size_t n, nfound;
};

struct owners {
	struct owner *v;
	size_t n, cap;
};

/* room for @n inodes in @w, zeroed: 0, or -ENOMEM with nothing held */
int wanted_alloc(struct wanted *w, size_t n);
void wanted_free(struct wanted *w);

/* qsort() order of inodes (__u32) */
int owners_inode_cmp(const void *a, const void *b);

/*
 * Owners of the wanted inodes into @o: where the last call found them,
 * then tasks in pid order until all are found.  An inode no task was
 * found to hold is not looked for again for 30 s (owners.c).
 */
void owners_load(struct owners *o, struct wanted *w);

/* @inode's owner in @o, NULL if none was found (or @inode is 0) */
const struct owner *owner_of(const struct owners *o, __u32 inode);

#endif /* SOCKFAN_OWNERS_H */
