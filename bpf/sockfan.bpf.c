// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan BPF capture path: turn the kernel's TCP socket life cycle into
 * struct sockfan_event records on a ring buffer.
 *
 * Hooks come in alternatives; user space probes the kernel and enables
 * one program of each pair before load (bpf_program__set_autoload()):
 *   state change: tp_btf/inet_sock_set_state, else the classic tracepoint;
 *   accept:       fexit/inet_csk_accept, else the accept/accept4 syscall-exit
 *                 tracepoints, which find both sockets through the fd table;
 *   lookups:      listener lookups by fexit, else kretprobe, else none;
 *                 misses by fentry/kprobe on tcp_v{4,6}_send_reset(),
 *                 else tp_btf/tcp_send_reset (6.10+), else none.
 * Lookup hooks are optional: they are attached one group at a time, and
 * a group that does not attach leaves its counter unknown, not the rest.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <sockfan/sockfan.h>
#include "asked_by_sockfan.h"

#define AF_INET		2
#define AF_INET6	10

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/*
 * Set by user space before load (--netns): events of other namespaces
 * are not recorded at all, so a busy host's traffic neither fills the
 * ring nor counts in "lost" for the namespace looked at.  0: all.
 */
const volatile __u32 netns_only;

/*
 * Set by user space when the classic state tracepoint is in use: born
 * has address keys then (born_key()), which accept and CLOSE look for.
 */
const volatile bool born_by_addr;

/*
 * Set by user space from before its sock_diag seed is dumped until the
 * seeded connections are in born (bpf_source_seed_begin(), then
 * bpf_source_follow_seeded()).  Meanwhile a connection older than the
 * programs can close after the dump read it and before born knows it:
 * its CLOSE is written anyway, so that the seeded entry ends with it.
 * Sockets the dump read have a cookie (sock_diag gives them one); other
 * cookie-less closes are dropped as ever.
 */
bool seeding;

/*
 * Set once accept() handed out a connection older than the programs
 * that had no cookie (none was asked for yet): it is followed by its
 * address from there, and only then does a CLOSE without a cookie look
 * for an address in born.
 */
bool addr_followed;

/*
 * Records of connections (ESTABLISHED, ACCEPT and CLOSE of a connection,
 * lookups, overflows) go to the ring only while someone asks for them:
 * user space flips this at run time (the skeleton's mapped .data), no
 * reload.  The aggregates below are kept the same way either way, so a
 * flip leaves them exact; records add the born map, which follows each
 * connection for its records, and which user space empties when it
 * turns records off.  LISTEN and a listener's CLOSE are always written.
 */
bool conn_records = true;

/*
 * What the programs could not keep, shown to the user, never hidden:
 * [LOST_RECORDS] records the ring buffer had no room for,
 * [LOST_COUNTS] counts the port table had no room for,
 * [LOST_TIMES] lifetimes lost to a slot taken over (lifetimes, below).
 */
enum { LOST_RECORDS, LOST_COUNTS, LOST_TIMES, LOST_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/*
 * While records are on, the passive connections we follow, by
 * born_key(): it filters CLOSE records down to sockets that matter, and
 * gives the records their accept wait and lifetime.  Empty while off.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, __u64);
	__type(value, struct sockfan_born);
} born SEC(".maps");

/*
 * The passive connections, for their lifetime: a slot per socket,
 * indexed by a hash of its address, written at ESTABLISHED and read at
 * CLOSE, with records or without.  An array map: no lock and no
 * allocation.  Both run on the CPU that receives the connection's
 * segments, and under churn the allocator hands out the sockets just
 * freed, whose slots are still in that CPU's cache.  (The born map's
 * update, lookup and delete cost about 1.1 us per connection on the CI
 * host, most of it moving entries between the two CPUs of a connection;
 * a slot written at accept() cost 400 ns more, one indexed by the
 * four-tuple's hash 500 ns more, a cache miss each time:
 * bench/README.md.)  A later connection whose address lands on the same
 * slot takes it over; the older one then closes without a lifetime
 * (LOST_TIMES).  User space sizes it (a power of two) before load.
 */
struct conn_slot {
	__u64 sk;		/* the socket's address, 0: free */
	__u64 est_ns;		/* its handshake completed */
	__u32 netns;
	__u16 port;
	__u16 __pad;
	__u64 listener;		/* its listener's cookie, 0: unknown (two slots a line) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 18);
	__type(key, __u32);
	__type(value, struct conn_slot);
} lifetimes SEC(".maps");

/* log2 of the table's size, set with it */
const volatile __u32 lifetimes_bits = 18;

/*
 * The aggregates, per (namespace, port), per CPU: the two CPUs of a
 * connection (softirq on the client's, accept on the server's) never
 * share a cache line; user space sums the CPUs when it reads.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sockfan_port_key);
	__type(value, struct sockfan_port_stats);
} port_stats SEC(".maps");

/* a new port's first value: too large for the stack (512 bytes) */
static const struct sockfan_port_stats zero_stats;

/*
 * The same aggregates per listener, by its cookie: what each member of a
 * SO_REUSEPORT group was handed.  An entry is made when a listener is
 * tagged (below) and deleted when it closes, so the map holds the live
 * listeners only; later records of its children find none.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct sockfan_port_stats);
} listener_stats SEC(".maps");

/*
 * Which listener a connection came from, told by the kernel itself: a
 * listener carries its cookie in socket-local storage made with
 * BPF_F_CLONE, which the kernel copies into every child it clones from
 * the listener (sk_clone_lock()), whichever reuseport member the SYN's
 * lookup picked.  The child's copy is read and deleted at its
 * ESTABLISHED, so a live connection carries none (a million of them
 * would hold a few hundred megabytes).  Tagged at LISTEN, and for
 * listeners older than the programs by the iterator tag_listeners.
 * Needs a BTF pointer to the socket: tp_btf, not the classic tracepoint.
 */
struct member {
	__u64 listener;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct member);
} members SEC(".maps");

/*
 * Where the live listeners are bound (listen_addrs.h), for the
 * sk_lookup counter: counted with listener_stats' entry (a tagged
 * listener) and taken back at its CLOSE, which finds its address by
 * cookie in listen_keys.  An address whose last listener left keeps a
 * zero entry: at most as many as addresses ever listened on.
 */
#include "listen_addrs.h"

struct listen_key {
	struct sockfan_lookup_key k;
	__u32 dual;
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct listen_key);
} listen_keys SEC(".maps");

