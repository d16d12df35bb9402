// SPDX-License-Identifier: GPL-2.0
/*
 * Where sockfan.ko hears about sockets:
 *  - the sock:inet_sock_set_state tracepoint: LISTEN, a passive child
 *    going SYN_RECV -> ESTABLISHED, and CLOSE;
 *  - a kretprobe on inet_csk_accept(): which task accept()ed which child
 *    from which listener.
 *  - lookups, the kernel's demultiplexing of incoming segments: a
 *    kretprobe on the listener lookups (which listener, which
 *    SO_REUSEPORT member, a SYN went to) and a kprobe on
 *    tcp_v{4,6}_send_reset() called without a socket: a SYN is a
 *    connection refused, anything else a stray segment.  Hits
 *    on established sockets are not probed per segment: the kernel
 *    counts them itself in segs_in, read from the held socket.
 * The tracepoint is a stable interface; the probes depend on functions
 * (see sockfan_compat.h), so a missing one only disables its counter.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/netdevice.h>
#include <linux/tcp.h>
#include <linux/tracepoint.h>
#include <net/tcp_states.h>

#include "sockfan_compat.h"
#include "sockfan_mod.h"

#define SOCKFAN_TRACEPOINT	"inet_sock_set_state"

static struct tracepoint *state_tp;

/*
 * The child tcp_child_process() is about to make ESTABLISHED on this
 * CPU, and the listener it was cloned from (child_pre()): the state
 * hook, which fires inside that call, takes the listener from here.
 * Both run in the softirq that handles the handshake's last ACK, so
 * nothing comes between; a child made ESTABLISHED later (from its
 * owner's backlog) finds another child here and no listener.
 */
struct child_slot {
	const struct sock *child;
	const struct sock *parent;
};

static DEFINE_PER_CPU(struct child_slot, child_slot);

static const struct sock *child_listener(const struct sock *sk)
{
	struct child_slot *slot = this_cpu_ptr(&child_slot);

	return slot->child == sk ? slot->parent : NULL;
}

static void probe_state(void *data, const struct sock *csk,
			const int oldstate, const int newstate)
{
	/* the table generates the socket's cookie, the kernel's own id */
	struct sock *sk = (struct sock *)csk;

	if (sk->sk_protocol != IPPROTO_TCP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6))
		return;
	switch (sockfan_state_kind(oldstate, newstate)) {
	case SOCKFAN_EV_LISTEN:
		sockfan_listen(sk);
		break;
	case SOCKFAN_EV_ESTABLISHED:
		sockfan_established(sk, child_listener(sk));
		break;
	case SOCKFAN_EV_CLOSE:
		if (oldstate == TCP_LISTEN)
			sockfan_listen_close(sk);
		else
			sockfan_close(sk);
		break;
	}
}

static void find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, SOCKFAN_TRACEPOINT))
		state_tp = tp;
}

struct accept_data {
	struct sock *listener;
};

static int accept_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct accept_data *d = (struct accept_data *)ri->data;

	d->listener = sockfan_accept_listener(regs);
	return 0;
}

static int accept_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct accept_data *d = (struct accept_data *)ri->data;
	struct sock *child = sockfan_accept_child(regs);

	/* NULL on error; DCCP and MPTCP subflows share this function */
	if (child && d->listener && child->sk_protocol == IPPROTO_TCP)
		sockfan_accepted(d->listener, child);
	return 0;
}

/*
 * accept() blocks inside inet_csk_accept(), holding an instance while it
 * waits: allow many blocked acceptors (prefork and threaded servers)
 * before missing; a missed return leaves its connection "queued" and is
 * counted in stats (accept_missed).
 */
static struct kretprobe accept_probe = {
	.kp.symbol_name	= SOCKFAN_ACCEPT_SYMBOL,
	.entry_handler	= accept_entry,
	.handler	= accept_return,
	.data_size	= sizeof(struct accept_data),
	.maxactive	= 4096,
};

static const char * const lookup_symbols[] = SOCKFAN_LOOKUP_LISTENER_SYMBOLS;
static const char * const reset_symbols[] = SOCKFAN_SEND_RESET_SYMBOLS;

static int lookup_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const struct sock *sk = (const struct sock *)regs_return_value(regs);

	/*
	 * DCCP shares the function; ERR_PTR never comes back from it.
	 * `sockfan lookup` asking the kernel (BPF test runs, in a task of
	 * that name; segments are looked up in softirq) is no traffic.
	 */
	if (sk && sk->sk_protocol == IPPROTO_TCP &&
	    strncmp(current->comm, SOCKFAN_LOOKUP_COMM, TASK_COMM_LEN))
		sockfan_listener_hit(sk);
	return 0;
}

/* softirq, one per CPU at a time (plus nesting): few instances suffice */
static struct kretprobe lookup_probes[ARRAY_SIZE(lookup_symbols)];

static int reset_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct sk_buff *skb = sockfan_reset_skb(regs);
	const struct tcphdr *th = tcp_hdr(skb);
	const struct net *net;

	/* a socket answers itself; nobody answers a RST with a RST */
	if (sockfan_reset_sk(regs) || !skb->dev || th->rst)
		return 0;
	net = dev_net(skb->dev);
	if (th->syn && !th->ack)
		sockfan_refused(net, ntohs(th->dest));
	else
		sockfan_stray(net);
	return 0;
}

static struct kprobe reset_probes[ARRAY_SIZE(reset_symbols)];
static bool lookup_on[ARRAY_SIZE(lookup_probes)];
static bool reset_on[ARRAY_SIZE(reset_probes)];

