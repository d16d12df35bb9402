// SPDX-License-Identifier: GPL-2.0
/*
 * Where sockfan.ko hears about sockets:
 *  - the sock:inet_sock_set_state tracepoint: LISTEN, a passive child
 *    going SYN_RECV -> ESTABLISHED, and CLOSE;
 *  - a kretprobe on inet_csk_accept(): which task accept()ed which child
 *    from which listener.
 * The tracepoint is a stable interface; the kretprobe is the one hook
 * that depends on a function's signature (see sockfan_compat.h).
 */
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <net/tcp_states.h>

#include "sockfan_compat.h"
#include "sockfan_mod.h"

#define SOCKFAN_TRACEPOINT	"inet_sock_set_state"

static struct tracepoint *state_tp;

static void probe_state(void *data, const struct sock *csk,
			const int oldstate, const int newstate)
{
	/* the table generates the socket's cookie, the kernel's own id */
	struct sock *sk = (struct sock *)csk;

	if (sk->sk_protocol != IPPROTO_TCP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6))
		return;
	if (newstate == TCP_LISTEN)
		sockfan_listen(sk);
	else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)
		sockfan_listen_close(sk);
	else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED)
		sockfan_established(sk);
	else if (newstate == TCP_CLOSE)
		sockfan_close(sk);
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
 * waits: allow many blocked acceptors (threaded servers) before missing.
 */
static struct kretprobe accept_probe = {
	.kp.symbol_name	= SOCKFAN_ACCEPT_SYMBOL,
	.entry_handler	= accept_entry,
	.handler	= accept_return,
	.data_size	= sizeof(struct accept_data),
	.maxactive	= 512,
};

unsigned long sockfan_hooks_missed(void)
{
	return accept_probe.nmissed;
}

int sockfan_hooks_init(void)
{
	int err;

	for_each_kernel_tracepoint(find_tracepoint, NULL);
	if (!state_tp) {
		pr_err("sockfan: tracepoint sock:%s not found: kernel built without CONFIG_TRACEPOINTS?\n",
		       SOCKFAN_TRACEPOINT);
		return -ENOENT;
	}
	err = tracepoint_probe_register(state_tp, probe_state, NULL);
	if (err) {
		pr_err("sockfan: cannot attach to tracepoint sock:%s (%d)\n",
		       SOCKFAN_TRACEPOINT, err);
		return err;
	}
	err = register_kretprobe(&accept_probe);
	if (err) {
		pr_err("sockfan: cannot kretprobe %s (%d): kernel without CONFIG_KRETPROBES, or the function is not probe-able\n",
		       SOCKFAN_ACCEPT_SYMBOL, err);
		tracepoint_probe_unregister(state_tp, probe_state, NULL);
		tracepoint_synchronize_unregister();
		return err;
	}
	return 0;
}

void sockfan_hooks_exit(void)
{
	unregister_kretprobe(&accept_probe);
	tracepoint_probe_unregister(state_tp, probe_state, NULL);
	/* no probe still running when the table goes away */
	tracepoint_synchronize_unregister();
}
