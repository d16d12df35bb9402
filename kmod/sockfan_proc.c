// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/sockfan/{ports,listeners,conns,stats}, one directory per
 * network namespace, each showing only that namespace.  The format is a
 * spec (Documentation/proc-format.rst): a header line naming the
 * columns, then one record per line, fields separated by one space, no
 * field ever empty or containing a space.  The files are read-only, and
 * name tasks only to readers allowed to know them (seq_task()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/ctype.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/tcp.h>
#include <linux/timekeeping.h>
#include <net/net_namespace.h>

#include "sockfan_compat.h"
#include "sockfan_mod.h"

static u32 seq_netns(struct seq_file *m)
{
	return seq_file_net(m)->ns.inum;
}

/* a task name as one field: "-" when empty, no blanks, no control bytes */
static void seq_comm(struct seq_file *m, const char *comm)
{
	int i;

	if (!comm[0]) {
		seq_putc(m, '-');
		return;
	}
	for (i = 0; i < SOCKFAN_COMM_LEN && comm[i]; i++)
		seq_putc(m, isgraph(comm[i]) ? comm[i] : '_');
}

/*
 * Which task holds a socket is what ss -p shows only to those who may
 * look into other processes: here, readers with CAP_NET_ADMIN over the
 * namespace (the opener's credentials).  Decided once per read(), at
 * ->start, not per line: a denial is audited.
 */
static bool may_see_tasks(struct seq_file *m, struct net *net)
{
	return file_ns_capable(m->file, net->user_ns, CAP_NET_ADMIN);
}

/*
 * "pid comm"; "0 -" when no task holds it (a connection still in the
 * accept queue); "0 ?" when one does but the reader may not know which
 * (conns_show() also prints it when the module does not know either).
 * The rest of the line is anyone's to see, as in /proc/net/tcp.
 */
static void seq_task(struct seq_file *m, bool shown, u32 pid, const char *comm)
{
	if (!pid) {
		seq_puts(m, "0 -");
	} else if (!shown) {
		seq_puts(m, "0 ?");
	} else {
		seq_printf(m, "%u ", pid);
		seq_comm(m, comm);
	}
}

/*
 * The name process @pid has now (its main thread's, as ss -p shows it),
 * "" once it is gone.  Read without task_lock(), like /proc/PID/stat: a
 * rename at that moment may show half of each name.
 */
static void process_comm(struct pid *pid, char *comm)
{
	struct task_struct *t;

	comm[0] = '\0';
	rcu_read_lock();
	t = pid_task(pid, PIDTYPE_TGID);
	if (t)
		strscpy_pad(comm, t->comm, SOCKFAN_COMM_LEN);
	rcu_read_unlock();
}

static void seq_addr(struct seq_file *m, const struct sockfan_key *key, const u8 *addr)
{
	if (key->family == AF_INET)
		seq_printf(m, "%pI4", addr + 12);
	else
		seq_printf(m, "%pI6c", addr);
}

static const char *family_name(const struct sockfan_key *key)
{
	return key->family == AF_INET ? "inet" : "inet6";
}

static int ports_show(struct seq_file *m, void *v)
{
	bool tasks = may_see_tasks(m, seq_file_single_net(m));
	struct sockfan_port_row *rows;
	int i, n;

	n = sockfan_ports_snapshot(seq_file_single_net(m), &rows);
	if (n < 0)
		return n;
	seq_puts(m, "port listeners established accepted closed peers lifetime_sum_us wait_sum_us wait_max_us refused owner_pid owner_comm\n");
	for (i = 0; i < n; i++) {
		seq_printf(m, "%u %u %u %llu %llu %u %llu %llu %llu %llu ", rows[i].port,
			   rows[i].listeners, rows[i].established, rows[i].accepted,
			   rows[i].closed, rows[i].peers,
			   div_u64(rows[i].lifetime_ns, NSEC_PER_USEC),
			   div_u64(rows[i].wait_ns, NSEC_PER_USEC),
			   div_u64(rows[i].wait_max_ns, NSEC_PER_USEC), rows[i].refused);
		seq_task(m, tasks, rows[i].owner_pid, rows[i].owner_comm);
		seq_putc(m, '\n');
	}
	kvfree(rows);
	return 0;
}

static const char * const hist_names[SOCKFAN_NR_HISTS] = {
	[SOCKFAN_HIST_HANDSHAKE] = "handshake",
	[SOCKFAN_HIST_ACCEPT_WAIT] = "accept_wait",
	[SOCKFAN_HIST_LIFETIME] = "lifetime",
};

/* a port's three lines of the hist file: "slot:count" of each non-empty slot */
static void hist_port(void *arg, const struct sockfan_port *p)
{
	struct seq_file *m = arg;
	u64 count, n;
	int h, i;
	bool any;

	for (h = 0; h < SOCKFAN_NR_HISTS; h++) {
		for (i = 0, count = 0; i < SOCKFAN_HIST_SLOTS; i++)
			count += READ_ONCE(p->hist[h][i]);
		seq_printf(m, "%u %s %llu %llu ", p->port, hist_names[h], count,
			   div_u64(READ_ONCE(p->hist_sum_ns[h]), NSEC_PER_USEC));
		for (i = 0, any = false; i < SOCKFAN_HIST_SLOTS; i++) {
			n = READ_ONCE(p->hist[h][i]);
			if (!n)
				continue;
			seq_printf(m, "%s%d:%llu", any ? "," : "", i, n);
			any = true;
		}
		seq_puts(m, any ? "\n" : "-\n");
	}
}

static int hist_show(struct seq_file *m, void *v)
{
	seq_puts(m, "port hist count sum_us slots\n");
	sockfan_ports_each(seq_file_single_net(m), hist_port, m);
	return 0;
}

static int stats_show(struct seq_file *m, void *v)
{
	struct sockfan_stats st;

	sockfan_stats_read(seq_file_single_net(m), &st);
	seq_printf(m, "name value\nconns %llu\nlisteners %llu\nmax_conns %u\ndrops %llu\nevents %llu\naccept_missed %lu\nlookup_missed %lu\nconn_bytes %llu\ntable_bytes %llu\nseeded_listeners %llu\nseeded_conns %llu\nstrays %llu\n",
		   st.conns, st.listeners, sockfan_max_conns, st.drops, st.events,
		   sockfan_accept_missed(), sockfan_lookup_missed(), st.conn_bytes,
		   st.table_bytes, st.seeded_listeners, st.seeded_conns, st.strays);
	return 0;
}

struct listeners_iter {
	struct seq_net_private p;	/* first: seq_file_net() needs it */
	bool tasks;			/* may_see_tasks(), this read() */
};

/* listeners: few, so a position is found by walking the list */
static void *listeners_start(struct seq_file *m, loff_t *pos)
	__acquires(RCU)
{
	struct listeners_iter *it = m->private;

	it->tasks = may_see_tasks(m, seq_file_net(m));
	rcu_read_lock();
	if (*pos == 0)
		return SEQ_START_TOKEN;
	return sockfan_listener_at(seq_file_net(m), *pos - 1);
}

static void *listeners_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return sockfan_listener_at(seq_file_net(m), *pos - 1);
}

