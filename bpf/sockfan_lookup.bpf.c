// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan lookup: which socket does a TCP segment with this four-tuple
 * reach?  The kernel's own lookup answers: bpf_skc_lookup_tcp() runs the
 * receive path's demultiplexing (__inet_lookup(): the established hash,
 * then the listeners, a SO_REUSEPORT group's member picked by the
 * four-tuple's hash), here from a tc program that user space runs once
 * through BPF_PROG_TEST_RUN, in the namespace asked about.  It changes
 * nothing and sends nothing: the packet it is given is never looked at.
 * The answer goes to .bss (struct sockfan_lookup_answer).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <sockfan/sockfan.h>

#define AF_INET		2
#define AF_INET6	10
#define TCP_LISTEN_STATE	10
#define TCP_TIME_WAIT_STATE	6
#define TCP_NEW_SYN_RECV_STATE	12
/* members of a group looked through for the one found: SO_REUSEPORT groups are small */
#define REUSE_MAX	1024

char LICENSE[] SEC("license") = "GPL";

/* the question, as the segment carries it: saddr/sport the remote end */
struct bpf_sock_tuple tuple;
__u32 tuple_len;
struct sockfan_lookup_answer answer;

static __always_inline void copy_addrs(const struct sock_common *skc)
{
	if (answer.family == AF_INET6) {
		bpf_probe_read_kernel(answer.laddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_probe_read_kernel(answer.raddr, 16, &skc->skc_v6_daddr);
		return;
	}
	sockfan_addr_v4mapped(answer.laddr, BPF_CORE_READ(skc, skc_rcv_saddr));
	sockfan_addr_v4mapped(answer.raddr, BPF_CORE_READ(skc, skc_daddr));
}

/* where @sk stands in its SO_REUSEPORT group, if it has one */
static __always_inline void reuse_member(const struct sock *sk)
{
	const struct sock_reuseport *reuse = BPF_CORE_READ(sk, sk_reuseport_cb);
	__u32 i, n, off = bpf_core_field_offset(struct sock_reuseport, socks);
	const struct sock *member;

	if (!reuse)
		return;
	n = BPF_CORE_READ(reuse, num_socks);
	answer.reuse_members = n;
	answer.reuse_prog = !!BPF_CORE_READ(reuse, prog);
	for (i = 0; i < n && i < REUSE_MAX; i++) {
		if (bpf_probe_read_kernel(&member, sizeof(member),
					  (const char *)reuse + off + i * sizeof(member)))
			break;
		if (member == sk) {
			answer.reuse_index = i;
			break;
		}
	}
}

SEC("tc")
int sockfan_lookup(struct __sk_buff *skb)
{
	const struct sock_common *skc;
	struct bpf_sock *bsk;
	struct tcp_request_sock *req;
	struct tcp_timewait_sock *tw;
	struct tcp_sock *tp;
	const struct socket *so;
	__u32 len = tuple_len;

	if (len != sizeof(tuple.ipv4) && len != sizeof(tuple.ipv6))
		return 0;
	bsk = bpf_skc_lookup_tcp(skb, &tuple, len, BPF_F_CURRENT_NETNS, 0);
	if (!bsk)
		return 0;
	answer.found = 1;
	answer.state = bsk->state;
	answer.family = bsk->family;
	answer.lport = bsk->src_port;
	answer.rport = bpf_ntohs(bsk->dst_port);
	tp = bpf_skc_to_tcp_sock(bsk);
	tw = bpf_skc_to_tcp_timewait_sock(bsk);
	req = bpf_skc_to_tcp_request_sock(bsk);
	if (tp)
		skc = &tp->inet_conn.icsk_inet.sk.__sk_common;
	else if (tw)
		skc = &tw->tw_sk.__tw_common;
	else if (req)
		skc = &req->req.req.__req_common;
	else
		skc = NULL;
	if (skc) {
		answer.cookie = BPF_CORE_READ(skc, skc_cookie.counter);
		answer.netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
		copy_addrs(skc);
	}
	if (tp) {
		so = BPF_CORE_READ(&tp->inet_conn.icsk_inet.sk, sk_socket);
		if (so)
			answer.inode = BPF_CORE_READ(container_of(so, struct socket_alloc, socket),
						     vfs_inode.i_ino);
		if (answer.state == TCP_LISTEN_STATE)
			reuse_member(&tp->inet_conn.icsk_inet.sk);
	}
	if (req)
		answer.listener = BPF_CORE_READ(req, req.req.__req_common.skc_listener,
						__sk_common.skc_cookie.counter);
	bpf_sk_release(bsk);
	return 0;
}
