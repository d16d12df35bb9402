/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the live listeners are bound (struct sockfan_listen_count per
 * struct sockfan_lookup_key): kept by bpf/sockfan.bpf.c, read by the
 * sk_lookup counter (bpf/sockfan_sklookup.bpf.c), which shares the map
 * (bpf_map__reuse_fd()) and counts a lookup as a hit where a listener
 * covers it.  One definition, so that both objects agree on it.
 */
#ifndef SOCKFAN_LISTEN_ADDRS_H
#define SOCKFAN_LISTEN_ADDRS_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sockfan_lookup_key);
	__type(value, struct sockfan_listen_count);
} listen_addrs SEC(".maps");

#endif /* SOCKFAN_LISTEN_ADDRS_H */
