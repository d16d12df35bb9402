/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cgroup (v2) of a task, and what its path says: the container
 * (docker, containerd, CRI-O, podman) and the Kubernetes pod it runs in.
 * Paths are as /proc/PID/cgroup shows them ("/system.slice/x.service"),
 * relative to the cgroup2 mount and to the reader's cgroup namespace.
 */
#ifndef SOCKFAN_CGROUP_H
#define SOCKFAN_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define CGROUP_ID_LEN	65	/* a container id: 64 hex digits */
#define CGROUP_UID_LEN	37	/* a pod UID: 8-4-4-4-12 */

struct cgroup_info {
	char *path;
	const char *runtime;		/* "docker", ...; NULL: not a container */
	char container[CGROUP_ID_LEN];	/* "": none in the path */
	char pod[CGROUP_UID_LEN];	/* "": none in the path */
};

/*
 * What @path names, from its components: the innermost container scope
 * (docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope,
 * libpod-ID.scope; as the cgroupfs driver makes them, libpod-ID, or a
 * bare ID under /docker/ or a pod<UID> directory) and the pod (kubepods...-pod<UID>.slice
 * with the UID's dashes as underscores, or pod<UID>).  @info->path is
 * left alone.
 */
void cgroup_parse(const char *path, struct cgroup_info *info);

/* is @path the cgroup @top or one below it? */
bool cgroup_under(const char *path, const char *top);

/*
 * --cgroup's argument @arg (an absolute path) as a path like
 * /proc/PID/cgroup's, into @out: given that way, or under the cgroup2
 * mount (/sys/fs/cgroup/...), without a trailing slash.  -ENOENT
 * (printed, naming @cmd) if there is no cgroup2 mount or no such cgroup.
 */
int cgroup_arg(const char *cmd, const char *arg, char *out, size_t len);

/*
 * Tasks' cgroups, looked up once per task and kept by path, so that a
 * million connections of one server share one record.  forget_tasks()
 * drops what tasks were in (pids are reused, tasks move); the records
 * stay until free, as long as the model that points at them.
 */
struct cgroup_cache;

struct cgroup_cache *cgroup_cache_new(void);
void cgroup_cache_free(struct cgroup_cache *c);
void cgroup_cache_forget_tasks(struct cgroup_cache *c);

/* the cgroup of task @pid, NULL if it is gone (or 0, or out of memory) */
const struct cgroup_info *cgroup_of_task(struct cgroup_cache *c, __u32 pid);

#endif /* SOCKFAN_CGROUP_H */