static __always_inline void lost_add(__u32 what)
{
	__u64 *cnt = bpf_map_lookup_elem(&lost, &what);

	if (cnt)
		*cnt += 1;
}

/* the aggregates of @port in @netns, made on first use; NULL: table full */
static __always_inline struct sockfan_port_stats *port_stats_of(__u32 netns, __u16 port)
{
	struct sockfan_port_key k = { .netns = netns, .port = port };
	struct sockfan_port_stats *st;

	st = bpf_map_lookup_elem(&port_stats, &k);
	if (st)
		return st;
	bpf_map_update_elem(&port_stats, &k, &zero_stats, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&port_stats, &k);
	if (!st)
		lost_add(LOST_COUNTS);
	return st;
}

/* the aggregates of the listener with @cookie, NULL: not tagged (or gone) */
static __always_inline struct sockfan_port_stats *listener_stats_of(__u64 cookie)
{
	if (!cookie)
		return NULL;
	return bpf_map_lookup_elem(&listener_stats, &cookie);
}

/* the slot of socket @sk (its address) in the lifetimes table */
static __always_inline struct conn_slot *conn_slot_of(__u64 sk)
{
	__u32 idx = (sk * 0x9E3779B97F4A7C15ULL) >> (64 - lifetimes_bits);

	return bpf_map_lookup_elem(&lifetimes, &idx);
}

static __always_inline void hist_add(struct sockfan_port_stats *st, int h, __u64 ns)
{
	__u64 slot = sockfan_hist_slot(ns);

	st->sum_ns[h] += ns;
	/* the compiler drops the bound the verifier needs unless hidden */
	barrier_var(slot);
	if (slot < SOCKFAN_HIST_SLOTS)
		st->slots[h][slot] += 1;
}

/*
 * A connection's handshake, accept or close in @st, a port's or a
 * listener's aggregates (NULL: none kept): @h is the histogram of its
 * time and names the counter; the time goes in with @timed only.
 */
static __always_inline void count_conn(struct sockfan_port_stats *st, int h, __u64 ns,
				       bool timed)
{
	if (!st)
		return;
	if (h == SOCKFAN_HIST_HANDSHAKE)
		st->handshakes += 1;
	else if (h == SOCKFAN_HIST_ACCEPT_WAIT)
		st->accepted += 1;
	else
		st->closed += 1;
	if (timed)
		hist_add(st, h, ns);
}

/*
 * Wake the reader only once a batch has piled up: a wakeup per record
 * costs the reader more than the record (a context switch on a busy
 * server's CPU).  The reader also drains on its own every 100 ms, so a
 * quiet trickle is late by that much at most.
 */
#define WAKEUP_BYTES	(64 * 1024)

