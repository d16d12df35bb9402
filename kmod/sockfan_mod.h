/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sockfan.ko internals: the live-state table the hooks write and the
 * /proc files read.
 *
 * Three kinds of records:
 *  - connections: passively opened TCP sockets from ESTABLISHED to CLOSE,
 *    in one RCU hash keyed by four-tuple + netns (struct sockfan_key, the
 *    netns as its inode number, as `ls -l /proc/PID/ns/net` and the BPF
 *    path report it), bounded by max_conns and sized once at load, as
 *    the kernel's own established hash is shared by the namespaces;
 *  - listeners: sockets in LISTEN, on their namespace's RCU list (a
 *    SO_REUSEPORT group has several with one key, told apart by cookie);
 *  - ports: per-port totals that outlive the sockets, so that "accepted"
 *    and "closed" mean since the module was loaded, in their namespace's
 *    hash.
 * A namespace's listeners and ports are its own (struct sockfan_net), so
 * that its files read only them and its exit frees exactly them.
 * Writers hold a raw spinlock (the hooks run with preemption off, on
 * PREEMPT_RT too); readers only take rcu_read_lock().
 */
#ifndef _SOCKFAN_MOD_H
#define _SOCKFAN_MOD_H

#include <linux/list.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <linux/types.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include <sockfan/sockfan.h>

/*
 * 128 bytes, one per tracked connection, so that with its share of the
 * hashes (10 to 20 bytes) a connection costs at most 148: what can be read
 * from the held socket (its cookie) is not copied, an accepted connection
 * is told by the process that accepted it (NULL: still queued), and that
 * process's name is looked up when read, as ss -p does.
 */
struct sockfan_conn {
	struct hlist_node node;		/* in sockfan_table's conn hash */
	union {
		/*
		 * While in the table: its peer (namespace, local port,
		 * remote address), for the port's distinct peers
		 * (sockfan_table.c).  A peer's first connection is its
		 * leader, the one in the peer hash by @peer_node (unhashed
		 * for the others); all of the peer's are on @peer_ring.
		 */
		struct {
			struct hlist_node peer_node;
			struct list_head peer_ring;
		};
		/* once out of the table and off its ring: nobody links to it */
		struct rcu_head rcu;
	};
	/*
	 * Held until CLOSE (dropped after a grace period): its identity
	 * (pointer, cookie) and segs_in, the segments the kernel's lookup
	 * delivered to it, are read from it.
	 */
	struct sock *sk;
	struct sockfan_key key;
	u64 listener;			/* cookie of its listener, 0 unknown */
	u64 born_ns;			/* ESTABLISHED */
	/*
	 * The accepting process, held (put when the record is freed): a
	 * number could be reused by another process after it exits.
	 */
	struct pid *pid;
};

static_assert(sizeof(struct sockfan_conn) <= 128);

struct sockfan_listener {
	struct list_head node;		/* in its namespace's listeners */
	struct rcu_head rcu;
	/*
	 * Held from LISTEN to its CLOSE, so the queue is read live (listeners
	 * are SOCK_RCU_FREE, and the reference is dropped after a grace period).
	 */
	struct sock *sk;
	struct sockfan_key key;		/* rport 0, raddr :: */
	u64 cookie;
	u64 born_ns;
	u64 accepted;			/* accept() calls that returned a child */
	/*
	 * Handshakes completed through it: the connections the kernel handed
	 * to this member of its port (its reuseport group's hash chose it)
	 */
	atomic64_t handshakes;
	atomic64_t hits;		/* listener lookups that chose it */
	atomic64_t overflows;		/* segments dropped: its queue was full */
	u32 pid;			/* the task that called listen() */
	char comm[SOCKFAN_COMM_LEN];
};

struct sockfan_port {
	struct hlist_node node;		/* in its namespace's port hash */
	struct rcu_head rcu;
	u16 port;
	u32 listeners;			/* live */
	u32 established;		/* live connections */
	u32 peers;			/* their distinct remote addresses */
	u64 accepted;			/* totals since the module loaded */
	u64 closed;
	u64 lifetime_ns;		/* sum over the closed connections */
	u64 wait_ns;			/* sum of ESTABLISHED -> accept() */
	u64 wait_max_ns;
	u64 refused;			/* SYNs that found no socket: RST */
	u32 seeded_listeners;		/* found at load, not seen to listen */
	u32 seeded_conns;		/* found at load, not seen to connect */
	u64 handshakes;			/* passive handshakes completed since load */
	/*
	 * log2 histograms of the handshake, the accept wait and the
	 * lifetime, as the BPF programs keep them (enum sockfan_hist)
	 */
	u64 hist_sum_ns[SOCKFAN_NR_HISTS];
	u64 hist[SOCKFAN_NR_HISTS][SOCKFAN_HIST_SLOTS];
};

#define SOCKFAN_NET_PORT_BITS	8

/*
 * What the module keeps per network namespace (net_generic(), made and
 * freed with the namespace by sockfan_main.c's pernet_operations).
 */
