// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan.ko: which connections a listening TCP socket fans out to.
 *
 * insmod sockfan.ko [max_conns=N], then read /proc/net/sockfan/ in any
 * network namespace (Documentation/proc-format.rst).  Order matters on
 * the way in and out: the table exists before any hook can write to it
 * and every namespace's state and files exist before hooks fill them; on
 * the way out the hooks are gone before the namespaces' state and the
 * table go.  What existed before the load is seeded once the hooks are
 * attached (sockfan_seed.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "sockfan_mod.h"

unsigned int sockfan_max_conns = 262144;
module_param_named(max_conns, sockfan_max_conns, uint, 0444);
MODULE_PARM_DESC(max_conns, "live connections kept at most; more are counted in drops (default 262144)");

static unsigned int sockfan_net_id;

static int __net_init sockfan_net_init(struct net *net)
{
	sockfan_table_net_init(net_generic(net, sockfan_net_id), net);
	return sockfan_proc_net_init(net);
}

static void __net_exit sockfan_net_pre_exit(struct net *net)
{
	sockfan_table_net_dying(net_generic(net, sockfan_net_id));
}

static void __net_exit sockfan_net_exit(struct net *net)
{
	sockfan_proc_net_exit(net);
	sockfan_table_net_exit(net_generic(net, sockfan_net_id));
}

/* per namespace: its listeners, ports and /proc/net/sockfan files */
static struct pernet_operations sockfan_net_ops = {
	.init		= sockfan_net_init,
	.pre_exit	= sockfan_net_pre_exit,
	.exit		= sockfan_net_exit,
	.id		= &sockfan_net_id,
	.size		= sizeof(struct sockfan_net),
};

struct sockfan_net *sockfan_net(const struct net *net)
{
	return net_generic(net, sockfan_net_id);
}

static int __init sockfan_init(void)
{
	int err;

	if (!sockfan_max_conns || sockfan_max_conns > (1U << 24)) {
		pr_err("max_conns=%u out of range: use 1..16777216\n",
		       sockfan_max_conns);
		return -EINVAL;
	}
	err = sockfan_table_init();
	if (err) {
		pr_err("cannot allocate the table for max_conns=%u: try a smaller max_conns\n",
		       sockfan_max_conns);
		return err;
	}
	err = register_pernet_subsys(&sockfan_net_ops);
	if (err)
		goto out_table;
	err = sockfan_hooks_init();
	if (err)
		goto out_proc;
	/* after the hooks: what they see from now on is not missed */
	if (sockfan_seed())
		pr_warn("out of memory: sockets from before the load are not shown\n");
	return 0;

out_proc:
	unregister_pernet_subsys(&sockfan_net_ops);
out_table:
	sockfan_table_exit();
	return err;
}

static void __exit sockfan_exit(void)
{
	sockfan_hooks_exit();
	/* each namespace's pre_exit, a grace period, its exit */
	unregister_pernet_subsys(&sockfan_net_ops);
	sockfan_table_exit();
}

module_init(sockfan_init);
module_exit(sockfan_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("sockfan developers");
MODULE_DESCRIPTION("TCP listener fan-out: listen, accept and close by four-tuple in /proc/net/sockfan");