static __always_inline void event_submit(struct sockfan_event *e)
{
	long flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES ?
		     BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

static __always_inline struct sockfan_event *event_reserve(__u16 kind)
{
	struct sockfan_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		lost_add(LOST_RECORDS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

static __always_inline void event_task(struct sockfan_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();

	/* threads of one process share the pid: haproxy's accept in each */
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->flags |= SOCKFAN_F_TASK;
}

/*
 * The part of a socket every hook reads, copied with one read: most hooks
 * get plain pointers (classic tracepoints, the fd table, kprobes), and a
 * bpf_probe_read_kernel() per field costs more than the rest of a hook.
 * (tp_btf's BTF pointer is read in place: on_state().)
 * Fields are read from the copy through a struct sock_common pointer, so
 * that CO-RE relocates their offsets as in the kernel (a struct holding
 * one would be relocated as a whole, and fail); the room past it keeps a
 * larger one of a newer kernel in.
 */
struct sk_head {
	__u64 room[(sizeof(struct sock_common) + 64) / 8];
	const struct sock *sk;		/* the socket itself, for the rest */
	__u32 netns;
};

static __always_inline const struct sock_common *head_skc(const struct sk_head *h)
{
	return (const struct sock_common *)h->room;
}

static __always_inline int sk_head_read(struct sk_head *h, const struct sock *sk)
{
	const struct net *net;

	if (bpf_probe_read_kernel(h->room, sizeof(h->room), sk))
		return -1;
	h->sk = sk;
	/* the pointer is in the copy: one read, not two */
	net = head_skc(h)->skc_net.net;
	h->netns = BPF_CORE_READ(net, ns.inum);
	return 0;
}

/*
 * The local port of @sk, its common part read from @skc (a copy, or the
 * socket itself).  CLOSE is traced after inet_put_port() has zeroed the
 * bound port (inet_sk_state_store() runs last in tcp_set_state()); the
 * source port field keeps it.  At LISTEN it is the other way round for
 * a socket that was never bind()ed: skc_num first.
 */
static __always_inline __u16 local_port(const struct sock_common *skc, const struct sock *sk)
{
	/* a read, not a load: @sk may be a plain pointer */
	const struct inet_sock *inet = (const struct inet_sock *)sk;

	return skc->skc_num ?: bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
}

/*
 * Key of socket @sk in namespace @netns, as the kernel demultiplexes it,
 * its common part read from @skc: a copy (sk_head_read()), or the socket
 * itself where the hook has a BTF pointer (direct loads, no helper).
 */
static __always_inline int fill_key(struct sockfan_key *k, const struct sock_common *skc,
				    const struct sock *sk, __u32 netns)
{
	__u16 family = skc->skc_family;

	if (family == AF_INET) {
		sockfan_addr_v4mapped(k->laddr, skc->skc_rcv_saddr);
		sockfan_addr_v4mapped(k->raddr, skc->skc_daddr);
	} else if (family == AF_INET6) {
		__builtin_memcpy(k->laddr, skc->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(k->raddr, skc->skc_v6_daddr.in6_u.u6_addr8, 16);
	} else {
		return -1;
	}
	k->family = family;
	k->lport = local_port(skc, sk);
	k->rport = bpf_ntohs(skc->skc_dport);
	k->netns = netns;
	return 0;
}

static __always_inline int fill_key_head(struct sockfan_key *k, const struct sk_head *h)
{
	return fill_key(k, head_skc(h), h->sk, h->netns);
}

static __always_inline __u64 read_cookie(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

static __always_inline bool is_tcp(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

static __always_inline bool netns_wanted(__u32 netns)
{
	return !netns_only || netns == netns_only;
}

/* @h read from @sk, a TCP socket of the namespace looked at; else false */
static __always_inline bool sk_head_wanted(struct sk_head *h, const struct sock *sk)
{
	return is_tcp(sk) && !sk_head_read(h, sk) && netns_wanted(h->netns);
}

/*
 * A followed connection's key in born: its cookie; where it has none yet
 * (a socket gets one when first asked, and only a BTF pointer can ask:
 * the classic tracepoint cannot), its address.  Kernel addresses have
 * the top bit set, cookies count up from 1: the two never meet.
 */
static __always_inline __u64 born_key(__u64 cookie, const struct sock *sk)
{
	return cookie ? cookie : (__u64)sk;
}

/*
 * The born entry of @sk and its key in *@key, or NULL.  With address keys
 * (born_by_addr) the address comes first: a socket filed under it at
 * ESTABLISHED may have got a cookie since (sock_diag, SO_COOKIE), and
 * from user space's seeding an entry under that cookie too, without the
 * time.  Else the cookie, and once accept() filed a socket by address
 * (addr_followed), the address after a miss: that socket may have got a
 * cookie since, with nothing filed under it.
 */
static __always_inline struct sockfan_born *
born_find(__u64 cookie, const struct sock *sk, __u64 *key)
{
	struct sockfan_born *bornp;

	if (born_by_addr) {
		*key = (__u64)sk;
		bornp = bpf_map_lookup_elem(&born, key);
		if (bornp || !cookie)
			return bornp;
	}
	if (cookie) {
		*key = cookie;
		bornp = bpf_map_lookup_elem(&born, key);
		if (bornp || born_by_addr || !addr_followed)
			return bornp;
	}
	if (born_by_addr || !addr_followed)
		return NULL;
	*key = (__u64)sk;
	return bpf_map_lookup_elem(&born, key);
}

/* the passive handshake's time: the child's first RTT sample, from its SYN-ACK */
static __always_inline __u64 handshake_ns(const struct sock *sk)
{
	/* srtt_us holds 8 times the smoothed RTT: one sample so far */
	return (__u64)(BPF_CORE_READ((const struct tcp_sock *)sk, srtt_us) >> 3) * 1000;
}

/*
 * Common body of both state-change hooks, for a TCP socket whose change
 * makes record @kind (sockfan_state_kind()).  @cookie: 0 if it has none yet,
 * which only the classic tracepoint sees.  @btf: @sk is a BTF pointer
 * (tp_btf), read in place instead of copied.
 */
/* without records: a passive connection's slot, for its lifetime */
static __always_inline void lifetime_begin(__u64 sk, __u32 netns, __u16 port, __u64 listener)
{
	struct conn_slot *slot = conn_slot_of(sk);

	if (!slot)
		return;
	if (slot->sk)
		lost_add(LOST_TIMES);
	slot->est_ns = bpf_ktime_get_ns();
	slot->netns = netns;
	slot->port = port;
	slot->listener = listener;
	slot->sk = sk;
}

/*
 * The CLOSE of a passive connection in the aggregates: closed and its
 * lifetime, from its slot; one whose slot was taken over, or older than
 * the programs, closed only.
 */
static __always_inline void close_count(const struct sock *sk, __u64 skaddr, int oldstate,
					bool btf)
{
	struct conn_slot *slot;
	struct net *net;
	struct sk_head h;
	__u32 netns;
	__u16 port;

	/*
	 * A child socket is a copy of its listener, listen() backlog
	 * included; other sockets never listened: 0.  Most closes stop
	 * here without touching a map (a child of listen(fd, 0) too: its
	 * close is not counted).
	 */
	if (!(btf ? sk->sk_max_ack_backlog : BPF_CORE_READ(sk, sk_max_ack_backlog)))
		return;
	slot = conn_slot_of(skaddr);
	if (slot && slot->sk == skaddr) {
		__u64 life = bpf_ktime_get_ns() - slot->est_ns;

		count_conn(port_stats_of(slot->netns, slot->port), SOCKFAN_HIST_LIFETIME, life,
			   true);
		count_conn(listener_stats_of(slot->listener), SOCKFAN_HIST_LIFETIME, life, true);
		slot->sk = 0;
		return;
	}
	/*
	 * A passive connection all the same: one whose slot a later one
	 * took over (its lifetime lost, LOST_TIMES), or one older than the
	 * programs.  Its close counts for its port, read from the socket.
	 * A child dropped before it was established (its listener's queue
	 * full at the handshake's last ACK) was never a connection.
	 */
	if (oldstate == TCP_SYN_RECV)
		return;
	if (btf) {
		net = sk->__sk_common.skc_net.net;
		if (!net)
			return;
		netns = net->ns.inum;
		port = local_port(&sk->__sk_common, sk);
	} else {
		if (sk_head_read(&h, sk))
			return;
		netns = h.netns;
		port = local_port(head_skc(&h), sk);
	}
	if (!netns_wanted(netns))
		return;
	count_conn(port_stats_of(netns, port), SOCKFAN_HIST_LIFETIME, 0, false);
}

/*
 * @records: conn_records as the hook read it, once (a flip between two
 * reads would file a connection without the cookie its records need)
 */
static __always_inline int on_state(const struct sock *sk, __u64 skaddr, __u16 kind,
				    int oldstate, int newstate, __u64 cookie, __u64 listener,
				    bool btf, bool records)
{
	const struct sock_common *skc;
	struct sockfan_born *bornp = NULL;
	struct sockfan_event *e;
	__u64 now, born_ns = 0, key;
	struct sockfan_born val = {};
	struct net *net;
	struct sk_head h;
	bool seeded_maybe;
	__u32 netns;

	if (kind == SOCKFAN_EV_CLOSE && oldstate != TCP_LISTEN) {
		close_count(sk, skaddr, oldstate, btf);
		if (!records)
			return 0;
		/*
		 * A record only for a passive connection we follow.  Read
		 * before born: user space ends seeding only after the
		 * seeded cookies are in born, so a close that finds it
		 * ended finds them there (x86 does not reorder loads).
		 */
		seeded_maybe = *(volatile bool *)&seeding && cookie;
		bornp = born_find(cookie, sk, &key);
		if (!bornp && !seeded_maybe)
			return 0;
		if (bornp) {
			born_ns = bornp->est_ns;
			/* forgotten even if the record finds no room below */
			bpf_map_delete_elem(&born, &key);
		}
		/* and under its cookie, if the seed filed it there too */
		if (born_by_addr && cookie && key != cookie)
			bpf_map_delete_elem(&born, &cookie);
	}
	if (btf) {
		skc = &sk->__sk_common;
		/* an __rcu pointer: kernels built with type tags want the check */
		net = sk->__sk_common.skc_net.net;
		if (!net)
			return 0;
		netns = net->ns.inum;
	} else {
		if (sk_head_read(&h, sk))
			return 0;
		skc = head_skc(&h);
		netns = h.netns;
	}
	if (!netns_wanted(netns))
		return 0;
	if (kind == SOCKFAN_EV_ESTABLISHED) {
		/* the child is hashed: its port is bound (skc_num) */
		val.netns = netns;
		val.port = skc->skc_num;
		val.listener = listener;
		lifetime_begin(skaddr, netns, val.port, listener);
		now = handshake_ns(sk);
		count_conn(port_stats_of(netns, val.port), SOCKFAN_HIST_HANDSHAKE, now, true);
		count_conn(listener_stats_of(listener), SOCKFAN_HIST_HANDSHAKE, now, true);
		if (!records)
			return 0;
		val.est_ns = bpf_ktime_get_ns();
		key = born_key(cookie, sk);
		bpf_map_update_elem(&born, &key, &val, BPF_ANY);
	}
	e = event_reserve(kind);
	if (!e)
		return 0;
	if (fill_key(&e->key, skc, sk, netns)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->cookie = cookie;
	e->state = newstate;
	now = e->ts_ns;

	switch (kind) {
	case SOCKFAN_EV_LISTEN:
		/* listen(2) runs in the caller's context: the owner */
		event_task(e);
		e->listen.backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
		break;
	case SOCKFAN_EV_ESTABLISHED:
		/* softirq context: current task is unrelated, leave pid 0 */
		e->ts_ns = val.est_ns;
		e->accept.listener = listener;
		break;
	case SOCKFAN_EV_CLOSE:
		e->close.oldstate = oldstate;
		if (oldstate == TCP_LISTEN) {
			e->flags |= SOCKFAN_F_LISTENER;
			break;
		}
		if (born_ns)
			e->close.lifetime_ns = now - born_ns;
		break;
	}
	event_submit(e);
	return 0;
}

/* add @n (1 or -1) listeners on @lk's address */
static __always_inline void listen_count(const struct listen_key *lk, int n)
{
	struct sockfan_listen_count one = { 1, lk->dual }, *c;

	c = bpf_map_lookup_elem(&listen_addrs, &lk->k);
	if (!c && n > 0 && !bpf_map_update_elem(&listen_addrs, &lk->k, &one, BPF_NOEXIST))
		return;
	if (!c)
		c = bpf_map_lookup_elem(&listen_addrs, &lk->k);
	if (!c) {
		lost_add(LOST_COUNTS);
		return;
	}
	__sync_fetch_and_add(&c->listeners, n);
	if (lk->dual)
		__sync_fetch_and_add(&c->dual, n);
}

/* listener @sk (@cookie), tagged just now for the first time: where it is bound */
static __always_inline void listen_add(struct sock *sk, __u64 cookie, __u32 netns)
{
	const struct sock_common *skc = &sk->__sk_common;
	struct listen_key lk = {};
	struct sockfan_key key;

	if (fill_key(&key, skc, sk, netns))
		return;
	__builtin_memcpy(lk.k.laddr, key.laddr, sizeof(lk.k.laddr));
	lk.k.netns = netns;
	lk.k.port = key.lport;
	lk.k.family = key.family;
	if (key.family == AF_INET6)
		lk.dual = !BPF_CORE_READ_BITFIELD_PROBED(skc, skc_ipv6only);
	if (!bpf_map_update_elem(&listen_keys, &cookie, &lk, BPF_NOEXIST))
		listen_count(&lk, 1);
}

/* listener @cookie closed */
static __always_inline void listen_del(__u64 cookie)
{
	struct listen_key *lk = bpf_map_lookup_elem(&listen_keys, &cookie);
	struct listen_key copy;

	if (!lk)
		return;
	copy = *lk;
	if (!bpf_map_delete_elem(&listen_keys, &cookie))
		listen_count(&copy, -1);
}

/*
 * Listener @sk (@cookie) of namespace @netns: its children will carry
 * its cookie (members), its aggregates are made, and its address is
 * counted among the bound ones (once: the LISTEN hook and the walks
 * may both see it)
 */
static __always_inline void member_tag(struct sock *sk, __u64 cookie, __u32 netns)
{
	struct member *m;

	if (!netns_wanted(netns))
		return;
	m = bpf_sk_storage_get(&members, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!m)
		return;
	m->listener = cookie;
	if (!bpf_map_update_elem(&listener_stats, &cookie, &zero_stats, BPF_NOEXIST))
		listen_add(sk, cookie, netns);
	else if (!bpf_map_lookup_elem(&listener_stats, &cookie))
		lost_add(LOST_COUNTS);
}

/* the listener child @sk was cloned from, 0: none tagged; its copy dropped */
static __always_inline __u64 member_take(struct sock *sk)
{
	struct member *m = bpf_sk_storage_get(&members, sk, 0, 0);
	__u64 listener;

	if (!m)
		return 0;
	listener = m->listener;
	bpf_sk_storage_delete(&members, sk);
	return listener;
}

static __always_inline __u32 btf_netns(const struct sock *sk)
{
	const struct net *net = sk->__sk_common.skc_net.net;

	return net ? net->ns.inum : 0;
}

/*
 * The hot hook: it fires about ten times per connection, for both ends,
 * and all but two of those are dropped here before any read.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, const struct sock *sk, const int oldstate,
	     const int newstate)
{
	__u16 kind = sockfan_state_kind(oldstate, newstate);
	__u64 cookie, skaddr, listener = 0;
	bool records = *(volatile bool *)&conn_records;

	if (!kind || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/*
	 * A BTF pointer: the helper makes the cookie of a new socket.  A
	 * connection closing without one was never followed (the ones
	 * followed got theirs at ESTABLISHED or from sock_diag's seed).
	 * Without records a new connection needs none.
	 */
	if (kind == SOCKFAN_EV_CLOSE && oldstate != TCP_LISTEN)
		cookie = sk->__sk_common.skc_cookie.counter;
	else if (kind == SOCKFAN_EV_ESTABLISHED && !records)
		cookie = 0;
	else
		cookie = bpf_get_socket_cookie((void *)sk);
	/* its address as a number: the verifier keeps a BTF pointer one */
	if (bpf_probe_read_kernel(&skaddr, sizeof(skaddr), &ctx[0]))
		return 0;
	if (kind == SOCKFAN_EV_ESTABLISHED)
		listener = member_take((struct sock *)sk);
	else if (kind == SOCKFAN_EV_LISTEN)
		member_tag((struct sock *)sk, cookie, btf_netns(sk));
	else if (kind == SOCKFAN_EV_CLOSE && oldstate == TCP_LISTEN &&
		 !bpf_map_delete_elem(&listener_stats, &cookie))
		listen_del(cookie);
	return on_state(sk, skaddr, kind, oldstate, newstate, cookie, listener, true, records);
}

/*
 * Listeners older than the programs: user space reads this iterator once
 * in each namespace after attaching, and they are tagged as at LISTEN.
 * The kernel walks its listening hash first: at the first other socket
 * an 'E' tells user space it may stop reading (the walk of the
 * connections would take a second at a million).
 */
SEC("iter/tcp")
int tag_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	struct sock *sk;
	char mark = 'E';

	if (!skc)
		return 0;
	if (skc->skc_state != TCP_LISTEN) {
		bpf_seq_write(ctx->meta->seq, &mark, 1);
		return 0;
	}
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	member_tag(sk, bpf_get_socket_cookie(sk), btf_netns(sk));
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u16 kind = sockfan_state_kind(ctx->oldstate, ctx->newstate);

	if (!kind || ctx->protocol != IPPROTO_TCP)
		return 0;
	return on_state(ctx->skaddr, (__u64)ctx->skaddr, kind, ctx->oldstate, ctx->newstate,
			read_cookie(ctx->skaddr), 0, false, *(volatile bool *)&conn_records);
}

/*
 * accept(2) handed @child to the current task: counted in its port,
 * with its wait, the same with records or without.  The handshake's
 * time is in the socket: tcp_init_transfer() stamps
 * rcvq_space.time (tcp_mstamp, CLOCK_MONOTONIC us) just before
 * ESTABLISHED, and only tcp_rcv_space_adjust(), from recvmsg(), which
 * needs the accepted socket, moves it on.  No map entry per handshake.
 */
static __always_inline void accept_aggregate(const struct sock *child, __u64 listener)
{
	__u64 est_ns, now = bpf_ktime_get_ns();
	struct sk_head h;

	if (!sk_head_wanted(&h, child))
		return;
	est_ns = BPF_CORE_READ((const struct tcp_sock *)child, rcvq_space.time) * 1000;
	/*
	 * (A Fast Open child was stamped at its SYN: its wait includes the
	 * handshake.)  A stamp ahead of now is none of ours: no wait.
	 */
	if (est_ns > now)
		est_ns = 0;
	count_conn(port_stats_of(h.netns, head_skc(&h)->skc_num), SOCKFAN_HIST_ACCEPT_WAIT,
		   now - est_ns, est_ns);
	count_conn(listener_stats_of(listener), SOCKFAN_HIST_ACCEPT_WAIT, now - est_ns, est_ns);
}

/*
 * accept(2) handed @child to the current task from the listener with
 * cookie @listener: counted in its port's and its listener's
 * aggregates.  True when that is all there is to do: no record is asked
 * for.  Else *@bornp is the connection as followed, or NULL: one older
 * than the programs, or one whose ESTABLISHED has not run yet (the
 * child is in the accept queue a moment before it, and accept() can win
 * that race: on RT kernels it does).
 */
static __always_inline bool accept_count(const struct sock *child, __u64 listener,
					 __u64 *cookie, struct sockfan_born **bornp, __u64 *key)
{
	accept_aggregate(child, listener);
	if (!conn_records)
		return true;
	*cookie = read_cookie(child);
	*bornp = born_find(*cookie, child, key);
	return false;
}

/*
 * ... and the rest: the record, with @listener (the socket @child was
 * dequeued from), and a connection accept_count() did not find,
 * followed from here.
 */
static __always_inline void on_accept(const struct sock *listener, const struct sock *child,
				      __u64 listener_cookie, __u64 cookie,
				      const struct sockfan_born *bornp)
{
	struct sockfan_event *e;
	struct sk_head h;
	__u64 key;

	if (!sk_head_wanted(&h, child))
		return;
	/*
	 * A connection that reached ESTABLISHED before the records were
	 * asked for: its close followed from here (by address while it has
	 * no cookie), or it would show for good.
	 */
	if (!bornp) {
		struct sockfan_born unknown = {
			.netns = h.netns, .port = head_skc(&h)->skc_num,
		};

		key = born_key(cookie, child);
		bpf_map_update_elem(&born, &key, &unknown, BPF_NOEXIST);
		if (!cookie)
			addr_followed = true;
	}
	e = event_reserve(SOCKFAN_EV_ACCEPT);
	if (!e)
		return;
	if (fill_key_head(&e->key, &h)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	e->cookie = cookie;
	e->state = head_skc(&h)->skc_state;
	event_task(e);
	e->accept.listener = listener_cookie ? listener_cookie : read_cookie(listener);
	e->accept.qlen = BPF_CORE_READ(listener, sk_ack_backlog);
	e->accept.max_backlog = BPF_CORE_READ(listener, sk_max_ack_backlog);
	if (bornp && bornp->est_ns)
		e->accept.wait_ns = e->ts_ns - bornp->est_ns;
	event_submit(e);
}

/*
 * The first argument is the listener in every signature (6.1: sk, flags,
 * err, kern; 6.10+: sk, struct proto_accept_arg *); the return value is
 * read with bpf_get_func_ret() so the argument count does not matter.
 */
SEC("fexit/inet_csk_accept")
int BPF_PROG(accept_fexit, struct sock *sk)
{
	__u64 ret = 0;

	const struct sock *child;
	struct sockfan_born *bornp;
	__u64 cookie, key, listener;

	bpf_get_func_ret(ctx, &ret);
	if (!ret)
		return 0;
	child = (const struct sock *)ret;
	/* tagged listeners have their cookie; untagged ones count per port only */
	listener = sk->__sk_common.skc_cookie.counter;
	if (accept_count(child, listener, &cookie, &bornp, &key))
		return 0;
	on_accept(sk, child, bpf_get_socket_cookie(sk), cookie, bornp);
	return 0;
}

/* socket behind file descriptor @fd in table @fds of @max, or NULL */
static __always_inline const struct sock *fd_sock(struct file **fds, unsigned int max, __u32 fd)
{
	struct socket *sock;
	struct file *file;

	if (fd >= max)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/*
 * accept(2) fallback, at syscall exit only: the listening descriptor is
 * the first argument, still in the task's saved user registers.  (An
 * enter hook keeping it in a map by thread cost more than all the rest.)
 */
static __always_inline int accept_exit(long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct sock *listener, *child;
	struct sockfan_born *bornp;
	struct fdtable *fdt;
	struct pt_regs *regs;
	__u64 cookie, key;
	struct file **fds;
	unsigned int max;
	__u32 fd;

	if (ret < 0)
		return 0;
	/* accept succeeded, so both descriptors are sockets */
	fdt = task->files->fdt;
	fds = fdt->fd;
	max = fdt->max_fds;
	child = fd_sock(fds, max, ret);
	if (!child)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
	listener = fd_sock(fds, max, fd);
	if (accept_count(child, listener ? read_cookie(listener) : 0, &cookie, &bornp, &key))
		return 0;
	if (listener)
		on_accept(listener, child, 0, cookie, bornp);
	return 0;
}

/*
 * A syscalls:sys_exit_* record is struct syscall_trace_exit (nr, ret),
 * not raw_syscalls' sys_exit (id, ret).  The two agree only while struct
 * trace_entry is 8 bytes: PREEMPT_RT's is 12, and reading ret where
 * raw_syscalls has it goes past the record (the attach fails: EACCES).
 */
SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct syscall_trace_exit *ctx)
{
	return accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit_tp(struct syscall_trace_exit *ctx)
{
	return accept_exit(ctx->ret);
}

/*
 * Lookups: the kernel's demultiplexing of an incoming segment.  A
 * listener lookup that returned a socket tells which listener, and which
 * SO_REUSEPORT member, a SYN went to.  A reset sent without a socket is
 * a segment that found nothing: a miss.  Established hits are not traced
 * per segment; the kernel counts them in segs_in (read with sock_diag).
 */
static __always_inline void on_listener_hit(const struct sock *sk)
{
	struct sockfan_event *e;
	struct sk_head h;

	struct sockfan_port_stats *st;

	if (!sk || !sk_head_wanted(&h, sk) || asked_by_sockfan())
		return;
	st = port_stats_of(h.netns, head_skc(&h)->skc_num);
	if (st)
		st->listener_hits += 1;
	st = listener_stats_of(head_skc(&h)->skc_cookie.counter);
	if (st)
		st->listener_hits += 1;
	if (!conn_records)
		return;
	e = event_reserve(SOCKFAN_EV_LOOKUP);
	if (!e)
		return;
	if (fill_key_head(&e->key, &h)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	e->cookie = head_skc(&h)->skc_cookie.counter;
	e->state = TCP_LISTEN;
	e->lookup.listener = e->cookie;
	e->lookup.result = SOCKFAN_LOOKUP_LISTENER;
	e->lookup.count = 1;
	event_submit(e);
}

/* the return value only: the arguments changed (6.12: a const net; after 6.12: no hashinfo) */
SEC("fexit/__inet_lookup_listener")
int BPF_PROG(lookup4_fexit)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	on_listener_hit((const struct sock *)ret);
	return 0;
}

SEC("fexit/inet6_lookup_listener")
int BPF_PROG(lookup6_fexit)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	on_listener_hit((const struct sock *)ret);
	return 0;
}

/*
 * The same through kprobes: x86 trampolines before 6.4 take at most six
 * arguments, and __inet_lookup_listener() has ten on 6.1 (fexit attach
 * fails with ENOTSUPP there).
 */
SEC("kretprobe/__inet_lookup_listener")
int BPF_KRETPROBE(lookup4_kret, const struct sock *ret)
{
	on_listener_hit(ret);
	return 0;
}

SEC("kretprobe/inet6_lookup_listener")
int BPF_KRETPROBE(lookup6_kret, const struct sock *ret)
{
	on_listener_hit(ret);
	return 0;
}

/*
 * Accept-queue overflows, per listener: the kernel's own test
 * (sk_acceptq_is_full()) at the entry of the two functions that make it,
 * for a SYN (tcp_conn_request()) and for the handshake's last ACK
 * (tcp_v{4,6}_syn_recv_sock()); each then counts ListenOverflows and
 * drops the segment.  Needs fentry or kprobes: no tracepoint is there.
 */
static __always_inline void on_overflow_check(const struct sock *sk)
{
	struct sockfan_event *e;
	struct sk_head h;

	struct sockfan_port_stats *st;

	if (!sk || BPF_CORE_READ(sk, sk_ack_backlog) <= BPF_CORE_READ(sk, sk_max_ack_backlog))
		return;
	if (!sk_head_wanted(&h, sk))
		return;
	st = port_stats_of(h.netns, head_skc(&h)->skc_num);
	if (st)
		st->overflows += 1;
	st = listener_stats_of(head_skc(&h)->skc_cookie.counter);
	if (st)
		st->overflows += 1;
	if (!conn_records)
		return;
	e = event_reserve(SOCKFAN_EV_OVERFLOW);
	if (!e)
		return;
	if (fill_key_head(&e->key, &h)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	e->cookie = head_skc(&h)->skc_cookie.counter;
	e->state = TCP_LISTEN;
	e->accept.qlen = BPF_CORE_READ(sk, sk_ack_backlog);
	e->accept.max_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	event_submit(e);
}

/* an IPv4 segment on a dual-stack socket goes on to tcp_v4_syn_recv_sock() */
static __always_inline bool v6_syn_recv_counts(const struct sk_buff *skb)
{
	return BPF_CORE_READ(skb, protocol) != bpf_htons(0x0800);
}

SEC("fentry/tcp_conn_request")
int BPF_PROG(overflow_syn_fentry, void *rsk_ops, void *af_ops, const struct sock *sk)
{
	on_overflow_check(sk);
	return 0;
}

SEC("fentry/tcp_v4_syn_recv_sock")
int BPF_PROG(overflow_ack4_fentry, const struct sock *sk)
{
	on_overflow_check(sk);
	return 0;
}

SEC("fentry/tcp_v6_syn_recv_sock")
int BPF_PROG(overflow_ack6_fentry, const struct sock *sk, const struct sk_buff *skb)
{
	if (v6_syn_recv_counts(skb))
		on_overflow_check(sk);
	return 0;
}

SEC("kprobe/tcp_conn_request")
int BPF_KPROBE(overflow_syn_kprobe, void *rsk_ops, void *af_ops, const struct sock *sk)
{
	on_overflow_check(sk);
	return 0;
}

SEC("kprobe/tcp_v4_syn_recv_sock")
int BPF_KPROBE(overflow_ack4_kprobe, const struct sock *sk)
{
	on_overflow_check(sk);
	return 0;
}

SEC("kprobe/tcp_v6_syn_recv_sock")
int BPF_KPROBE(overflow_ack6_kprobe, const struct sock *sk, const struct sk_buff *skb)
{
	if (v6_syn_recv_counts(skb))
		on_overflow_check(sk);
	return 0;
}

/* a reset for @skb with no socket (@sk NULL): key from the headers */
static __always_inline void on_reset(const struct sock *sk, const struct sk_buff *skb)
{
	struct sockfan_port_stats *st;
	struct sockfan_event *e;
	unsigned char *head;
	struct ipv6hdr ip6;
	__u32 netns;
	struct tcphdr tcp;
	struct iphdr ip;
	__u16 nh, th;
	__u8 ver;

	/* the tracepoint's arguments are both nullable */
	if (sk || !skb)
		return;
	head = BPF_CORE_READ(skb, head);
	nh = BPF_CORE_READ(skb, network_header);
	th = BPF_CORE_READ(skb, transport_header);
	if (bpf_probe_read_kernel(&ver, 1, head + nh) ||
	    bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		return;
	/* nobody answers a RST with a RST: not a miss the kernel answers */
	netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	if (tcp.rst || !netns_wanted(netns))
		return;
	/* a refused SYN counts for its port, a stray for none: port 0 */
	if (tcp.syn && !tcp.ack) {
		st = port_stats_of(netns, bpf_ntohs(tcp.dest));
		if (st)
			st->refused += 1;
	} else {
		st = port_stats_of(netns, 0);
		if (st)
			st->strays += 1;
	}
	if (!conn_records)
		return;
	e = event_reserve(SOCKFAN_EV_LOOKUP);
	if (!e)
		return;
	ver >>= 4;
	if (ver == 4 && !bpf_probe_read_kernel(&ip, sizeof(ip), head + nh)) {
		e->key.family = AF_INET;
		sockfan_addr_v4mapped(e->key.laddr, ip.daddr);
		sockfan_addr_v4mapped(e->key.raddr, ip.saddr);
	} else if (ver == 6 && !bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh)) {
		e->key.family = AF_INET6;
		__builtin_memcpy(e->key.laddr, &ip6.daddr, 16);
		__builtin_memcpy(e->key.raddr, &ip6.saddr, 16);
	} else {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	e->key.lport = bpf_ntohs(tcp.dest);
	e->key.rport = bpf_ntohs(tcp.source);
	e->key.netns = netns;
	e->lookup.result = tcp.syn && !tcp.ack ? SOCKFAN_LOOKUP_REFUSED : SOCKFAN_LOOKUP_STRAY;
	e->lookup.count = 1;
	event_submit(e);
}

SEC("fentry/tcp_v4_send_reset")
int BPF_PROG(reset4_fentry, const struct sock *sk, struct sk_buff *skb)
{
	on_reset(sk, skb);
	return 0;
}

SEC("fentry/tcp_v6_send_reset")
int BPF_PROG(reset6_fentry, const struct sock *sk, struct sk_buff *skb)
{
	on_reset(sk, skb);
	return 0;
}

SEC("kprobe/tcp_v4_send_reset")
int BPF_KPROBE(reset4_kprobe, const struct sock *sk, const struct sk_buff *skb)
{
	on_reset(sk, skb);
	return 0;
}

SEC("kprobe/tcp_v6_send_reset")
int BPF_KPROBE(reset6_kprobe, const struct sock *sk, const struct sk_buff *skb)
{
	on_reset(sk, skb);
	return 0;
}

/*
 * Since 6.10 the tracepoint fires in tcp_v{4,6}_send_reset() also without
 * a socket (user space checks for it: its event struct has a reason).
 */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(reset_btf, const struct sock *sk, const struct sk_buff *skb)
{
	on_reset(sk, skb);
	return 0;
}
