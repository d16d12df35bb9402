/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How a port's connections are spread over tasks: the accepting ones
 * (what a SO_REUSEPORT group's balance is about) and the holding ones
 * (where they went: a master that accepts and hands them to workers).
 */
#ifndef SOCKFAN_SPREAD_H
#define SOCKFAN_SPREAD_H

#include <stdio.h>

#include "fanout.h"

/*
 * "12 by 1235/nginx, 8 by 1234/nginx, 3 by ? (accepted before sockfan
 * looked)" after @lead, one line, nothing when no connection has one.
 * @holders: the holding processes instead of the accepting tasks.
 * -ENOMEM or 0.
 */
int print_spread(FILE *out, const char *lead, const struct fan_conn **conns, size_t n,
		 bool holders);

#endif /* SOCKFAN_SPREAD_H */
