// SPDX-License-Identifier: GPL-2.0
/*
 * Listener lookups, counted where neither fexit nor kretprobe attaches
 * (the CI host): an sk_lookup program runs, in the namespace it is
 * attached to, for every TCP or UDP lookup that reaches the listeners
 * (the established hash missed), before the kernel's own.  It picks no
 * socket and returns SK_PASS, so the kernel's lookup goes on unchanged.
 *
 * The context says which address and port are looked up, not in which
 * namespace: user space loads one instance per namespace, each with its
 * inode in .rodata, all counting into one map (bpf_map__reuse_fd()).
 * User space reads what each key counted since its last look and
 * deletes the keys no listener covers: the map holds the listeners'.
 * Nor does it say which socket the kernel then picks: a count is a hit
 * where a listener covers the address, which user space decides.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <sockfan/sockfan.h>
#include "asked_by_sockfan.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define SK_PASS		1

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 netns_ino;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sockfan_lookup_key);
	__type(value, __u64);
} listener_lookups SEC(".maps");

/* lookups not counted: the map was full (one slot; shared like the map) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lookups_lost SEC(".maps");

SEC("sk_lookup")
int count_lookup(struct bpf_sk_lookup *ctx)
{
	struct sockfan_lookup_key k = {};
	__u64 one = 1, *cnt;
	__u32 zero = 0;
	__u32 *a = (__u32 *)k.laddr;

	if (ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	if (asked_by_sockfan())
		return SK_PASS;
	k.netns = netns_ino;
	k.port = ctx->local_port;
	k.family = ctx->family;
	if (ctx->family == AF_INET) {
		sockfan_addr_v4mapped(k.laddr, ctx->local_ip4);
	} else {
		/* the context's fields are read 4 bytes at a time */
		a[0] = ctx->local_ip6[0];
		a[1] = ctx->local_ip6[1];
		a[2] = ctx->local_ip6[2];
		a[3] = ctx->local_ip6[3];
	}
	cnt = bpf_map_lookup_elem(&listener_lookups, &k);
	if (!cnt && !bpf_map_update_elem(&listener_lookups, &k, &one, BPF_NOEXIST))
		return SK_PASS;
	/* another CPU made the entry first: count in this CPU's share */
	if (!cnt)
		cnt = bpf_map_lookup_elem(&listener_lookups, &k);
	if (!cnt)
		cnt = bpf_map_lookup_elem(&lookups_lost, &zero);
	if (cnt)
		*cnt += 1;
	return SK_PASS;
}
