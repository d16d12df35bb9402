/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a capture path hands its records to, as bcc's tools hand theirs
 * to handle_event(): the model (fanout_apply()) for the views, a printer
 * for `trace`.  Snapshots (the module's files, sock_diag) are no records:
 * they set what they show through the model's fanout_snap_*().
 */
#ifndef SOCKFAN_CAPTURE_H
#define SOCKFAN_CAPTURE_H

#include <sockfan/sockfan.h>

struct capture_sink {
	/* one record, in the order the kernel produced them */
	void (*record)(const struct sockfan_event *e, void *arg);
	void *arg;
};

#endif /* SOCKFAN_CAPTURE_H */
