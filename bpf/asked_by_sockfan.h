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
 * up in softirq, in whatever task it interrupted, or in ksoftirqd:
 * never in that one, which sends nothing.  (Telling softirq from task
 * by preempt_count() needs the per-CPU variable's address, which
 * kernels without CONFIG_KALLSYMS_ALL, the CI host's, do not give BPF.)
 */
static __always_inline bool asked_by_sockfan(void)
{
	const struct task_struct *t = (const void *)bpf_get_current_task();
	static const char asker[TASK_COMM_LEN] = SOCKFAN_LOOKUP_COMM;
	char comm[TASK_COMM_LEN];
	const __u64 *a = (const __u64 *)asker, *c = (const __u64 *)comm;

	if (BPF_CORE_READ_INTO(&comm, t, comm))
		return false;
	return c[0] == a[0] && c[1] == a[1];
}

#endif /* SOCKFAN_ASKED_BY_SOCKFAN_H */
