// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "format.h"

const char *fmt_addr(char *buf, size_t len, const struct sockfan_key *k, int remote)
{
	const __u8 *a = remote ? k->raddr : k->laddr;

	/* an AF_INET socket's address is stored v4-mapped: print it as v4 */
	if (k->family == AF_INET)
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
	return buf;
}

const char *fmt_endpoint(char *buf, size_t len, const struct sockfan_key *k, int remote)
{
	char addr[INET6_ADDRSTRLEN];

	fmt_addr(addr, sizeof(addr), k, remote);
	snprintf(buf, len, k->family == AF_INET ? "%s:%u" : "[%s]:%u", addr,
		 remote ? k->rport : k->lport);
	return buf;
}

const char *fmt_duration(char *buf, size_t len, __u64 ns)
{
	if (!ns)
		snprintf(buf, len, "-");
	else if (ns < 1000000ULL)
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000));
	else if (ns < 1000000000ULL)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000));
	else if (ns < 60000000000ULL)
		snprintf(buf, len, "%.1fs", ns / 1e9);
	else
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(ns / 60000000000ULL),
			 (unsigned long long)(ns / 1000000000ULL % 60));
	return buf;
}

const char *fmt_count(char *buf, size_t len, __u64 n, bool known)
{
	if (known)
		snprintf(buf, len, "%llu", (unsigned long long)n);
	else
		snprintf(buf, len, "-");
	return buf;
}

void fput_dot_str(FILE *fp, const char *s)
{
	const unsigned char *p;

	fputc('"', fp);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);	/* DOT's line break in a label */
		else if (*p < 0x20 || *p >= 0x7f)
			fputc('?', fp);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

void fput_prom_label(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

static const char * const tcp_state_names[FMT_TCP_STATES] = {
	"?", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
	"UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "NEW-SYN-RECV",
};

const char *fmt_state(unsigned int state)
{
	return tcp_state_names[state < FMT_TCP_STATES ? state : 0];
}

unsigned int fmt_state_parse(const char *name)
{
	unsigned int i;

	for (i = 1; i < FMT_TCP_STATES; i++)
		if (!strcmp(name, tcp_state_names[i]))
			return i;
	return 0;
}

const char *fmt_thread(char *buf, size_t len, __u32 pid, __u32 tid, const char *comm)
{
	if (!pid || !tid || tid == pid)
		return fmt_task(buf, len, pid, comm);
	snprintf(buf, len, "%u/%u/%.*s", pid, tid, SOCKFAN_COMM_LEN, comm[0] ? comm : "?");
	return buf;
}

const char *fmt_cgroup(char *buf, size_t len, const struct cgroup_info *cg)
{
	int n;

	if (!cg)
		return snprintf(buf, len, "-"), buf;
	n = snprintf(buf, len, "%s", cg->path);
	if (n < 0 || (size_t)n >= len || (!cg->runtime && !cg->pod[0]))
		return buf;
	if (cg->runtime && cg->pod[0])
		snprintf(buf + n, len - n, " (%s %.12s, pod %s)", cg->runtime, cg->container,
			 cg->pod);
	else if (cg->runtime)
		snprintf(buf + n, len - n, " (%s %.12s)", cg->runtime, cg->container);
	else
		snprintf(buf + n, len - n, " (pod %s)", cg->pod);
	return buf;
}

const char *fmt_task(char *buf, size_t len, __u32 pid, const char *comm)
{
	if (!pid)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%u/%.*s", pid, SOCKFAN_COMM_LEN,
			 comm[0] ? comm : "?");
	return buf;
}

const char *fmt_event(const struct sockfan_event *e)
{
	switch (e->kind) {
	case SOCKFAN_EV_LISTEN:
		return "listen";
	case SOCKFAN_EV_ESTABLISHED:
		return "established";
	case SOCKFAN_EV_ACCEPT:
		return "accept";
	case SOCKFAN_EV_CLOSE:
		return e->flags & SOCKFAN_F_LISTENER ? "close-listener" : "close";
	case SOCKFAN_EV_OVERFLOW:
		return "overflow";
	default:
		return e->lookup.result == SOCKFAN_LOOKUP_STRAY ? "stray" : "refused";
	}
}

static const char *const hist_names[SOCKFAN_NR_HISTS] = {
	[SOCKFAN_HIST_HANDSHAKE] = "handshake",
	[SOCKFAN_HIST_ACCEPT_WAIT] = "accept_wait",
	[SOCKFAN_HIST_LIFETIME] = "lifetime",
};

static const char *const hist_helps[SOCKFAN_NR_HISTS] = {
	[SOCKFAN_HIST_HANDSHAKE] = "passive handshake, SYN-ACK sent to its ACK",
	[SOCKFAN_HIST_ACCEPT_WAIT] = "accept wait, handshake done to accept()",
	[SOCKFAN_HIST_LIFETIME] = "connection lifetime, handshake done to CLOSE",
};

const char *fmt_hist(int h)
{
	return h >= 0 && h < SOCKFAN_NR_HISTS ? hist_names[h] : "?";
}

const char *fmt_hist_help(int h)
{
	return h >= 0 && h < SOCKFAN_NR_HISTS ? hist_helps[h] : "?";
}
