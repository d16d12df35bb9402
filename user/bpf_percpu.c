// SPDX-License-Identifier: GPL-2.0
/* A per-CPU BPF map's __u64 value, summed over the CPUs. */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_percpu.h"

int bpf_percpu_u64_sum(int map_fd, const void *key, __u64 *sum)
{
	int ncpus = libbpf_num_possible_cpus(), i, err = 0;
	__u64 *vals;

	*sum = 0;
	if (ncpus <= 0)
		return ncpus ?: -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, key, vals))
		err = -errno;
	for (i = 0; !err && i < ncpus; i++)
		*sum += vals[i];
	free(vals);
	return err;
}
