/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the programs that count listener lookups (bpf/sockfan.bpf.c's
 * fexit and kretprobe, bpf/sockfan_sklookup.bpf.c): `sockfan lookup`'s
 * test runs of bpf_skc_lookup_tcp() go through the kernel's listener
 * lookup too, and they are no traffic.
 */
#ifndef SOCKFAN_ASKED_BY_SOCKFAN_H
#define SOCKFAN_ASKED_BY_SOCKFAN_H

/*
 * Is the current task `sockfan lookup` asking the kernel?  It names its
 * thread SOCKFAN_LOOKUP_COMM while it asks.  Real segments are looked
 * up in softirq, in whatever task it interrupted, or in ksoftirqd; the
 * few that a softirq at an interrupt's exit happens to run in that
 * task while it asks are left out too.  (Telling softirq from task
 * by preempt_count() needs the per-CPU variable's address, which
 * kernels without CONFIG_KALLSYMS_ALL, the CI host's, do not give BPF.)
 */
static __always_inline bool asked_by_sockfan(void)
{
	const struct task_struct *t = (const void *)bpf_get_current_task();
	/* compared a word at a time: the stack wants aligned words */
	static const union {
		char c[TASK_COMM_LEN];
		__u64 w[2];
	} asker = { .c = SOCKFAN_LOOKUP_COMM };
	union {
		char c[TASK_COMM_LEN];
		__u64 w[2];
	} comm;

	if (BPF_CORE_READ_INTO(&comm.c, t, comm))
		return false;
	return comm.w[0] == asker.w[0] && comm.w[1] == asker.w[1];
}

#endif /* SOCKFAN_ASKED_BY_SOCKFAN_H */
