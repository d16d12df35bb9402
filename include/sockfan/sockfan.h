/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * sockfan event ABI: the one definition of the event record and of the
 * connection key, shared by the kernel module (kmod/), the BPF programs
 * (bpf/) and the sockfan command (user/).
 *
 * Rules that keep it one ABI for three compilers (gcc for the kernel,
 * clang -target bpf, gcc for user space):
 *  - only fixed-width __u8/__u16/__u32/__u64 members, explicit padding,
 *    every struct a multiple of 8 bytes, no bitfields, no pointers;
 *  - the BPF side includes vmlinux.h (which defines the __u types and
 *    must not meet <linux/types.h>), everything else <linux/types.h>.
 */
#ifndef _SOCKFAN_SOCKFAN_H
#define _SOCKFAN_SOCKFAN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SOCKFAN_ABI_VERSION	5
#define SOCKFAN_COMM_LEN	16

/* /proc/net/sockfan/<file>, one directory per network namespace */
#define SOCKFAN_PROC_DIR	"sockfan"

enum sockfan_kind {
	SOCKFAN_EV_LISTEN = 1,	/* socket entered LISTEN (listen(2)) */
	SOCKFAN_EV_ESTABLISHED,	/* passive handshake done: child queued */
	SOCKFAN_EV_ACCEPT,	/* accept(2) handed the child to a task */
	SOCKFAN_EV_CLOSE,	/* socket reached CLOSE: leaves live state */
	SOCKFAN_EV_LOOKUP,	/* demux of incoming segments (see result) */
	/*
	 * A listener's accept queue was full when a SYN or a handshake's
	 * final ACK came (what ListenOverflows counts, per listener): the
	 * segment is dropped.  cookie and key are the listener's.
	 */
	SOCKFAN_EV_OVERFLOW,
};

/*
 * sockfan_event.lookup.result.  Hits in the established hash are not
 * recorded (a connection's segments_in counts them): 1 is not used.
 */
enum sockfan_lookup_result {
	SOCKFAN_LOOKUP_LISTENER = 2,	/* hit a listener (reuseport member) */
	/*
	 * No socket, the kernel answers RST.  A SYN (without ACK) is a
	 * connection refused: nobody listens on the port.  Anything else
	 * is a stray: a segment for a connection that is gone (most often
	 * an outgoing one, to its ephemeral port), which says nothing
	 * about the port, so it is kept apart.
	 */
	SOCKFAN_LOOKUP_REFUSED,
	SOCKFAN_LOOKUP_STRAY,
};

/* sockfan_event.flags */
#define SOCKFAN_F_TASK		(1U << 0) /* pid/comm are the acting task */
/* (1U << 1): free; it was a snapshot's mark, which no capture path writes */
#define SOCKFAN_F_LISTENER	(1U << 2) /* CLOSE of a listening socket */

/*
 * The key the kernel itself demultiplexes on: the four-tuple, plus the
 * network namespace it lives in.  Addresses are always 16 bytes: IPv4 is
 * stored v4-mapped (::ffff:a.b.c.d), so one key type serves both
 * families; @family is the socket's own family (an IPv4 peer of a
 * dual-stack AF_INET6 listener keeps AF_INET6, as ss shows it).
 * Ports are in host byte order; a listener has rport == 0 and raddr ::.
 */
struct sockfan_key {
	__u8  laddr[16];
	__u8  raddr[16];
	__u16 lport;
	__u16 rport;
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 __pad;
	__u32 netns;		/* inode of /proc/PID/ns/net */
	__u32 __pad2;
};

/*
 * IPv4 address @addr (network order) as sockfan_key holds it: v4-mapped,
 * ::ffff:a.b.c.d.  Plain loops: the BPF side has no libc.
 */
static inline void sockfan_addr_v4mapped(__u8 *dst, __u32 addr)
{
	const __u8 *a = (const __u8 *)&addr;
	int i;

	for (i = 0; i < 10; i++)
		dst[i] = 0;
	dst[10] = 0xff;
	dst[11] = 0xff;
	for (i = 0; i < 4; i++)
		dst[12 + i] = a[i];
}

/* is @a (16 bytes) the v4-mapped form of an IPv4 address? */
static inline int sockfan_addr_is_v4mapped(const __u8 *a)
{
	int i;

	for (i = 0; i < 10; i++)
		if (a[i])
			return 0;
	return a[10] == 0xff && a[11] == 0xff;
}