static void rcu_stop(struct seq_file *m, void *v)
	__releases(RCU)
{
	rcu_read_unlock();
}

static int listeners_show(struct seq_file *m, void *v)
{
	struct listeners_iter *it = m->private;
	struct sockfan_listener *l = v;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "cookie family laddr lport backlog qlen overflows drops handshakes accepted hits pid comm\n");
		return 0;
	}
	seq_printf(m, "%llu %s ", l->cookie, family_name(&l->key));
	seq_addr(m, &l->key, l->key.laddr);
	/* the live queue, read as inet_diag does for ss -l */
	seq_printf(m, " %u %u %u %llu %u %llu %llu %llu ", l->key.lport,
		   READ_ONCE(l->sk->sk_max_ack_backlog), READ_ONCE(l->sk->sk_ack_backlog),
		   (u64)atomic64_read(&l->overflows), sockfan_sk_drops(l->sk),
		   (u64)atomic64_read(&l->handshakes), READ_ONCE(l->accepted),
		   (u64)atomic64_read(&l->hits));
	/* a listener found at load gets its pid after its comm */
	seq_task(m, it->tasks, smp_load_acquire(&l->pid), l->comm);
	seq_putc(m, '\n');
	return 0;
}

static const struct seq_operations listeners_ops = {
	.start	= listeners_start,
	.next	= listeners_next,
	.stop	= rcu_stop,
	.show	= listeners_show,
};

/*
 * conns may hold hundreds of thousands of lines: keep a cursor between
 * the chunks of one read.  @at is where the record at @at_pos was found;
 * seq_file asks for that record again when it did not fit the buffer.
 */
struct conns_iter {
	struct seq_net_private p;	/* first: seq_file_net() needs it */
	struct sockfan_conn_cursor cur;
	struct sockfan_conn_cursor at;
	loff_t at_pos;
	bool tasks;			/* may_see_tasks(), this read() */
};

static void *conns_fetch(struct seq_file *m, loff_t pos)
{
	struct conns_iter *it = m->private;

	it->at = it->cur;
	it->at_pos = pos;
	return sockfan_conn_next(&it->cur);
}

