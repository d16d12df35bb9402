/* SPDX-License-Identifier: GPL-2.0 */
/* A per-CPU BPF map's __u64 value, summed over the CPUs. */
#ifndef SOCKFAN_BPF_PERCPU_H
#define SOCKFAN_BPF_PERCPU_H

#include <linux/types.h>

/*
 * *@sum: @key's value in per-CPU map @map_fd (of __u64 values), summed
 * over the possible CPUs.  0, or a negative errno (-ENOENT: no such key).
 */
int bpf_percpu_u64_sum(int map_fd, const void *key, __u64 *sum);

#endif /* SOCKFAN_BPF_PERCPU_H */
