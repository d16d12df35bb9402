// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the fan-out model fed any sequence of records, as a
 * BPF ring buffer or a buggy module could deliver them (out of order,
 * repeated, unknown kinds, impossible values).  The model must stay
 * consistent enough for every view: rows, a port's sockets, filters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fan_filter flt = { 0 };
	const struct fan_filter *fp = NULL;
	const struct fan_conn **conns;
	struct sockfan_event e;
	struct fan_row *rows;
	struct fanout f;
	size_t i, n, nc;

	if (fanout_init(&f))
		return 0;
	/* the first bytes, if any, make a filter the views apply */
	if (size > sizeof(e) && data[0] & 1) {
		flt.family = data[0] & 2 ? 10 : 2;
		flt.port = data[1];
		fp = &flt;
	}
	for (i = 0; i + sizeof(e) <= size; i += sizeof(e)) {
		memcpy(&e, data + i, sizeof(e));
		/* few netns and ports, so that records meet the same sockets */
		e.key.netns &= 3;
		e.key.lport &= 7;
		e.key.rport &= 7;
		fanout_apply(&f, &e);
	}
	if (!query_rows(&f, fp, &rows, &n)) {
		for (i = 0; i < n; i++) {
			if (!query_port_conns(&f, fp, rows[i].netns, rows[i].port, &conns, &nc))
				free(conns);
		}
		free(rows);
	}
	fanout_free(&f);
	return 0;
}
