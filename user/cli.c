// SPDX-License-Identifier: GPL-2.0
/* What every subcommand shares: the program's name, -v, number parsing. */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"

const char *prog_name = "sockfan";
bool verbose;

bool parse_uint(const char *s, unsigned long min, unsigned long max,
		unsigned long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out >= min && *out <= max;
}
