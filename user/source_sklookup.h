/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Listener lookups per port, counted by an sk_lookup program in each
 * network namespace: for kernels where no fexit or kretprobe sees the
 * listener lookup (bpf/sockfan_sklookup.bpf.c).
 */
#ifndef SOCKFAN_SOURCE_SKLOOKUP_H
#define SOCKFAN_SOURCE_SKLOOKUP_H

#include <stdbool.h>
#include <linux/types.h>
#include <sockfan/sockfan.h>

struct sklookup_counter;

/*
 * Attach the counting program to each network namespace (@netns: an
 * inode; 0: all), counting the lookups the listeners in
 * @listen_addrs_fd cover (bpf/sockfan.bpf.c's map listen_addrs, which
 * must outlive the counter).  Returns 0 or a negative errno.  Nothing
 * is printed on failure: the caller says what it falls back to.
 */
int sklookup_open(struct sklookup_counter **cp, __u32 netns, int listen_addrs_fd);

/*
 * Attach to namespaces made since (with @netns 0 at open: all), drop
 * those gone, then @fn(key, hits since attached, @arg) for each address
 * and port a listener answered, until @fn returns non-zero, which is
 * returned.
 */
int sklookup_each(struct sklookup_counter *c,
		  int (*fn)(const struct sockfan_lookup_key *k, __u64 n, void *arg), void *arg);

/* namespaces counted now */
size_t sklookup_netns(const struct sklookup_counter *c);

/* the program of the @i-th namespace (i < sklookup_netns()) */
int sklookup_prog_fd(const struct sklookup_counter *c, size_t i);

/* lookups not counted: the map was full */
__u64 sklookup_lost(const struct sklookup_counter *c);

void sklookup_close(struct sklookup_counter *c);

#endif /* SOCKFAN_SOURCE_SKLOOKUP_H */
