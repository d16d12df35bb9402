/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels sockfan.ko is built for (Debian's
 * 6.1, 6.1-rt and 6.12) is handled here and nowhere else.
 *
 * - inet_csk_accept(): 6.1 has (sk, flags, err, kern), 6.10+ has
 *   (sk, struct proto_accept_arg *).  sockfan only needs the listener
 *   (first argument in both) and the returned child, so the kretprobe
 *   reads them from the registers and is version independent.
 * - Tracepoint probes run with preemption disabled on all three, also on
 *   PREEMPT_RT: hence raw spinlocks, and objects taken from pools that a
 *   work item refills (sockfan_pool.c), never from the slab in a hook.
 * - IPv6 addresses of a socket exist only with CONFIG_IPV6.
 * - The listener lookups, __inet_lookup_listener() and
 *   inet6_lookup_listener(), lost their hashinfo argument after 6.12 and
 *   tcp_v{4,6}_send_reset() gained a reason in 6.10: sockfan reads only
 *   the return value of the former and the first two arguments (sk, skb)
 *   of the latter, the same in all of them.
 * - Accept-queue overflows are decided in tcp_conn_request() and
 *   tcp_v{4,6}_syn_recv_sock(), whose listener argument has the same
 *   place on all three.
 * - sk_drops is an atomic_t up to 6.12 (later kernels spread it over NUMA
 *   nodes): read it through sockfan_sk_drops().
 * - Seeding walks a netns's TCP tables: net->ipv4.tcp_death_row.hashinfo
 *   on all three (its own established hash when the netns was made with
 *   net.ipv4.tcp_child_ehash_entries, else the global tcp_hashinfo, which
 *   6.12 no longer exports).  The listening hash (lhash2) is the global
 *   one's in both cases, an hlist_nulls under each bucket's spinlock.
 */
#ifndef _SOCKFAN_COMPAT_H
#define _SOCKFAN_COMPAT_H

#include <linux/ptrace.h>
#include <linux/string.h>
#include <net/inet_hashtables.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#define SOCKFAN_ACCEPT_SYMBOL	"inet_csk_accept"

static inline struct sock *sockfan_accept_listener(struct pt_regs *regs)
{
	return (struct sock *)regs_get_kernel_argument(regs, 0);
}

static inline struct sock *sockfan_accept_child(struct pt_regs *regs)
{
	return (struct sock *)regs_return_value(regs);
}

#define SOCKFAN_LOOKUP_LISTENER_SYMBOLS \
	{ "__inet_lookup_listener", "inet6_lookup_listener" }
#define SOCKFAN_SEND_RESET_SYMBOLS \
	{ "tcp_v4_send_reset", "tcp_v6_send_reset" }

/* tcp_v{4,6}_send_reset(sk, skb, ...): sk is NULL when no socket matched */
static inline const struct sock *sockfan_reset_sk(struct pt_regs *regs)
{
	return (const struct sock *)regs_get_kernel_argument(regs, 0);
}

static inline const struct sk_buff *sockfan_reset_skb(struct pt_regs *regs)
{
	return (const struct sk_buff *)regs_get_kernel_argument(regs, 1);
}

static inline void sockfan_sk_v6_addrs(const struct sock *sk, u8 *laddr, u8 *raddr)
{
#if IS_ENABLED(CONFIG_IPV6)
	memcpy(laddr, &sk->sk_v6_rcv_saddr, 16);
	memcpy(raddr, &sk->sk_v6_daddr, 16);
#endif
}

/*
 * Where the accept queue's overflow is decided: tcp_conn_request(rsk_ops,
 * af_ops, sk, skb) for a SYN, tcp_v{4,6}_syn_recv_sock(sk, skb, ...) for
 * the last ACK, the same arguments on all three kernels.
 */
#define SOCKFAN_OVERFLOW_SYN_SYMBOL	"tcp_conn_request"
#define SOCKFAN_OVERFLOW_ACK_SYMBOLS \
	"tcp_v4_syn_recv_sock", "tcp_v6_syn_recv_sock"

static inline const struct sock *sockfan_syn_listener(struct pt_regs *regs)
{
	return (const struct sock *)regs_get_kernel_argument(regs, 2);
}

static inline const struct sock *sockfan_syn_recv_listener(struct pt_regs *regs)
{
	return (const struct sock *)regs_get_kernel_argument(regs, 0);
}

static inline const struct sk_buff *sockfan_syn_recv_skb(struct pt_regs *regs)
{
	return (const struct sk_buff *)regs_get_kernel_argument(regs, 1);
}

/*
 * tcp_child_process(parent, child, skb): the handshake's last ACK goes
 * from the listener the SYN's lookup chose to the child cloned from it,
 * which then becomes ESTABLISHED, on this CPU, in this call.  The same
 * arguments on all three kernels.
 */
#define SOCKFAN_CHILD_SYMBOL	"tcp_child_process"

static inline struct sock *sockfan_child_parent(struct pt_regs *regs)
{
	return (struct sock *)regs_get_kernel_argument(regs, 0);
}

static inline struct sock *sockfan_child_child(struct pt_regs *regs)
{
	return (struct sock *)regs_get_kernel_argument(regs, 1);
}

/*
 * Every segment @sk dropped (sk_drops): for a listener, accept-queue
 * overflows and other drops alike, e.g. TCP_DEFER_ACCEPT's bare ACKs
 */
static inline u32 sockfan_sk_drops(const struct sock *sk)
{
	return atomic_read(&sk->sk_drops);
}

/* the TCP hash tables @net's sockets are in (see above) */
static inline struct inet_hashinfo *sockfan_tcp_hashinfo(const struct net *net)
{
	return net->ipv4.tcp_death_row.hashinfo;
}

#endif /* _SOCKFAN_COMPAT_H */
