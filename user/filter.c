// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "cli.h"

bool filter_parse_prefix(const char *s, struct fan_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	struct in_addr a4;
	unsigned long len;
	unsigned int max;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		sockfan_addr_v4mapped(p->addr, a4.s_addr);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		max = 128;
	} else {
		return false;
	}
	len = max;
	if (slash && !parse_uint(slash, 0, max, &len))
		return false;
	/* v4 bits sit behind the 96-bit ::ffff: prefix */
	p->len = len + 128 - max;
	p->set = true;
	return true;
}

static bool prefix_match(const struct fan_prefix *p, const __u8 *a)
{
	unsigned int full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr, a, full))
		return false;
	return !rest || !((p->addr[full] ^ a[full]) & (0xff00 >> rest));
}

bool filter_by_socket(const struct fan_filter *f)
{
	return f->family || f->pid || f->src.set || f->dst.set || f->cgroup;
}

static bool filter_common(const struct fan_filter *f, const struct sockfan_key *k)
{
	return (!f->netns || k->netns == f->netns) && (!f->port || k->lport == f->port) &&
	       (!f->family || k->family == f->family);
}

bool filter_listener(const struct fan_filter *f, const struct sockfan_key *k, __u32 pid)
{
	if (!filter_common(f, k) || (f->pid && pid != f->pid))
		return false;
	if (!f->src.set || prefix_match(&f->src, k->laddr))
		return true;
	/* 0.0.0.0 serves every v4 address; :: every address */
	if (!sockfan_addr_any(k->laddr))
		return false;
	return k->family == AF_INET6 || sockfan_addr_is_v4mapped(f->src.addr);
}

bool filter_conn(const struct fan_filter *f, const struct sockfan_key *k, __u32 pid)
{
	return filter_common(f, k) && (!f->pid || pid == f->pid) &&
	       (!f->src.set || prefix_match(&f->src, k->laddr)) &&
	       (!f->dst.set || prefix_match(&f->dst, k->raddr));
}

bool filter_conn_tasks(const struct fan_filter *f, const struct sockfan_key *k,
		       __u32 acc_pid, __u32 hold_pid)
{
	return filter_conn(f, k, acc_pid) ||
	       (f->pid && hold_pid == f->pid && filter_conn(f, k, hold_pid));
}

bool filter_cgroup(const struct fan_filter *f, const struct cgroup_info *cg)
{
	return !f->cgroup || (cg && cgroup_under(cg->path, f->cgroup));
}

bool event_of_listener(const struct sockfan_event *e)
{
	return e->kind == SOCKFAN_EV_LISTEN ||
	       (e->kind == SOCKFAN_EV_CLOSE && (e->flags & SOCKFAN_F_LISTENER));
}

bool filter_event(const struct fan_filter *f, const struct sockfan_event *e)
{
	/* with a task filter, an event that names no task is not shown */
	__u32 pid = e->flags & SOCKFAN_F_TASK ? e->pid : 0;

	if (e->kind == SOCKFAN_EV_LOOKUP && e->lookup.result == SOCKFAN_LOOKUP_LISTENER)
		return false;
	if (event_of_listener(e))
		return filter_listener(f, &e->key, pid);
	return filter_conn(f, &e->key, pid);
}