/* :: or ::ffff:0.0.0.0: a listener bound to every address */
static inline int sockfan_addr_any(const __u8 *a)
{
	int i;

	for (i = 12; i < 16; i++)
		if (a[i])
			return 0;
	return sockfan_addr_is_v4mapped(a) ||
	       !(a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] |
		 a[8] | a[9] | a[10] | a[11]);
}

/*
 * The TCP states that decide a record, as the kernel numbers them
 * (include/net/tcp_states.h; uapi as BPF_TCP_* in linux/bpf.h, so they
 * cannot change).  Spelled here because the three sides get TCP_* from
 * three headers.
 */
enum {
	SOCKFAN_TCP_ESTABLISHED = 1,
	SOCKFAN_TCP_SYN_RECV = 3,
	SOCKFAN_TCP_CLOSE = 7,
	SOCKFAN_TCP_LISTEN = 10,
};

/*
 * The record a TCP state change makes, decided here once for the
 * module's tracepoint probe and the BPF programs: LISTEN; a passive
 * handshake's SYN_RECV -> ESTABLISHED; CLOSE, of a connection or (from
 * LISTEN, with SOCKFAN_F_LISTENER) of a listener.  0: no record (the
 * client side, FINs, the states between).
 */
static inline __u16 sockfan_state_kind(int oldstate, int newstate)
{
	if (newstate == SOCKFAN_TCP_LISTEN)
		return SOCKFAN_EV_LISTEN;
	if (oldstate == SOCKFAN_TCP_SYN_RECV && newstate == SOCKFAN_TCP_ESTABLISHED)
		return SOCKFAN_EV_ESTABLISHED;
	if (newstate == SOCKFAN_TCP_CLOSE)
		return SOCKFAN_EV_CLOSE;
	return 0;
}

/*
 * Could listener @l have handed out connection @c, and how surely: 2 it
 * is bound to @c's local address, 1 to every address (a wildcard), 0
 * not (another port, family or address).  A child has its listener's
 * family, v4-mapped peers included.  Namespaces are the caller's to
 * compare.  Where several fit (a SO_REUSEPORT group), only accept()
 * tells which one it was.
 */
static inline int sockfan_listener_fit(const struct sockfan_key *l, const struct sockfan_key *c)
{
	int i;

	if (l->lport != c->lport || l->family != c->family)
		return 0;
	for (i = 0; i < 16; i++)
		if (l->laddr[i] != c->laddr[i])
			return sockfan_addr_any(l->laddr) ? 1 : 0;
	return 2;
}

struct sockfan_listen_info {
	__u32 backlog;		/* listen(2) backlog (sk_max_ack_backlog) */
	__u32 __pad;
};

/* ESTABLISHED and ACCEPT: the child and the queue it went through */
struct sockfan_accept_info {
	__u64 listener;		/* cookie of the listener, 0 if unknown */
	__u32 qlen;		/* accept-queue depth after this event */
	__u32 max_backlog;	/* listener's sk_max_ack_backlog */
	__u64 wait_ns;		/* ACCEPT: time from ESTABLISHED to accept() */
};

struct sockfan_close_info {
	__u64 lifetime_ns;	/* from ESTABLISHED (or LISTEN) to CLOSE, 0 if unknown */
	__u16 oldstate;		/* TCP state before CLOSE (TCP_ESTABLISHED, ...) */
	__u16 __pad[3];
};

struct sockfan_lookup_info {
	__u64 listener;		/* LISTENER: cookie of the chosen member */
	__u32 result;		/* enum sockfan_lookup_result */
	__u32 count;		/* segments this record stands for */
};

struct sockfan_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC, ns */
	__u64 cookie;		/* socket cookie (SO_COOKIE, ss -e "sk:") */
	struct sockfan_key key;
	__u32 pid;		/* tgid, valid with SOCKFAN_F_TASK */
	__u32 flags;		/* SOCKFAN_F_* */
	char  comm[SOCKFAN_COMM_LEN];	/* the thread's name (tid's) */
	__u16 kind;		/* enum sockfan_kind */
	__u16 state;		/* TCP state after the event */
	__u32 tid;		/* thread id, valid with SOCKFAN_F_TASK (0: unknown) */
	union {
		struct sockfan_listen_info listen;
		struct sockfan_accept_info accept;	/* ESTABLISHED, ACCEPT */
		struct sockfan_close_info close;
		struct sockfan_lookup_info lookup;
	};
};

/*
 * Aggregates kept in the kernel, per (network namespace, local port):
 * counters since the capture began and log2 histograms of times, as
 * libbpf-tools keep theirs.  Slot i counts times in [2^i, 2^(i+1))
 * microseconds (slot 0 also below 1 us); the last slot holds everything
 * longer (2^35 us, about 9.5 hours, and more).  A record per connection
 * is written only while someone asks for one: these are what is left
 * when nobody does.
 */
