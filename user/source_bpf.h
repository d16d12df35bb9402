/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF capture path: load, pick hooks, stream records to a sink. */
#ifndef SOCKFAN_SOURCE_BPF_H
#define SOCKFAN_SOURCE_BPF_H

#include <limits.h>
#include <stdbool.h>
#include "capture.h"
#include "fanout.h"
#include "hook_cost.h"

struct bpf_source;

/* bpf_source_open()'s @flags */
#define BPF_SOURCE_LOG_LIBBPF	(1U << 0)	/* show libbpf's log (-v) */
/*
 * Have the kernel count the programs' runs and run time from before
 * they attach (BPF_ENABLE_STATS, which kernel.bpf_stats_enabled=1 also
 * does but for every program and until someone resets it; this lasts
 * while the source does, and costs the programs two clock reads a run);
 * see bpf_source_hook_cost()
 */
#define BPF_SOURCE_COUNT_RUNS	(1U << 1)
/*
 * Where fexit is refused, follow accept() without the syscall-exit
 * tracepoints: while one is attached, every syscall of every task takes
 * the kernel's slow path, and each accept walks the descriptor table.
 * Accepts are then not hooked (FAN_COUNTS_ACCEPT_WAITS stays unset).
 */
#define BPF_SOURCE_NO_ACCEPT_TP	(1U << 2)
/*
 * Per port only: no hook on listener lookups nor on accept-queue
 * overflows, which count per listener (serve: they would cost a
 * kretprobe and kprobes on every SYN for counts it does not export)
 */
#define BPF_SOURCE_PORTS_ONLY	(1U << 3)

/*
 * Load and attach the programs, choosing per hook the best variant this
 * kernel accepts; records will go to @sink.  @netns (an inode; 0:
 * all): the programs record only that namespace's sockets.  @flags:
 * BPF_SOURCE_*.  Returns 0 or a negative errno, after printing what
 * failed and what to do.
 */
int bpf_source_open(struct bpf_source **sp, const struct capture_sink *sink, __u32 netns,
		    unsigned int flags);

/* what the attached hooks can count: FAN_COUNTS_* */
unsigned int bpf_source_counts(const struct bpf_source *s);

/* "state=tp_btf/inet_sock_set_state accept=fexit/inet_csk_accept" */
const char *bpf_source_hooks(const struct bpf_source *s);

/*
 * Before a sock_diag seed is dumped: until bpf_source_follow_seeded(),
 * the programs also write the CLOSE of connections they do not follow
 * (yet), if they have a cookie, as every socket the dump read has.  A
 * seeded connection that closes before its cookie reaches the programs
 * ends with that record, applied after the seed.
 */
void bpf_source_seed_begin(struct bpf_source *s);

/*
 * Follow the close of the connections a sock_diag snapshot set in @f,
 * and end what bpf_source_seed_begin() began.
 */
int bpf_source_follow_seeded(struct bpf_source *s, const struct fanout *f);

/* readable when records wait (the ring buffer's epoll descriptor) */
int bpf_source_fd(const struct bpf_source *s);

/* deliver records that arrive within @timeout_ms; returns count or -errno */
int bpf_source_poll(struct bpf_source *s, int timeout_ms);

/*
 * Deliver what is queued now, before a look: at most 64 polls, so that a
 * steady stream (a SYN flood's misses) cannot hold the look back.
 */
void bpf_source_drain(struct bpf_source *s);

#define BPF_FOLLOW_UNTIL_STOPPED	ULONG_MAX	/* for bpf_source_follow() */

/*
 * Deliver records for @seconds (0: one poll, what is queued now;
 * BPF_FOLLOW_UNTIL_STOPPED: until SIGINT or SIGTERM, which also end a
 * timed follow early), then what is still queued.  Returns 0 or -errno, after printing what failed.
 */
int bpf_source_follow(struct bpf_source *s, unsigned long seconds);

/* with @count_runs: fill @hc (HOOK_COST_MAX entries); how many, or -errno (printed) */
int bpf_source_hook_cost(const struct bpf_source *s, struct hook_cost *hc);

/*
 * With @count_runs: ns an empty program's run counts (mostly the count's
 * own clock reads), which each run in struct hook_cost's run_ns includes.
 * 0: not known.
 */
__u64 bpf_source_empty_run_ns(const struct bpf_source *s);

/* records the kernel side could not queue (ring buffer full) */
__u64 bpf_source_lost(const struct bpf_source *s);

/* counts the kernel side could not keep (its port table full) */
__u64 bpf_source_counts_lost(const struct bpf_source *s);

/* without records: lifetimes lost to a slot another connection took over */
__u64 bpf_source_times_lost(const struct bpf_source *s);

/*
 * Records of connections (ESTABLISHED, ACCEPT, CLOSE, lookups,
 * overflows) on or off, at once, without reloading: off, the programs
 * keep only the per-port aggregates (bpf_source_port_stats()) and write
 * LISTEN and a listener's CLOSE.  On after open.
 */
void bpf_source_conn_records(struct bpf_source *s, bool on);

/*
 * Follow the close of the connections open now (a sock_diag dump of
 * @netns, 0: all), so that their CLOSE records are written too: 0 or a
 * negative errno (printed).
 */
int bpf_source_follow_open(struct bpf_source *s, __u32 netns);

/*
 * Records on at run time (if they were not), for the connections open
 * now in @netns (0: all; bpf_source_follow_open()) and those to come:
 * 0, or a negative errno (printed) and records as they were.  The
 * aggregates go on as they were.
 */
int bpf_source_records_on(struct bpf_source *s, __u32 netns);

/* records off at run time, and what followed connections for them emptied */
void bpf_source_records_off(struct bpf_source *s);

/*
 * The per-port aggregates the programs keep (struct sockfan_port_stats,
 * since they were attached), summed over the CPUs: @fn per port, until
 * it returns non-zero, which is returned.  0 or a negative errno.
 */
int bpf_source_port_stats(const struct bpf_source *s,
			  int (*fn)(const struct sockfan_port_key *k,
				    const struct sockfan_port_stats *st, void *arg),
			  void *arg);

/*
 * The same per listener (FAN_COUNTS_MEMBERS), for the listeners alive
 * now: @fn(cookie, stats, @arg) for each.
 */
int bpf_source_listener_stats(const struct bpf_source *s,
			      int (*fn)(__u64 cookie, const struct sockfan_port_stats *st,
					void *arg),
			      void *arg);

/*
 * Listener lookups per port where they are counted by sk_lookup
 * (FAN_COUNTS_PORT_HITS): @fn(key, hits since attached, @arg) per
 * address and port a listener answered (sklookup_each()).  0 at once
 * without sk_lookup; else as @fn returns, or a negative errno.
 */
int bpf_source_lookup_counts(const struct bpf_source *s,
			     int (*fn)(const struct sockfan_lookup_key *k, __u64 n, void *arg),
			     void *arg);

/* records read from the ring (a snapshot's seed is none of them) */
__u64 bpf_source_records(const struct bpf_source *s);

/* records with a size other than struct sockfan_event's */
__u64 bpf_source_malformed(const struct bpf_source *s);

void bpf_source_close(struct bpf_source *s);

#endif /* SOCKFAN_SOURCE_BPF_H */
