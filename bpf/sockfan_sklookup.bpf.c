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
 * Nor does it say which socket the kernel then picks: a lookup counts
 * as a hit when a live listener covers its address, by the addresses
 * bpf/sockfan.bpf.c keeps (listen_addrs, shared); misses make no key,
 * and the hooks on resets count them.
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

/* the live listeners' addresses: bpf/sockfan.bpf.c's map, shared */
#include "listen_addrs.h"

/* lookups not counted: the map was full (one slot; shared like the map) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lookups_lost SEC(".maps");

/* listeners bound at @k's address; @dual: those that take IPv4 too */
static __always_inline bool bound(const struct sockfan_lookup_key *k, bool dual)
{
	const struct sockfan_listen_count *c = bpf_map_lookup_elem(&listen_addrs, k);

	return c && (dual ? c->dual : c->listeners);
}

/*
 * Does a listener cover lookup @k, as the kernel's compute_score() would
 * find it: bound to the address or to its family's wildcard, or for
 * IPv4 an IPv6 socket on the v4-mapped address or on [::] without
 * IPV6_V6ONLY?  (SO_BINDTODEVICE is not looked at.)
 */
static __always_inline bool covered(const struct sockfan_lookup_key *k)
{
	struct sockfan_lookup_key any = *k, v6 = *k;

	__builtin_memset(any.laddr, 0, sizeof(any.laddr));
	if (k->family == AF_INET) {
		any.laddr[10] = 0xff;
		any.laddr[11] = 0xff;
	}
	if (bound(k, false) || bound(&any, false))
		return true;
	if (k->family != AF_INET)
		return false;
	/* IPv6 sockets: the v4-mapped address as it is (v6), or [::] */
	v6.family = AF_INET6;
	__builtin_memset(any.laddr, 0, sizeof(any.laddr));
	any.family = AF_INET6;
	return bound(&v6, false) || bound(&any, true);
}

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
	/* a miss: the hooks on resets count it, and it makes no key */
	if (!covered(&k))
		return SK_PASS;
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
