// SPDX-License-Identifier: GPL-2.0
/*
 * Fields of the kernel's struct tcp_info (INET_DIAG_INFO), read through
 * <linux/tcp.h>: glibc's <netinet/tcp.h> has an older, shorter copy of
 * the struct and cannot be included in the same file.
 */
#include <stddef.h>
#include <linux/tcp.h>

#include "tcp_info.h"

__u64 tcp_info_segs_in(const void *info, size_t len)
{
	const struct tcp_info *ti = info;

	/* older kernels send a shorter struct: the field is then unknown */
	if (len < offsetof(struct tcp_info, tcpi_segs_in) + sizeof(ti->tcpi_segs_in))
		return 0;
	return ti->tcpi_segs_in;
}
