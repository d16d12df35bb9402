// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "source_lookup.h"
#include "sockfan_lookup.skel.h"
#include "netns.h"
#include "cli.h"

struct lookup_ctx {
	const struct sockfan_key *key;
	size_t n;
	struct lookup_result *r;
};

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

/* the segment's four-tuple as the helper takes it: the remote end is its source */
static __u32 tuple_fill(struct bpf_sock_tuple *t, const struct sockfan_key *k)
{
	if (k->family == AF_INET) {
		memcpy(&t->ipv4.saddr, k->raddr + 12, 4);
		memcpy(&t->ipv4.daddr, k->laddr + 12, 4);
		t->ipv4.sport = htons(k->rport);
		t->ipv4.dport = htons(k->lport);
		return sizeof(t->ipv4);
	}
	memcpy(t->ipv6.saddr, k->raddr, 16);
	memcpy(t->ipv6.daddr, k->laddr, 16);
	t->ipv6.sport = htons(k->rport);
	t->ipv6.dport = htons(k->lport);
	return sizeof(t->ipv6);
}

/*
 * sk_lookup programs attached to the namespace the caller is in, -1:
 * not known.  sockfan's own counter (bpf/sockfan_sklookup.bpf.c) is
 * left out: it picks no socket, so it cannot change the answer.
 */
static int sk_lookup_progs(void)
{
	__u32 ids[64], cnt = ARRAY_SIZE(ids), flags = 0, i;
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err, n = 0;

	if (fd < 0)
		return -1;
	err = bpf_prog_query(fd, BPF_SK_LOOKUP, 0, &flags, ids, &cnt);
	close(fd);
	if (err)
		return -1;
	/* a namespace takes 64 sk_lookup programs at most: @ids holds them all */
	for (i = 0; i < cnt && i < ARRAY_SIZE(ids); i++) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		bool ours;

		fd = bpf_prog_get_fd_by_id(ids[i]);
		ours = fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		       !strcmp(info.name, "count_lookup");
		if (fd >= 0)
			close(fd);
		n += !ours;
	}
	return n;
}

/* in the namespace the caller is in now (netns_each() entered it) */
static int lookup_here(__u32 netns, void *arg)
{
	/* never read: an Ethernet header's room, which the test run wants */
	unsigned char pkt[64] = { [12] = 0x08 };
	libbpf_print_fn_t old = libbpf_set_print(quiet);
	struct lookup_ctx *ctx = arg;
	struct sockfan_lookup_bpf *skel;
	char comm[16] = "";
	int err, progs;
	size_t i;

	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	(void)netns;
	skel = sockfan_lookup_bpf__open_and_load();
	libbpf_set_print(old);
	if (!skel) {
		err = -errno ?: -EINVAL;
		fprintf(stderr, "sockfan lookup: cannot load the lookup program (%s): it needs root (CAP_BPF and CAP_NET_ADMIN) and a kernel with BTF and bpf_skc_lookup_tcp() (5.2+)\n",
			strerror(-err));
		return err;
	}
	progs = sk_lookup_progs();
	/* sockfan's sk_lookup counters leave out what this thread asks */
	prctl(PR_GET_NAME, comm);
	prctl(PR_SET_NAME, SOCKFAN_LOOKUP_COMM);
	for (i = 0, err = 0; !err && i < ctx->n; i++) {
		memset(&skel->bss->answer, 0, sizeof(skel->bss->answer));
		skel->bss->tuple_len = tuple_fill(&skel->bss->tuple, &ctx->key[i]);
		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.sockfan_lookup), &opts);
		if (err) {
			err = -errno ?: -EINVAL;
			fprintf(stderr, "sockfan lookup: BPF_PROG_TEST_RUN of the lookup program failed: %s\n",
				strerror(-err));
			break;
		}
		ctx->r[i].answer = skel->bss->answer;
		ctx->r[i].sk_lookup_progs = progs;
	}
	prctl(PR_SET_NAME, comm);
	sockfan_lookup_bpf__destroy(skel);
	return err;
}

int lookup_run(__u32 netns, const struct sockfan_key *k, size_t n, struct lookup_result *r)
{
	struct lookup_ctx ctx = { k, n, r };

	memset(r, 0, n * sizeof(*r));
	if (!netns)
		return lookup_here(0, &ctx);
	return netns_each(netns, lookup_here, &ctx);
}
