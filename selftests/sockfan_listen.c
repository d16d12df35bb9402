// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan_listen: a TCP server that listens and never accepts, so its
 * accept queue fills and the kernel starts dropping handshakes: the
 * selftests' full-queue server.  Bounded in time.
 *
 *   sockfan_listen -a ADDR -p PORT -b BACKLOG [-t SECONDS] [-D SECONDS]
 *
 * ADDR is an IPv4 or IPv6 literal.  -D sets TCP_DEFER_ACCEPT: the
 * handshake's bare ACK is dropped (TCPDeferAcceptDrop, and the
 * listener's sk_drops) until data comes.  Prints "listening" once listen()
 * returned, then sleeps until SECONDS pass (default 60) or a signal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest.h"

#define MAX_HOLD	3600

static void print_usage(void)
{
	fprintf(stderr, "usage: sockfan_listen -a ADDR -p PORT -b BACKLOG [-t SECONDS] [-D SECONDS]\n");
	exit(KSFT_FAIL);
}

static long number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "sockfan_listen: %s '%s' out of range %ld..%ld\n",
			what, s, min, max);
		exit(KSFT_FAIL);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	long port = -1, backlog = -1, hold = 60, defer = 0;
	const char *addr = NULL;
	socklen_t len;
	int opt, fd;

	while ((opt = getopt(argc, argv, "a:p:b:t:D:")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = number(optarg, 1, 65535, "port");
			break;
		case 'b':
			backlog = number(optarg, 0, 65535, "backlog");
			break;
		case 't':
			hold = number(optarg, 1, MAX_HOLD, "seconds");
			break;
		case 'D':
			defer = number(optarg, 1, MAX_HOLD, "defer seconds");
			break;
		default:
			print_usage();
		}
	}
	if (!addr || port < 0 || backlog < 0 || optind != argc)
		print_usage();
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		len = sizeof(*a6);
	} else {
		fprintf(stderr, "sockfan_listen: '%s' is not an IPv4 or IPv6 address\n", addr);
		return KSFT_FAIL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && defer &&
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &(int){ defer }, sizeof(int))) {
		fprintf(stderr, "sockfan_listen: TCP_DEFER_ACCEPT: %s\n", strerror(errno));
		return KSFT_FAIL;
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog)) {
		fprintf(stderr, "sockfan_listen: cannot listen on %s port %ld: %s\n",
			addr, port, strerror(errno));
		return KSFT_FAIL;
	}
	printf("listening\n");
	fflush(stdout);
	/* never accept(): the queue fills; sleep() returns early on a signal */
	sleep(hold);
	close(fd);
	return KSFT_PASS;
}
