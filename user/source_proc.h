/* SPDX-License-Identifier: GPL-2.0 */
/* The module capture path: /proc/net/sockfan/ read into a model. */
#ifndef SOCKFAN_SOURCE_PROC_H
#define SOCKFAN_SOURCE_PROC_H

#include <stdio.h>

#include "fanout.h"

#define SOCKFAN_PROC_PATH	"/proc/net/" SOCKFAN_PROC_DIR

/*
 * Read listeners, conns, ports, hist and stats from @dir (SOCKFAN_PROC_PATH: the
 * caller's network namespace) into @f.  Every line is checked against
 * Documentation/proc-format.rst; a malformed one is an error that names
 * file and line.  Returns 0 or a negative errno (message printed).
 */
int proc_source_read(struct fanout *f, const char *dir);

/*
 * Parse one of those files, @name ("conns", "listeners", "ports", "hist", "stats"),
 * from @fp; @path names it in messages.  Returns 0, -EINVAL for an
 * unknown @name, or -EPROTO (message printed).
 */
int proc_source_parse(struct fanout *f, const char *name, FILE *fp, const char *path);

#endif /* SOCKFAN_SOURCE_PROC_H */
