// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "cli.h"

static bool all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* a pod UID, 8-4-4-4-12 hex digits, with @sep for its dashes */
static bool pod_uid(const char *s, size_t n, char sep, char *out)
{
	size_t i;

	if (n != CGROUP_UID_LEN - 1)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != sep : !isxdigit((unsigned char)s[i]))
			return false;
		out[i] = dash ? '-' : s[i];
	}
	out[n] = '\0';
	return true;
}

/*
 * "docker-ID.scope" and the like (systemd's driver), or "libpod-ID"
 * (podman's cgroupfs driver, under /libpod_parent): the runtime, with
 * the ID in @id
 */
static const char *container_scope(const char *c, size_t n, char *id)
{
	static const struct {
		const char *prefix, *runtime;
	} scopes[] = {
		{ "docker-", "docker" },
		{ "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" },
		{ "libpod-", "podman" },
	};
	const size_t idlen = CGROUP_ID_LEN - 1, sfx = strlen(".scope");
	size_t i, p;

	for (i = 0; i < ARRAY_SIZE(scopes); i++) {
		p = strlen(scopes[i].prefix);
		if ((n == p + idlen || (n == p + idlen + sfx &&
					!strncmp(c + p + idlen, ".scope", sfx))) &&
		    !strncmp(c, scopes[i].prefix, p) && all_hex(c + p, idlen)) {
			memcpy(id, c + p, idlen);
			id[idlen] = '\0';
			return scopes[i].runtime;
		}
	}
	return NULL;
}

/* "kubepods-besteffort-pod<UID>.slice" (systemd) or "pod<UID>" (cgroupfs) */
static bool pod_component(const char *c, size_t n, char *uid)
{
	const char *pod;
	size_t left;

	if (n > 6 && !strncmp(c + n - 6, ".slice", 6) && !strncmp(c, "kubepods", 8)) {
		pod = memmem(c, n, "-pod", 4);
		if (!pod)
			return false;
		pod += 4;
		left = c + n - 6 - pod;
		return pod_uid(pod, left, '_', uid);
	}
	return n > 3 && !strncmp(c, "pod", 3) && pod_uid(c + 3, n - 3, '-', uid);
}

void cgroup_parse(const char *path, struct cgroup_info *info)
{
	const size_t idlen = CGROUP_ID_LEN - 1;
	const char *c, *end, *prev = "";
	char id[CGROUP_ID_LEN], uid[CGROUP_UID_LEN];
	const char *rt;
	size_t n;

	info->runtime = NULL;
	info->container[0] = info->pod[0] = '\0';
	for (c = path; *c; c = *end ? end + 1 : end) {
		end = strchrnul(c, '/');
		n = end - c;
		if (!n)
			continue;
		rt = container_scope(c, n, id);
		/* the cgroupfs driver: /docker/ID, /kubepods/.../pod<UID>/ID */
		if (!rt && n == idlen && all_hex(c, n)) {
			if (!strncmp(prev, "docker/", 7))
				rt = "docker";
			else if (info->pod[0])
				rt = "kubernetes";
			memcpy(id, c, idlen);
			id[idlen] = '\0';
		}
		if (rt) {
			memcpy(info->container, id, sizeof(id));
			info->runtime = rt;
		} else if (pod_component(c, n, uid)) {
			memcpy(info->pod, uid, sizeof(uid));
		}
		prev = c;
	}
}

bool cgroup_under(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (n == 1 && top[0] == '/')
		return true;
	return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

/* where @mounts (a mount table) has cgroup2, after @root; -ENOENT: nowhere */
static int cgroup2_mount_in(const char *mounts, const char *root, char *out, size_t len)
{
	FILE *f = setmntent(mounts, "r");
	struct mntent *m;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(out, len, "%s%s", root, m->mnt_dir);
			err = 0;
			break;
		}
	endmntent(f);
	return err;
}

/* where cgroup2 is mounted (/sys/fs/cgroup, or .../unified on a hybrid host) */
static int cgroup2_mount(char *out, size_t len)
{
	return cgroup2_mount_in("/proc/self/mounts", "", out, len);
}

