// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the command line of the views (source, timing and
 * filter options), split on NUL bytes into argv.  Every argument list
 * must be taken or refused with a message; none may crash.  Only the
 * parsing runs: nothing is loaded or read.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a command's own option, as ports' --json */
static int json_opt(int c, const char *arg, void *ctx)
{
	return c == 'j' ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct option extra[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	/* no usage: --help would exit, and is a usage error here */
	static const struct view_cmd cmd = {
		.name = "ports", .set = VIEW_OPTSET_ALL, .shortopts = "", .longopts = extra,
		.opt = json_opt, .usage = NULL,
	};
	char *buf, *argv[64];
	struct view_opts o;
	size_t i;
	int argc = 1;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "sockfan ports";
	for (i = 0; i <= size && argc < 63; ) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	view_opts_init(&o);
	optind = 0;
	opterr = 0;
	if (view_parse(argc, argv, &cmd, &o, NULL) >= 0)
		view_opts_check("ports", &o);
	free(buf);
	return 0;
}