#define SOCKFAN_HIST_SLOTS	36

enum sockfan_hist {
	/* the passive handshake: SYN-ACK sent to its ACK (the child's first RTT sample) */
	SOCKFAN_HIST_HANDSHAKE,
	SOCKFAN_HIST_ACCEPT_WAIT,	/* ESTABLISHED to accept() */
	SOCKFAN_HIST_LIFETIME,		/* ESTABLISHED to CLOSE */
	SOCKFAN_NR_HISTS,
};

/*
 * The same counters and histograms are kept per listener (the BPF
 * programs' map "listener_stats", keyed by the listener's cookie): what
 * each member of a SO_REUSEPORT group was handed, accepted and closed.
 * @refused and @strays have no listener and stay 0 there.
 */
struct sockfan_port_key {
	__u32 netns;		/* inode of the namespace */
	__u16 port;		/* local port, host order */
	__u16 __pad;
};

struct sockfan_port_stats {
	__u64 handshakes;	/* passive handshakes completed (ESTABLISHED) */
	__u64 accepted;		/* accept() returns */
	__u64 closed;		/* connections followed to CLOSE */
	__u64 overflows;	/* SYNs and final ACKs dropped: accept queue full */
	__u64 refused;		/* SYNs that found no socket (RST) */
	__u64 listener_hits;	/* listener lookups that found a listener */
	/*
	 * Port 0 only: segments of the namespace that found no socket and
	 * were no SYN (a connection that is gone), which count for no port
	 */
	__u64 strays;
	__u64 sum_ns[SOCKFAN_NR_HISTS];	/* sums of the times in each histogram */
	__u64 slots[SOCKFAN_NR_HISTS][SOCKFAN_HIST_SLOTS];
};

/*
 * Listener lookups counted by the sk_lookup program
 * (bpf/sockfan_sklookup.bpf.c, map "listener_lookups", a __u64 count
 * per CPU): where a segment that missed the established hash found a
 * listener.  The program sees the address and port looked up, not the
 * socket the kernel then picks: it counts the lookups that a live
 * listener covers (map "listen_addrs", kept by bpf/sockfan.bpf.c).
 */
/*
 * The name `sockfan lookup` gives its thread while the kernel answers
 * (BPF_PROG_TEST_RUN): the sk_lookup program does not count lookups
 * made by a task of that name.  15 characters at most.
 */
#define SOCKFAN_LOOKUP_COMM	"sockfan-lookup"

struct sockfan_lookup_key {
	__u8 laddr[16];		/* local address looked up (v4 mapped) */
	__u32 netns;		/* inode of the namespace */
	__u16 port;		/* local port, host order */
	__u16 family;		/* AF_INET or AF_INET6 */
};

/*
 * Map "listen_addrs" (struct sockfan_lookup_key of a listener's bound
 * address -> this): the live listeners bound there, and how many of
 * them are IPv6 sockets that take IPv4 too ([::] without IPV6_V6ONLY)
 */
struct sockfan_listen_count {
	__u32 listeners;
	__u32 dual;
};

/*
 * The BPF path's entry for a passive connection it follows (its map
 * "born", keyed by the socket's cookie or address): when the handshake
 * completed (0: not seen, the connection is older than the programs)
 * and the port it counts for.  User space writes it for connections a
 * sock_diag snapshot found, so that their CLOSE is followed.
 */
struct sockfan_born {
	__u64 est_ns;		/* CLOCK_MONOTONIC, 0: unknown */
	__u32 netns;
	__u16 port;
	__u16 __pad;
	__u64 listener;		/* cookie of the listener it came from, 0: unknown */
};

/*
 * What the BPF socket iterator (bpf/sockfan_iter.bpf.c) writes of the
 * TCP sockets of a namespace, for a look at a million of them: every
 * listener, then each live connection on a port one listens on (not the
 * host's own clients), in the kernel's hash order.  A record starts with
 * struct sockfan_iter_sock; a listener's goes on as struct
 * sockfan_iter_listener.
 */
enum sockfan_iter_kind {
	SOCKFAN_ITER_CONN = 1,
	SOCKFAN_ITER_LISTENER,
};

struct sockfan_iter_sock {
	__u8 kind;		/* enum sockfan_iter_kind */
	__u8 state;		/* TCP state (ESTABLISHED, CLOSE_WAIT, ...) */
	__u16 port;		/* local port, host order */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 __pad;
	__u8 addr[16];		/* listener: local, connection: remote (v4 mapped) */
};

