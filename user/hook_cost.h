/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a BPF program costs, as the kernel counts it (BPF_ENABLE_STATS):
 * filled by the BPF source (bpf_source_hook_cost()), printed by the
 * views.  Its own header so that neither depends on the other.
 */
#ifndef SOCKFAN_HOOK_COST_H
#define SOCKFAN_HOOK_COST_H

#include <linux/types.h>

/* per attached program: runs and run time */
struct hook_cost {
	char prog[16];		/* BPF_OBJ_NAME_LEN */
	__u64 runs;
	__u64 run_ns;
};

#define HOOK_COST_MAX	16

#endif /* SOCKFAN_HOOK_COST_H */
