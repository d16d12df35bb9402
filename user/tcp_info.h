/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SOCKFAN_TCP_INFO_H
#define SOCKFAN_TCP_INFO_H

#include <stddef.h>
#include <linux/types.h>

/* tcpi_segs_in of an INET_DIAG_INFO payload of @len bytes, 0 if absent */
__u64 tcp_info_segs_in(const void *info, size_t len);

#endif /* SOCKFAN_TCP_INFO_H */