struct sockfan_iter_listener {
	struct sockfan_iter_sock sock;
	__u64 cookie;
	__u32 qlen;		/* accept queue now */
	__u32 backlog;		/* its limit (sk_max_ack_backlog) */
	__u32 drops;		/* sk_drops */
	__u32 inode;		/* of its socket file, for its owner; 0: none */
};

/*
 * `sockfan lookup`'s answer (bpf/sockfan_lookup.bpf.c): the socket the
 * kernel's own lookup (bpf_skc_lookup_tcp(), run once through
 * BPF_PROG_TEST_RUN in the namespace asked about) finds for a TCP
 * segment from the remote end to the local one, as the receive path's
 * demultiplexing does: the established hash first (a connection, a
 * TIME_WAIT socket, a handshake's request socket), then the listeners,
 * with a SO_REUSEPORT group's member chosen by the four-tuple's hash.
 */
struct sockfan_lookup_answer {
	__u64 cookie;		/* of the socket found, 0: none made yet */
	__u64 listener;		/* a request socket's listener (cookie) */
	__u8 found;		/* 0: no socket, the segment would get a RST */
	__u8 state;		/* TCP state (TIME_WAIT 6, LISTEN 10, NEW_SYN_RECV 12, ...) */
	__u16 family;		/* of the socket found */
	__u16 lport;		/* its local port */
	__u16 rport;		/* its remote port (0: a listener) */
	__u8 laddr[16];		/* its local address (v4 mapped) */
	__u8 raddr[16];
	__u32 inode;		/* of its socket file, 0: none (queued, TIME_WAIT) */
	__u32 netns;		/* the namespace the lookup ran in */
	/* a listener's SO_REUSEPORT group: members, and which one it is */
	__u16 reuse_members;	/* 0: not in a group */
	__u16 reuse_index;
	__u8 reuse_prog;	/* the group has a BPF program, whose choice was not run */
	__u8 __pad[11];
};

/*
 * The slot of a time of @ns nanoseconds: floor(log2(us)), clamped.  No
 * loop and no division by a variable: the BPF programs run it per
 * connection.
 */
static inline __u32 sockfan_hist_slot(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 slot = 0, shift;

	shift = (us > 0xffffffffULL) << 5;
	us >>= shift;
	slot |= shift;
	shift = (us > 0xffff) << 4;
	us >>= shift;
	slot |= shift;
	shift = (us > 0xff) << 3;
	us >>= shift;
	slot |= shift;
	shift = (us > 0xf) << 2;
	us >>= shift;
	slot |= shift;
	shift = (us > 0x3) << 1;
	us >>= shift;
	slot |= shift;
	slot |= (__u32)(us >> 1);
	return slot < SOCKFAN_HIST_SLOTS ? slot : SOCKFAN_HIST_SLOTS - 1;
}

/*
 * Compile-time layout checks, in whichever dialect the includer speaks;
 * a change here is an ABI change: bump SOCKFAN_ABI_VERSION.
 */
#define SOCKFAN_KEY_SIZE	48
#define SOCKFAN_EVENT_SIZE	120
#define SOCKFAN_PORT_STATS_SIZE	(8 * (7 + SOCKFAN_NR_HISTS * (1 + SOCKFAN_HIST_SLOTS)))

#if defined(__KERNEL__) && !defined(__bpf__)
#define SOCKFAN_ASSERT_SIZE(t, n) static_assert(sizeof(t) == (n), #t)
#elif !defined(__bpf__) && !defined(__cplusplus)
#define SOCKFAN_ASSERT_SIZE(t, n) _Static_assert(sizeof(t) == (n), #t)
#else
#define SOCKFAN_ASSERT_SIZE(t, n)
#endif

SOCKFAN_ASSERT_SIZE(struct sockfan_key, SOCKFAN_KEY_SIZE);
SOCKFAN_ASSERT_SIZE(struct sockfan_event, SOCKFAN_EVENT_SIZE);
SOCKFAN_ASSERT_SIZE(struct sockfan_port_key, 8);
SOCKFAN_ASSERT_SIZE(struct sockfan_born, 24);
SOCKFAN_ASSERT_SIZE(struct sockfan_port_stats, SOCKFAN_PORT_STATS_SIZE);
SOCKFAN_ASSERT_SIZE(struct sockfan_iter_sock, 24);
SOCKFAN_ASSERT_SIZE(struct sockfan_iter_listener, 48);
SOCKFAN_ASSERT_SIZE(struct sockfan_lookup_answer, 80);

#endif /* _SOCKFAN_SOCKFAN_H */
