// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: a cgroup path as /proc/PID/cgroup gives it, whose
 * directory names anyone with a delegated cgroup chooses.  What it says
 * of containers and pods, the --cgroup match and the text of it must
 * never read or write out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgroup_info cg = { 0 };
	char text[512];
	char *path;

	if (size > 4096)
		return 0;
	path = malloc(size + 1);
	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	cg.path = path;
	cgroup_parse(path, &cg);
	if (cg.runtime && strlen(cg.container) != CGROUP_ID_LEN - 1)
		abort();
	if (cg.pod[0] && strlen(cg.pod) != CGROUP_UID_LEN - 1)
		abort();
	if (!cgroup_under(path, "/") || (path[0] == '/' && !cgroup_under(path, path)))
		abort();
	fmt_cgroup(text, sizeof(text), &cg);
	free(path);
	return 0;
}
