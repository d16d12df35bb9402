/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reconciliation of the model with the kernel: connections whose CLOSE
 * record never came, asked about one by one through sock_diag.
 */
#ifndef SOCKFAN_DIAG_RECONCILE_H
#define SOCKFAN_DIAG_RECONCILE_H

#include "fanout.h"
#include "seed_diag.h"

/*
 * Of @sus (from diag_refresh(), in @netns; 0: all), the connections
 * still in @f that the kernel does not have, asked by four-tuple and
 * cookie: removed with fanout_reconcile_gone().  Returns 0 or a
 * negative errno (printed); a socket it could not ask about stays.
 */
int diag_reconcile(struct fanout *f, __u32 netns, const struct diag_suspects *sus);

#endif /* SOCKFAN_DIAG_RECONCILE_H */
