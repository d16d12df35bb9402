// SPDX-License-Identifier: GPL-2.0
/*
 * Network namespace enumeration.  sock_diag answers for the namespace the
 * netlink socket was created in, so seeding every namespace means entering
 * each one; the namespace is named by its inode, as in /proc/PID/ns/net,
 * `ip netns identify` and the BPF records (net->ns.inum).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "netns.h"

__u32 netns_self(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return 0;
	return (__u32)st.st_ino;
}

struct ns_seen {
	__u32 *ino;
	size_t n, cap;
};

static int seen_add(struct ns_seen *s, __u32 ino)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->ino[i] == ino)
			return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		__u32 *p = realloc(s->ino, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->ino = p;
		s->cap = cap;
	}
	s->ino[s->n++] = ino;
	return 1;
}

/*
 * Namespaces that could not be entered for want of privileges, while
 * walking all of them: left out, as ss leaves out what it cannot see,
 * and said once per run (every look walks them again).
 */
static unsigned int denied;
static bool denied_said;

/* enter the namespace at @path if it is new and wanted, run @fn there */
static int visit(const char *path, struct ns_seen *seen, __u32 only,
		 bool (*skip)(__u32, void *), int (*fn)(__u32, void *), void *arg, int home)
{
	struct stat st;
	int fd, err;

	if (stat(path, &st))
		return 0;	/* the process exited meanwhile */
	if (only && st.st_ino != only)
		return 0;
	err = seen_add(seen, (__u32)st.st_ino);
	if (err <= 0)
		return err;
	if (skip && skip((__u32)st.st_ino, arg))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		close(fd);
		if (err == -EPERM && !only) {
			denied++;
			return 0;
		}
		fprintf(stderr, "sockfan: cannot enter network namespace %s: %s (run as root)\n",
			path, strerror(-err));
		return err;
	}
	close(fd);
	err = fn((__u32)st.st_ino, arg);
	if (setns(home, CLONE_NEWNET)) {
		fprintf(stderr, "sockfan: cannot return to own network namespace: %s\n",
			strerror(errno));
		return -errno;
	}
	return err;
}

int netns_each(__u32 only, int (*fn)(__u32 netns, void *arg), void *arg)
{
	return netns_each_but(only, NULL, fn, arg);
}

int netns_each_but(__u32 only, bool (*skip)(__u32 netns, void *arg),
		   int (*fn)(__u32 netns, void *arg), void *arg)
{
	struct ns_seen seen = { 0 };
	char path[512];
	struct dirent *d;
	int home, err = 0;
	DIR *dir;

	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return -errno;
	/* own namespace first: the common case, and it needs no setns */
	if (!only || only == netns_self()) {
		seen_add(&seen, netns_self());
		if (!skip || !skip(netns_self(), arg))
			err = fn(netns_self(), arg);
	}
	dir = opendir("/run/netns");
	while (!err && dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		err = visit(path, &seen, only, skip, fn, arg, home);
	}
	if (dir)
		closedir(dir);
	dir = opendir("/proc");
	while (!err && dir && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		err = visit(path, &seen, only, skip, fn, arg, home);
	}
	if (dir)
		closedir(dir);
	close(home);
	free(seen.ino);
	if (denied && !denied_said) {
		fprintf(stderr, "sockfan: %u network namespace%s left out: entering one needs CAP_SYS_ADMIN (run as root to see them all)\n",
			denied, denied == 1 ? "" : "s");
		denied_said = true;
	}
	denied = 0;
	return err;
}

static int stat_ino(const char *path, __u32 ino)
{
	struct stat st;

	return !stat(path, &st) && (__u32)st.st_ino == ino;
}

int netns_find(__u32 ino)
{
	char path[512];
	struct dirent *d;
	int found = ino == netns_self();
	DIR *dir;

	dir = opendir("/run/netns");
	while (!found && dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		found = d->d_name[0] != '.' && stat_ino(path, ino);
	}
	if (dir)
		closedir(dir);
	dir = opendir("/proc");
	while (!found && dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		found = d->d_name[0] >= '1' && d->d_name[0] <= '9' && stat_ino(path, ino);
	}
	if (dir)
		closedir(dir);
	return found ? 0 : -ENOENT;
}

bool netns_is_net(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool net;

	if (fd < 0)
		return false;
	net = ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
	close(fd);
	return net;
}
