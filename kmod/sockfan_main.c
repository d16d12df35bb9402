// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan.ko: which connections a listening TCP socket fans out to.
 *
 * insmod sockfan.ko [max_conns=N], then read /proc/net/sockfan/ in any
 * network namespace (Documentation/proc-format.rst).  Order matters on
 * the way in and out: the table exists before any hook can write to it
 * and the /proc files exist before hooks fill the table; on the way out
 * the hooks are gone before the files and the table go.  What existed
 * before the load is seeded once the hooks are attached (sockfan_seed.c).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "sockfan_mod.h"

unsigned int sockfan_max_conns = 262144;
module_param_named(max_conns, sockfan_max_conns, uint, 0444);
MODULE_PARM_DESC(max_conns, "live connections kept at most; more are counted in drops (default 262144)");

static int __init sockfan_init(void)
{
	int err;

	if (!sockfan_max_conns || sockfan_max_conns > (1U << 24)) {
		pr_err("sockfan: max_conns=%u out of range: use 1..16777216\n",
		       sockfan_max_conns);
		return -EINVAL;
	}
	err = sockfan_table_init();
	if (err) {
		pr_err("sockfan: cannot allocate the table for max_conns=%u: try a smaller max_conns\n",
		       sockfan_max_conns);
		return err;
	}
	err = sockfan_proc_init();
	if (err)
		goto out_table;
	err = sockfan_hooks_init();
	if (err)
		goto out_proc;
	/* after the hooks: what they see from now on is not missed */
	if (sockfan_seed())
		pr_warn("sockfan: out of memory: sockets from before the load are not shown\n");
	return 0;

out_proc:
	sockfan_proc_exit();
out_table:
	sockfan_table_exit();
	return err;
}

static void __exit sockfan_exit(void)
{
	sockfan_hooks_exit();
	sockfan_proc_exit();
	sockfan_table_exit();
}

module_init(sockfan_init);
module_exit(sockfan_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("sockfan developers");
MODULE_DESCRIPTION("TCP listener fan-out: listen, accept and close by four-tuple in /proc/net/sockfan");
