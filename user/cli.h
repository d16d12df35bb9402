/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the sockfan command's entry point and its subcommands. */
#ifndef SOCKFAN_CLI_H
#define SOCKFAN_CLI_H

#include <stdbool.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __printf(a, b)	__attribute__((__format__(printf, a, b)))

#ifndef SOCKFAN_VERSION
#define SOCKFAN_VERSION "0.1"
#endif

/* exit codes, as the usual tools use them */
#define EXIT_USAGE	2

extern const char *prog_name;
extern bool verbose;

int cmd_ports(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* parse a whole decimal number in [min, max]; false if @s is not one */
bool parse_uint(const char *s, unsigned long min, unsigned long max,
		unsigned long *out);

#endif /* SOCKFAN_CLI_H */
