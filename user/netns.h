/* SPDX-License-Identifier: GPL-2.0 */
/* Network namespaces of this host, and running code inside one of them. */
#ifndef SOCKFAN_NETNS_H
#define SOCKFAN_NETNS_H

#include <stdbool.h>
#include <linux/types.h>

/* inode of the caller's network namespace (what /proc/net shows), 0 on error */
__u32 netns_self(void);

/*
 * Call @fn(netns_inode, arg) once per network namespace, with the calling
 * thread switched into it (setns), then switch back.  Namespaces are found
 * through /proc/PID/ns/net and /run/netns.  @only: 0 for all, else one
 * inode.  Returns the first error of @fn or of switching, else 0.  With
 * @only 0, namespaces the caller may not enter are left out (said once
 * on stderr), as ss shows what it may see.
 */
int netns_each(__u32 only, int (*fn)(__u32 netns, void *arg), void *arg);

/* the same, but namespaces @skip(netns_inode, @arg) names are not entered */
int netns_each_but(__u32 only, bool (*skip)(__u32 netns, void *arg),
		   int (*fn)(__u32 netns, void *arg), void *arg);

/* 0 if a network namespace with inode @ino is in use here, else -ENOENT */
int netns_find(__u32 ino);

/* is @path a network namespace file (/run/netns/NAME, /proc/PID/ns/net)? */
bool netns_is_net(const char *path);

#endif /* SOCKFAN_NETNS_H */
