/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's own lookup of one four-tuple (bpf/sockfan_lookup.bpf.c):
 * which socket a TCP segment from the remote end to the local one would
 * reach, run once in a namespace through BPF_PROG_TEST_RUN.
 */
#ifndef SOCKFAN_SOURCE_LOOKUP_H
#define SOCKFAN_SOURCE_LOOKUP_H

#include <stdbool.h>
#include <sockfan/sockfan.h>

struct lookup_result {
	struct sockfan_lookup_answer answer;
	/*
	 * BPF sk_lookup programs attached in the namespace: they run for
	 * real segments before the listeners are looked up (and for this
	 * lookup too), and may send the segment elsewhere; -1: not known
	 */
	int sk_lookup_progs;
};

/*
 * Look up each of the @n keys @k (laddr/lport the local end, raddr/rport
 * the remote one; an IPv4 key is looked up as IPv4, a v4-mapped IPv6 one
 * as IPv6, as the family says) in namespace @netns (0: the caller's),
 * into @r[i].  0, or a negative errno, said on stderr with what to do.
 */
int lookup_run(__u32 netns, const struct sockfan_key *k, size_t n, struct lookup_result *r);

#endif /* SOCKFAN_SOURCE_LOOKUP_H */
