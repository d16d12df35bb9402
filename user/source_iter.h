/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sockets that exist now, counted through a BPF socket iterator
 * (bpf/sockfan_iter.bpf.c) instead of listed through sock_diag: for a
 * look at many connections (a scrape of serve, ports without --port)
 * where no socket of them is shown, only their count per port.
 */
#ifndef SOCKFAN_SOURCE_ITER_H
#define SOCKFAN_SOURCE_ITER_H

#include "fanout.h"

struct iter_source;

/*
 * Load and attach the iterator: 0, or a negative errno where the kernel
 * has none (no BTF, before 5.9, not allowed); said on stderr with
 * @verbose only, as the caller then takes sock_diag.
 */
int iter_source_open(struct iter_source **s, bool verbose);
void iter_source_close(struct iter_source *s);

/*
 * Listeners of @netns (0: every namespace) as sock_diag's seed sets them
 * (queue, owner), and the live connections on their ports counted by
 * state and distinct peers (fanout_snap_port_live()), and the kernel's
 * listen-queue counters.  Returns 0 or a negative errno (printed).
 */
int iter_snapshot(struct iter_source *s, struct fanout *f, __u32 netns);

#endif /* SOCKFAN_SOURCE_ITER_H */
