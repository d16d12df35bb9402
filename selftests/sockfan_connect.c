// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan_connect: open N TCP connections to one server, from a list of
 * source addresses in turn, hold them for a while, then close them all.
 * The selftests' client: bounded in count and in time, and it only goes
 * where it is told (loopback or the test's own namespaces).
 *
 *   sockfan_connect -d ADDR -p PORT -n N [-s SRC[,SRC...]] [-t SECONDS]
 *                   [-w SECONDS]
 *
 * ADDR and the sources are IPv4 or IPv6 literals, all of one family.
 * Prints "connected N" once every connection is up, then holds them
 * until SECONDS pass or it gets SIGTERM/SIGINT.
 *
 * With -w, connect() does not block: handshakes still pending after the
 * -w SECONDS are given up (closed, so their SYNs stop), as are refused
 * ones, and it prints "connected K of N" and holds the K that are up.
 * That is for servers that cannot take them all, such as a listener with
 * a full accept queue, where the kernel drops the SYNs of the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#define MAX_CONNS	1000000	/* bench/scale.sh: one process, many sources */
#define MAX_SRCS	64
#define MAX_HOLD	3600

/* set from a signal handler: atomic builtins rather than volatile */
static int done;

static void on_signal(int sig)
{
	__atomic_store_n(&done, 1, __ATOMIC_RELAXED);
}

static int to_sockaddr(const char *addr, int port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return AF_INET6;
	}
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * -w: wait up to @wait_s seconds for the non-blocking connects in @fds to
 * complete; close the refused ones and those still pending at the end
 * (fd set to -1) and return how many are up.
 */
static int wait_handshakes(int *fds, int n, int wait_s)
{
	long long end = now_ms() + wait_s * 1000LL;
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	int i, pending = n, up = 0, err;
	long long left;
	socklen_t len;

	if (!pfd)
		ksft_exit_fail_msg("out of memory\n");
	/* a handshake that is over, done or refused, makes its socket writable */
	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLOUT;
	}
	while (pending && !__atomic_load_n(&done, __ATOMIC_RELAXED)) {
		left = end - now_ms();
		if (left <= 0)
			break;
		if (poll(pfd, n, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			ksft_exit_fail_msg("poll: %s\n", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			len = sizeof(err);
			if (getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err, &len))
				err = errno;
			if (err) {
				close(fds[i]);
				fds[i] = -1;
			} else {
				up++;
			}
			/* negative fds are ignored by poll() */
			pfd[i].fd = -1;
			pending--;
		}
	}
	for (i = 0; i < n; i++) {
		if (pfd[i].fd >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	free(pfd);
	return up;
}

/* room for @want descriptors; root may raise the hard limit up to nr_open */
static void raise_fd_limit(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		ksft_print_msg("cannot raise the descriptor limit to %lu: %s (sysctl fs.nr_open)\n",
			       (unsigned long)want, strerror(errno));
}

static void print_usage(void)
{
	fprintf(stderr, "usage: sockfan_connect -d ADDR -p PORT -n N [-s SRC[,SRC...]] [-t SECONDS] [-w SECONDS]\n");
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	char *dst = NULL, *srcs[MAX_SRCS], *tok, *save = NULL;
	int port = 0, n = 0, hold = 10, nsrc = 0, wait_s = -1, c, i, up;
	struct sockaddr_storage daddr, saddr;
	socklen_t dlen, slen;
	int *fds, family, one = 1;

	while ((c = getopt(argc, argv, "d:p:n:s:t:w:")) != -1) {
		switch (c) {
		case 'd':
			dst = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 's':
			for (tok = strtok_r(optarg, ",", &save); tok && nsrc < MAX_SRCS;
			     tok = strtok_r(NULL, ",", &save))
				srcs[nsrc++] = tok;
			break;
		case 't':
			hold = atoi(optarg);
			break;
		case 'w':
			wait_s = atoi(optarg);
			if (wait_s < 0 || wait_s > MAX_HOLD)
				print_usage();
			break;
		default:
			print_usage();
		}
	}
	if (!dst || port <= 0 || port > 65535 || n <= 0 || n > MAX_CONNS ||
	    hold < 0 || hold > MAX_HOLD)
		print_usage();
	family = to_sockaddr(dst, port, &daddr, &dlen);
	if (family < 0)
		ksft_exit_fail_msg("bad destination address %s\n", dst);

	fds = calloc(n, sizeof(*fds));
	if (!fds)
		ksft_exit_fail_msg("out of memory\n");
	raise_fd_limit(n + 64);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	for (i = 0; i < n; i++) {
		fds[i] = socket(family, SOCK_STREAM | (wait_s >= 0 ? SOCK_NONBLOCK : 0), 0);
		if (fds[i] < 0)
			ksft_exit_fail_msg("socket: %s\n", strerror(errno));
		if (nsrc) {
			if (to_sockaddr(srcs[i % nsrc], 0, &saddr, &slen) != family)
				ksft_exit_fail_msg("source %s is not of the destination's family\n",
						   srcs[i % nsrc]);
			/*
			 * the port is chosen by connect(), unique per
			 * four-tuple: bind() alone would search for a port
			 * free on this address, slower with every socket
			 */
			if (setsockopt(fds[i], IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
				       sizeof(one)))
				ksft_exit_fail_msg("IP_BIND_ADDRESS_NO_PORT: %s\n", strerror(errno));
			if (bind(fds[i], (struct sockaddr *)&saddr, slen))
				ksft_exit_fail_msg("bind %s: %s\n", srcs[i % nsrc],
						   strerror(errno));
		}
		if (connect(fds[i], (struct sockaddr *)&daddr, dlen) &&
		    (wait_s < 0 || errno != EINPROGRESS))
			ksft_exit_fail_msg("connect %s:%d (#%d): %s\n", dst, port, i + 1,
					   strerror(errno));
	}
	if (wait_s >= 0) {
		up = wait_handshakes(fds, n, wait_s);
		printf("connected %d of %d\n", up, n);
	} else {
		printf("connected %d\n", n);
	}
	fflush(stdout);

	for (i = 0; i < hold * 10 && !__atomic_load_n(&done, __ATOMIC_RELAXED); i++)
		usleep(100000);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return KSFT_PASS;
}
