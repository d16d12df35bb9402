// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the /proc/net/sockfan parser and the model behind
 * it.  The first byte picks the file (conns, listeners, ports, stats,
 * hist, or the kernel's /proc/net/netstat); the rest
 * is its text.  Whatever the text, the parser must accept it or reject
 * it with a message, never crash or leak (ASan, UBSan); an accepted file
 * must give rows and a port's sockets that the views can print.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "query.h"
#include "netstat.h"
#include "source_proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char * const names[] = { "conns", "listeners", "ports", "stats", "hist" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fan_conn **conns;
	struct fan_row *rows;
	struct fanout f;
	size_t n, i, nc;
	FILE *fp;

	if (size >= 1 && data[0] % 6 == 5) {
		struct netstat_listen ls;
		char *text = strndup((const char *)data + 1, size - 1);

		if (text)
			netstat_listen_parse(text, &ls);
		free(text);
		return 0;
	}
	if (size < 1 || fanout_init(&f))
		return 0;
	fp = fmemopen((void *)(data + 1), size - 1, "r");
	if (!fp && size > 1) {
		fanout_free(&f);
		return 0;
	}
	if (!fp)
		fp = fopen("/dev/null", "r");
	if (!proc_source_parse(&f, names[data[0] % 6], fp, "fuzz") &&
	    !query_rows(&f, NULL, &rows, &n)) {
		for (i = 0; i < n; i++) {
			if (!query_port_conns(&f, NULL, rows[i].netns, rows[i].port, &conns, &nc))
				free(conns);
		}
		free(rows);
	}
	fclose(fp);
	fanout_free(&f);
	return 0;
}