int cgroup_arg(const char *cmd, const char *arg, char *out, size_t len)
{
	char mnt[256], dir[4352];
	size_t n;
	struct stat st;

	if (cgroup2_mount(mnt, sizeof(mnt))) {
		/* ip netns exec mounts a /sys of its own, without cgroups */
		fprintf(stderr, "%s %s: --cgroup %s: no cgroup2 file system is mounted here, so no cgroup can be checked (under ip netns exec, run %s outside it with --netns NAME; else mount -t cgroup2 none /sys/fs/cgroup)\n",
			prog_name, cmd, arg, prog_name);
		return -ENOENT;
	}
	n = strlen(mnt);
	if (!strncmp(arg, mnt, n) && (arg[n] == '/' || arg[n] == '\0'))
		arg += n;
	snprintf(out, len, "%s", *arg ? arg : "/");
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	snprintf(dir, sizeof(dir), "%s%s", mnt, out);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s %s: --cgroup %s: no such cgroup (%s is not a directory); see /proc/PID/cgroup for a task's\n",
			prog_name, cmd, arg, dir);
		return -ENOENT;
	}
	return 0;
}

struct cgroup_rec {
	struct cgroup_info info;
	struct cgroup_rec *next;
};

struct task_slot {
	__u32 pid;		/* 0: empty */
	const struct cgroup_info *cg;	/* NULL: the task is gone */
};

struct cgroup_cache {
	struct cgroup_rec *recs;	/* by path, few: one per server */
	struct task_slot *tasks;	/* open addressing, by pid */
	size_t ntasks, cap;
};

struct cgroup_cache *cgroup_cache_new(void)
{
	return calloc(1, sizeof(struct cgroup_cache));
}

void cgroup_cache_forget_tasks(struct cgroup_cache *c)
{
	if (c->tasks)
		memset(c->tasks, 0, c->cap * sizeof(*c->tasks));
	c->ntasks = 0;
}

void cgroup_cache_free(struct cgroup_cache *c)
{
	struct cgroup_rec *r, *next;

	if (!c)
		return;
	for (r = c->recs; r; r = next) {
		next = r->next;
		free(r->info.path);
		free(r);
	}
	free(c->tasks);
	free(c);
}

/* the "0::/path" line of /proc/PID/cgroup into @path; false: none */
static bool task_cgroup_path(__u32 pid, char *path, size_t len)
{
	char file[32], line[4352];
	bool found = false;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%u/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, len, "%s", line + 3);
			found = true;
		}
	fclose(f);
	return found;
}

static const struct cgroup_info *intern(struct cgroup_cache *c, const char *path)
{
	struct cgroup_rec *r;

	for (r = c->recs; r; r = r->next)
		if (!strcmp(r->info.path, path))
			return &r->info;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->info.path = strdup(path);
	if (!r->info.path) {
		free(r);
		return NULL;
	}
	cgroup_parse(path, &r->info);
	r->next = c->recs;
	c->recs = r;
	return &r->info;
}

static int grow(struct cgroup_cache *c)
{
	size_t cap = c->cap ? 2 * c->cap : 256, i, j;
	struct task_slot *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < c->cap; i++) {
		if (!c->tasks[i].pid)
			continue;
		for (j = c->tasks[i].pid & (cap - 1); t[j].pid; j = (j + 1) & (cap - 1))
			;
		t[j] = c->tasks[i];
	}
	free(c->tasks);
	c->tasks = t;
	c->cap = cap;
	return 0;
}

const struct cgroup_info *cgroup_of_task(struct cgroup_cache *c, __u32 pid)
{
	char path[4352];
	size_t i;

	if (!pid)
		return NULL;
	if (2 * (c->ntasks + 1) > c->cap && grow(c))
		return NULL;
	for (i = pid & (c->cap - 1); c->tasks[i].pid; i = (i + 1) & (c->cap - 1))
		if (c->tasks[i].pid == pid)
			return c->tasks[i].cg;
	c->tasks[i].pid = pid;
	c->tasks[i].cg = task_cgroup_path(pid, path, sizeof(path)) ? intern(c, path) : NULL;
	c->ntasks++;
	return c->tasks[i].cg;
}
