// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan: show how one listening TCP socket fans out into many
 * connection sockets that share its local port.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sockfan/sockfan.h>
#include "cli.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "ports", cmd_ports, "per-port fan-out: listeners, connections, accepts, peers" },
	{ "top", cmd_top, "live per-port view sorted by fan-out, with rates (q quits)" },
	{ "trace", cmd_trace, "event stream: listen, handshake, accept, close, lookup miss" },
	{ "explain", cmd_explain, "one port's listener(s) and every connection socket (--dot)" },
	{ "lookup", cmd_lookup, "which socket the kernel picks for a four-tuple (--json, --dot)" },
	{ "serve", cmd_serve, "Prometheus /metrics of the fan-out, until stopped" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: %s [-v] COMMAND [OPTIONS]\n"
		"       %s {-h|--help|-V|--version}\n\n"
		"Commands:\n", prog_name, prog_name);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(out,
		"\nOptions:\n"
		"  -v, --verbose  say which hooks were tried and show libbpf's log\n"
		"  -h, --help     this text; COMMAND --help for a command's options\n"
		"  -V, --version  version and event ABI\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	static char cmd_name[64];
	size_t i;
	int c;

	/* stop at the command: its options are its own */
	while ((c = getopt_long(argc, argv, "+hVv", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sockfan %s (event ABI %d)\n", SOCKFAN_VERSION,
			       SOCKFAN_ABI_VERSION);
			return 0;
		case 'v':
			verbose = true;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: no command given\n", prog_name);
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			argc -= optind;
			argv += optind;
			optind = 0;	/* glibc: start afresh, permuting again */
			/* getopt's own messages then read "sockfan top: ..." */
			snprintf(cmd_name, sizeof(cmd_name), "%s %s", prog_name, argv[0]);
			argv[0] = cmd_name;
			return commands[i].fn(argc, argv);
		}
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog_name, argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