static void *conns_start(struct seq_file *m, loff_t *pos)
	__acquires(RCU)
{
	struct conns_iter *it = m->private;
	loff_t i;

	it->tasks = may_see_tasks(m, seq_file_net(m));
	rcu_read_lock();
	if (*pos == 0)
		return SEQ_START_TOKEN;
	if (*pos == it->at_pos && it->at.netns) {
		it->cur = it->at;
	} else if (*pos != it->at_pos + 1 || !it->at.netns) {
		/* a seek: start over and skip */
		memset(&it->cur, 0, sizeof(it->cur));
		it->cur.netns = seq_netns(m);
		for (i = 1; i < *pos; i++)
			if (!sockfan_conn_next(&it->cur))
				return NULL;
	}
	return conns_fetch(m, *pos);
}

static void *conns_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct conns_iter *it = m->private;

	if (v == SEQ_START_TOKEN) {
		memset(&it->cur, 0, sizeof(it->cur));
		it->cur.netns = seq_netns(m);
	}
	++*pos;
	return conns_fetch(m, *pos);
}

/*
 * The socket's state now, as ss names it: an accepted socket its
 * process never closes after the peer left is CLOSE-WAIT, not ESTAB.
 */
static const char *tcp_state_name(unsigned int state)
{
	static const char * const names[] = {
		[TCP_ESTABLISHED] = "ESTAB",		[TCP_SYN_SENT] = "SYN-SENT",
		[TCP_SYN_RECV] = "SYN-RECV",		[TCP_FIN_WAIT1] = "FIN-WAIT-1",
		[TCP_FIN_WAIT2] = "FIN-WAIT-2",		[TCP_TIME_WAIT] = "TIME-WAIT",
		[TCP_CLOSE] = "UNCONN",			[TCP_CLOSE_WAIT] = "CLOSE-WAIT",
		[TCP_LAST_ACK] = "LAST-ACK",		[TCP_LISTEN] = "LISTEN",
		[TCP_CLOSING] = "CLOSING",		[TCP_NEW_SYN_RECV] = "NEW-SYN-RECV",
	};

	return state < ARRAY_SIZE(names) && names[state] ? names[state] : "?";
}

static int conns_show(struct seq_file *m, void *v)
{
	struct conns_iter *it = m->private;
	char comm[SOCKFAN_COMM_LEN] = "";
	struct sockfan_conn *c = v;
	u64 now = ktime_get_ns();
	struct pid *pid;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "cookie family laddr lport raddr rport listener pid comm age_ms segs_in state\n");
		return 0;
	}
	seq_printf(m, "%llu %s ", sockfan_sk_cookie(c->sk), family_name(&c->key));
	seq_addr(m, &c->key, c->key.laddr);
	seq_printf(m, " %u ", c->key.lport);
	seq_addr(m, &c->key, c->key.raddr);
	seq_printf(m, " %u %llu ", c->key.rport, READ_ONCE(c->listener));
	pid = READ_ONCE(c->pid);
	if (pid && it->tasks)
		process_comm(pid, comm);
	if (!pid && sockfan_sk_accepted(c->sk))
		/* accepted, by a process the module did not see accept it */
		seq_puts(m, "0 ?");
	else
		seq_task(m, it->tasks, pid ? pid_nr(pid) : 0, comm);
	/* segments the kernel's lookup delivered to it, as ss -ti shows */
	seq_printf(m, " %llu %u %s\n", div_u64(now - c->born_ns, NSEC_PER_MSEC),
		   READ_ONCE(tcp_sk(c->sk)->segs_in), tcp_state_name(READ_ONCE(c->sk->sk_state)));
	return 0;
}

static const struct seq_operations conns_ops = {
	.start	= conns_start,
	.next	= conns_next,
	.stop	= rcu_stop,
	.show	= conns_show,
};

/* the namespace's /proc/net/sockfan/ */
int sockfan_proc_net_init(struct net *net)
{
	struct proc_dir_entry *dir;

	dir = proc_net_mkdir(net, SOCKFAN_PROC_DIR, net->proc_net);
	if (!dir)
		goto fail;
	if (!proc_create_net_single("ports", 0444, dir, ports_show, NULL) ||
	    !proc_create_net_single("stats", 0444, dir, stats_show, NULL) ||
	    !proc_create_net_single("hist", 0444, dir, hist_show, NULL) ||
	    !proc_create_net("listeners", 0444, dir, &listeners_ops,
			     sizeof(struct listeners_iter)) ||
	    !proc_create_net("conns", 0444, dir, &conns_ops, sizeof(struct conns_iter)))
		goto fail;
	return 0;
fail:
	remove_proc_subtree(SOCKFAN_PROC_DIR, net->proc_net);
	pr_err("cannot create /proc/net/%s in netns %u: out of memory\n",
	       SOCKFAN_PROC_DIR, net->ns.inum);
	return -ENOMEM;
}

void sockfan_proc_net_exit(struct net *net)
{
	remove_proc_subtree(SOCKFAN_PROC_DIR, net->proc_net);
}
