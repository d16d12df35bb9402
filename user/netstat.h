/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's own listen-queue counters of a network namespace, as
 * nstat shows them (TcpExt in /proc/net/netstat): what a listener's raw
 * drop counter (sk_drops) mixes together, told apart.
 */
#ifndef SOCKFAN_NETSTAT_H
#define SOCKFAN_NETSTAT_H

#include <linux/types.h>

struct netstat_listen {
	__u64 overflows;	/* ListenOverflows: accept queue full */
	__u64 drops;		/* ListenDrops: every SYN or ACK a listener dropped */
	__u64 defer_accept;	/* TCPDeferAcceptDrop: TCP_DEFER_ACCEPT's bare ACKs */
	/*
	 * SYN cookies: sent (SyncookiesSent: a SYN answered without a request
	 * socket, the SYN queue being full or net.ipv4.tcp_syncookies=2),
	 * validated by the handshake's last ACK (SyncookiesRecv), and ACKs
	 * whose cookie did not check (SyncookiesFailed)
	 */
	__u64 syncookies_sent;
	__u64 syncookies_recv;
	__u64 syncookies_failed;
};

/*
 * Read them for the caller thread's network namespace (after setns, the
 * one entered).  0, or -errno when /proc/thread-self/net/netstat cannot
 * be read or lacks a counter (message printed).
 */
int netstat_listen_read(struct netstat_listen *out);

/* the same parse, of @text (the file's contents): 0 or -EPROTO */
int netstat_listen_parse(const char *text, struct netstat_listen *out);

#endif /* SOCKFAN_NETSTAT_H */