/*
 * Accept-queue overflows per listener: the kernel's own test, at the
 * entry of the functions that make it and then count ListenOverflows.
 * An IPv4 segment on a dual-stack listener goes on from
 * tcp_v6_syn_recv_sock() to tcp_v4_syn_recv_sock(), which counts it.
 */
static const char * const overflow_symbols[] = {
	SOCKFAN_OVERFLOW_SYN_SYMBOL, SOCKFAN_OVERFLOW_ACK_SYMBOLS
};

static struct kprobe overflow_probes[ARRAY_SIZE(overflow_symbols)];
static bool overflow_on[ARRAY_SIZE(overflow_probes)];

static int child_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct child_slot *slot = this_cpu_ptr(&child_slot);

	slot->child = sockfan_child_child(regs);
	slot->parent = sockfan_child_parent(regs);
	return 0;
}

static struct kprobe child_probe = {
	.symbol_name	= SOCKFAN_CHILD_SYMBOL,
	.pre_handler	= child_pre,
};

static bool child_on;

static void overflow_check(const struct sock *sk)
{
	if (sk && sk->sk_protocol == IPPROTO_TCP && sk_acceptq_is_full(sk))
		sockfan_listener_overflow(sk);
}

static int overflow_syn_pre(struct kprobe *kp, struct pt_regs *regs)
{
	overflow_check(sockfan_syn_listener(regs));
	return 0;
}

/* tcp_v{4,6}_syn_recv_sock(sk, skb, ...) */
static int overflow_ack_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct sk_buff *skb = sockfan_syn_recv_skb(regs);

	if (kp == &overflow_probes[2] && skb->protocol == htons(ETH_P_IP))
		return 0;
	overflow_check(sockfan_syn_recv_listener(regs));
	return 0;
}

unsigned long sockfan_accept_missed(void)
{
	return accept_probe.nmissed;
}

unsigned long sockfan_lookup_missed(void)
{
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lookup_probes); i++)
		n += lookup_probes[i].nmissed;
	return n;
}

/*
 * Lookup counters are extras: a kernel where a function is inlined or
 * renamed keeps the rest working, and says so once in the log.
 */
static void lookup_hooks_init(void)
{
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(lookup_probes); i++) {
		lookup_probes[i].kp.symbol_name = lookup_symbols[i];
		lookup_probes[i].handler = lookup_return;
		lookup_probes[i].maxactive = 4 * num_possible_cpus();
		err = register_kretprobe(&lookup_probes[i]);
		lookup_on[i] = !err;
		if (err)
			pr_warn("no listener hit counts from %s (kretprobe: %d)\n",
				lookup_symbols[i], err);
	}
	for (i = 0; i < ARRAY_SIZE(reset_probes); i++) {
		reset_probes[i].symbol_name = reset_symbols[i];
		reset_probes[i].pre_handler = reset_pre;
		err = register_kprobe(&reset_probes[i]);
		reset_on[i] = !err;
		if (err)
			pr_warn("no miss counts from %s (kprobe: %d)\n",
				reset_symbols[i], err);
	}
	err = register_kprobe(&child_probe);
	child_on = !err;
	if (err)
		pr_warn("no handshake counts per listener from %s (kprobe: %d)\n",
			SOCKFAN_CHILD_SYMBOL, err);
	for (i = 0; i < ARRAY_SIZE(overflow_probes); i++) {
		overflow_probes[i].symbol_name = overflow_symbols[i];
		overflow_probes[i].pre_handler = i ? overflow_ack_pre : overflow_syn_pre;
		err = register_kprobe(&overflow_probes[i]);
		overflow_on[i] = !err;
		if (err)
			pr_warn("no overflow counts from %s (kprobe: %d)\n",
				overflow_symbols[i], err);
	}
}

static void lookup_hooks_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lookup_probes); i++)
		if (lookup_on[i])
			unregister_kretprobe(&lookup_probes[i]);
	for (i = 0; i < ARRAY_SIZE(reset_probes); i++)
		if (reset_on[i])
			unregister_kprobe(&reset_probes[i]);
	for (i = 0; i < ARRAY_SIZE(overflow_probes); i++)
		if (overflow_on[i])
			unregister_kprobe(&overflow_probes[i]);
	if (child_on)
		unregister_kprobe(&child_probe);
}

int sockfan_hooks_init(void)
{
	int err;

	for_each_kernel_tracepoint(find_tracepoint, NULL);
	if (!state_tp) {
		pr_err("tracepoint sock:%s not found: kernel built without CONFIG_TRACEPOINTS?\n",
		       SOCKFAN_TRACEPOINT);
		return -ENOENT;
	}
	err = tracepoint_probe_register(state_tp, probe_state, NULL);
	if (err) {
		pr_err("cannot attach to tracepoint sock:%s (%d)\n",
		       SOCKFAN_TRACEPOINT, err);
		return err;
	}
	err = register_kretprobe(&accept_probe);
	if (err) {
		pr_err("cannot kretprobe %s (%d): kernel without CONFIG_KRETPROBES, or the function is not probe-able\n",
		       SOCKFAN_ACCEPT_SYMBOL, err);
		tracepoint_probe_unregister(state_tp, probe_state, NULL);
		tracepoint_synchronize_unregister();
		return err;
	}
	lookup_hooks_init();
	return 0;
}

void sockfan_hooks_exit(void)
{
	lookup_hooks_exit();
	unregister_kretprobe(&accept_probe);
	tracepoint_probe_unregister(state_tp, probe_state, NULL);
	/* no probe still running when the table goes away */
	tracepoint_synchronize_unregister();
}
