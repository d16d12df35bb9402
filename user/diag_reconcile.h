/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reconciliation of the model with the kernel: connections whose CLOSE
 * record never came, asked about one by one through sock_diag.
 */
#ifndef SOCKFAN_DIAG_RECONCILE_H
#define SOCKFAN_DIAG_RECONCILE_H

#include <stddef.h>

#include "fanout.h"

/* a connection of the model that a refresh's dump did not have */
struct diag_suspect {
	struct sockfan_key key;
	__u64 cookie;
};

/* asked about per refresh at most: a few microseconds each */
#define DIAG_SUSPECTS_MAX	1024

struct diag_suspects {
	struct diag_suspect v[DIAG_SUSPECTS_MAX];
	size_t n;
};

/*
 * Of @sus (from diag_refresh(), in @netns; 0: all), the connections
 * still in @f that the kernel does not have, asked by four-tuple and
 * cookie: removed with fanout_reconcile_gone().  Returns 0 or a
 * negative errno (printed); a socket it could not ask about stays.
 */
int diag_reconcile(struct fanout *f, __u32 netns, const struct diag_suspects *sus);

#endif /* SOCKFAN_DIAG_RECONCILE_H */