struct sockfan_net {
	raw_spinlock_t lock;		/* listeners, ports, their counters */
	struct list_head listeners;
	struct hlist_head ports[1 << SOCKFAN_NET_PORT_BITS];
	/* segments that found no socket and were not SYNs (lookup strays) */
	atomic64_t strays;
	u32 inum;			/* the namespace's, as in sockfan_key */
	/*
	 * The namespace is going (pre_exit): nothing new is recorded in it.
	 * The kernel's synchronize_rcu() before the exit methods lets every
	 * hook that found it false finish, so exit frees all there is.
	 */
	bool dying;
};

/* @net's, valid as long as @net is (net_generic()) */
struct sockfan_net *sockfan_net(const struct net *net);

/* module parameter: live connections kept at most */
extern unsigned int sockfan_max_conns;

/* sockfan_table.c */
int sockfan_table_init(void);
void sockfan_table_exit(void);
void sockfan_table_net_init(struct sockfan_net *sn, const struct net *net);
void sockfan_table_net_dying(struct sockfan_net *sn);
void sockfan_table_net_exit(struct sockfan_net *sn);
void sockfan_key_from_sk(struct sockfan_key *key, const struct sock *sk);
u64 sockfan_sk_cookie(struct sock *sk);

/* hook entry points: @sk changed state, or accept() returned @child */
void sockfan_listen(struct sock *sk);
void sockfan_listen_close(struct sock *sk);
/* @listener: the socket it was cloned from, NULL if not known */
void sockfan_established(struct sock *sk, const struct sock *listener);
void sockfan_close(struct sock *sk);
void sockfan_accepted(struct sock *listener, struct sock *child);
void sockfan_listener_hit(const struct sock *listener);
void sockfan_listener_overflow(const struct sock *listener);
void sockfan_refused(const struct net *net, u16 port);
void sockfan_stray(const struct net *net);

/*
 * Seeding (sockfan_seed.c) at load, with the hooks live: record what
 * already exists, skipping what a hook recorded first.  The socket
 * functions are called with the kernel's hash bucket lock held.
 */
bool sockfan_seed_listener(struct sock *sk);
bool sockfan_seed_conn(struct sock *sk);
void sockfan_seed_reserve(void);
void sockfan_seed_queues(const struct net *net);
void sockfan_seed_owner(struct sock *sk, struct task_struct *task);
int sockfan_seed(void);

/*
 * Accepted, read from the socket itself: accept() attached it to a
 * file (sk_socket), or the file was closed since (SOCK_DEAD).  A child
 * still in its listener's accept queue has neither.
 */
static inline bool sockfan_sk_accepted(const struct sock *sk)
{
	return READ_ONCE(sk->sk_socket) || sock_flag(sk, SOCK_DEAD);
}

/*
 * Position in the connection hash for one netns, so that a seq_file read
 * of a big table resumes where the previous chunk stopped.
 * sockfan_conn_next() runs under rcu_read_lock().
 */
struct sockfan_conn_cursor {
	u32 netns;
	u32 bucket;
	u32 skip;
};

struct sockfan_conn *sockfan_conn_next(struct sockfan_conn_cursor *cur);
struct sockfan_listener *sockfan_listener_at(const struct net *net, loff_t pos);

/* one line of /proc/net/sockfan/ports */
struct sockfan_port_row {
	u16 port;
	u32 listeners;
	u32 established;
	u32 peers;			/* distinct remote addresses, live */
	u64 accepted;
	u64 closed;
	u64 lifetime_ns;
	u64 wait_ns;
	u64 wait_max_ns;
	u64 refused;
	u32 owner_pid;
	char owner_comm[SOCKFAN_COMM_LEN];
};

int sockfan_ports_snapshot(const struct net *net, struct sockfan_port_row **rows);

/*
 * @fn(@arg, port) for each port of @net, under rcu_read_lock(): it reads
 * the port's histograms (READ_ONCE: a count may be a record ahead of
 * its sum) and must not sleep
 */
void sockfan_ports_each(const struct net *net,
			void (*fn)(void *arg, const struct sockfan_port *p), void *arg);

struct sockfan_stats {
	u64 conns;
	u64 listeners;
	u64 drops;			/* connections not recorded: table full */
	u64 events;			/* hook invocations that changed state */
	u64 conn_bytes;			/* memory of a tracked connection */
	u64 table_bytes;		/* the connection hash, fixed at load */
	u64 seeded_listeners;		/* this netns, found at load */
	u64 seeded_conns;
	u64 strays;			/* this netns */
};

void sockfan_stats_read(const struct net *net, struct sockfan_stats *st);

/* sockfan_hooks.c */
int sockfan_hooks_init(void);
void sockfan_hooks_exit(void);
unsigned long sockfan_accept_missed(void);
unsigned long sockfan_lookup_missed(void);

/* sockfan_proc.c: a namespace's files */
int sockfan_proc_net_init(struct net *net);
void sockfan_proc_net_exit(struct net *net);

#endif /* _SOCKFAN_MOD_H */
