/* SPDX-License-Identifier: GPL-2.0 */
/* Text forms of the ABI's values, as ss prints them. */
#ifndef SOCKFAN_FORMAT_H
#define SOCKFAN_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sockfan/sockfan.h>

#include "cgroup.h"

#define FMT_ADDR_LEN	48	/* "[ffff:...:ffff]:65535" */

/* address of @k (local when @remote is 0) as "1.2.3.4" or "::1" */
const char *fmt_addr(char *buf, size_t len, const struct sockfan_key *k, int remote);

/* "1.2.3.4:80" or "[::1]:80" */
const char *fmt_endpoint(char *buf, size_t len, const struct sockfan_key *k, int remote);

/* "350us", "12ms", "1.5s", "2m03s"; "-" for 0 (unknown) */
const char *fmt_duration(char *buf, size_t len, __u64 ns);

/* @n in decimal, or "-" when the source cannot count it (!@known) */
const char *fmt_count(char *buf, size_t len, __u64 n, bool known);

/* @s as a Graphviz DOT string, quotes included */
void fput_dot_str(FILE *fp, const char *s);

/* @s as a Prometheus label value, quotes included */
void fput_prom_label(FILE *fp, const char *s);

/*
 * TCP states (the kernel's numbers, TCP_ESTABLISHED 1 ... TCP_NEW_SYN_RECV
 * 12) by the names ss gives them: "ESTAB", "CLOSE-WAIT", ...; "?" for 0
 * (unknown) or a number past them.
 */
#define FMT_TCP_STATES	13
const char *fmt_state(unsigned int state);

/* histogram @h (enum sockfan_hist) by name: "handshake", "accept_wait", "lifetime" */
const char *fmt_hist(int h);

/* ... and what it measures, for a heading or a metric's help */
const char *fmt_hist_help(int h);

/* the state named @name as fmt_state() names it, or 0 */
unsigned int fmt_state_parse(const char *name);

/*
 * "1234/nginx"; a thread other than the main one as "1234/1240/haproxy"
 * (pid/tid/thread name: threads of one process share the pid)
 */
const char *fmt_thread(char *buf, size_t len, __u32 pid, __u32 tid, const char *comm);

/*
 * What record @e says happened, as `sockfan trace` names it: "listen",
 * "established", "accept", "close", "close-listener", "overflow",
 * "refused" or "stray"
 */
const char *fmt_event(const struct sockfan_event *e);

/* "1234/nginx", or "-" when @pid is 0 */
const char *fmt_task(char *buf, size_t len, __u32 pid, const char *comm);

/*
 * "/system.slice/x.service", with what its path names: "/.../docker-ID.scope
 * (docker 0123456789ab, pod UID)" (the short id, as docker ps shows it);
 * "-" for NULL
 */
const char *fmt_cgroup(char *buf, size_t len, const struct cgroup_info *cg);

#endif /* SOCKFAN_FORMAT_H */
