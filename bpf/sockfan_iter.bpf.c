// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan's look at a million sockets: a BPF iterator over the TCP
 * sockets of the namespace that reads it (iter/tcp, as cat of a pinned
 * iterator would), writing a short fixed record per socket sockfan
 * shows (struct sockfan_iter_sock, include/sockfan/sockfan.h) instead
 * of sock_diag's netlink message with its attributes.  The kernel walks
 * the listening hash before the established one, so listeners come
 * first: their ports are marked, and only connections on a marked port
 * are written, not the host's own clients.  User space clears the marks
 * before each read and counts per port (user/source_iter.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <sockfan/sockfan.h>

#define AF_INET		2
#define AF_INET6	10

/*
 * Live states, as sock_diag's seed asks for them (user/seed_diag.c):
 * ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING
 */
#define LIVE_STATES	((1U << 1) | (1U << 4) | (1U << 5) | (1U << 8) | \
			 (1U << 9) | (1U << 11))
#define TCP_LISTEN_STATE	10

char LICENSE[] SEC("license") = "GPL";

/* one bit per local port that has a listener in this read */
struct port_marks {
	__u64 bits[65536 / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct port_marks);
} listened SEC(".maps");

static __always_inline void copy_addr(__u8 *dst, const struct sock_common *skc, bool local)
{
	__u32 v4 = local ? skc->skc_rcv_saddr : skc->skc_daddr;
	int i;

	if (skc->skc_family == AF_INET6) {
		const struct in6_addr *a = local ? &skc->skc_v6_rcv_saddr : &skc->skc_v6_daddr;

		bpf_probe_read_kernel(dst, 16, a);
		return;
	}
	for (i = 0; i < 10; i++)
		dst[i] = 0;
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &v4, 4);
}

/* the inode of the listener's socket file (sock_i_ino()), 0: none */
static __always_inline __u32 sock_ino(const struct sock *sk)
{
	const struct socket *so = sk->sk_socket;
	unsigned long ino = 0;

	if (!so)
		return 0;
	bpf_probe_read_kernel(&ino, sizeof(ino),
			      &container_of(so, struct socket_alloc, socket)->vfs_inode.i_ino);
	return ino;
}

SEC("iter/tcp")
int sockfan_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct sockfan_iter_listener rec = {};
	struct port_marks *marks;
	struct tcp_sock *tp;
	struct sock *sk;
	__u32 zero = 0, word;
	__u16 port;
	__u8 state;

	if (!skc)
		return 0;
	marks = bpf_map_lookup_elem(&listened, &zero);
	if (!marks)
		return 0;
	state = skc->skc_state;
	port = skc->skc_num;
	word = port / 64;
	/* the verifier wants the index bounded in this very register */
	barrier_var(word);
	if (word >= 65536 / 64)
		return 0;
	rec.sock.state = state;
	rec.sock.port = port;
	rec.sock.family = skc->skc_family;
	if (state == TCP_LISTEN_STATE) {
		tp = bpf_skc_to_tcp_sock(skc);
		if (!tp)
			return 0;
		sk = (struct sock *)tp;
		marks->bits[word] |= 1ULL << (port % 64);
		rec.sock.kind = SOCKFAN_ITER_LISTENER;
		copy_addr(rec.sock.addr, skc, true);
		rec.cookie = bpf_get_socket_cookie(sk);
		rec.qlen = sk->sk_ack_backlog;
		rec.backlog = sk->sk_max_ack_backlog;
		rec.drops = sk->sk_drops.counter;
		rec.inode = sock_ino(sk);
		bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
		return 0;
	}
	if (state >= 32 || !((1U << state) & LIVE_STATES) ||
	    !(marks->bits[word] & (1ULL << (port % 64))))
		return 0;
	rec.sock.kind = SOCKFAN_ITER_CONN;
	copy_addr(rec.sock.addr, skc, false);
	bpf_seq_write(ctx->meta->seq, &rec.sock, sizeof(rec.sock));
	return 0;
}
