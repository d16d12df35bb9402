// SPDX-License-Identifier: GPL-2.0
/*
 * The text printers of render.h: columns as `sockfan ports` and `sockfan
 * trace` print them, a count the source cannot count as "-".
 */
#include <netinet/tcp.h>
#include <stdio.h>

#include "render.h"

void render_listener_text(const struct fanout *f, const struct fan_listener *l)
{
	char ep[FMT_ADDR_LEN], task[48], hits[24], acc[24], ovf[24], hs[24], cg[4200];

	fmt_count(hits, sizeof(hits), l->hits, f->counts & FAN_COUNTS_LISTENER_HITS);
	fmt_count(acc, sizeof(acc), l->accepted, f->counts & FAN_COUNTS_TOTALS);
	fmt_count(ovf, sizeof(ovf), l->overflows, f->counts & FAN_COUNTS_OVERFLOWS);
	fmt_count(hs, sizeof(hs), l->handshakes, f->counts & FAN_COUNTS_MEMBERS);
	printf("  %-10s %-24s %-24s backlog %-5u qlen %-5u overflows %-5s sk_drops %-5u handshakes %-6s accepted %-6s hits %-6s owner %s cookie %llu cgroup %s\n",
	       "LISTEN", fmt_endpoint(ep, sizeof(ep), &l->key, 0), "", l->backlog, l->qlen, ovf,
	       l->drops, hs, acc, hits, fmt_task(task, sizeof(task), l->pid, l->comm),
	       (unsigned long long)l->cookie, fmt_cgroup(cg, sizeof(cg), l->cgroup));
	if (l->stalled)
		printf("  %-10s %llu connections in its queue, none accepted for %llu s: its task stopped taking its share\n",
		       "STALLED", (unsigned long long)l->qlen,
		       (unsigned long long)(l->idle_ns / 1000000000));
}

void render_row_balance_text(const char *lead, const struct fanout *f,
			     const struct fan_filter *flt, const struct fan_row *r)
{
	const struct fan_balance *b = &r->balance;
	size_t i;

	if (!b->members)
		return;
	printf("%sport %u reuseport group: %u members, %s", lead, r->port, b->members,
	       b->by_handshakes ? "handshakes" : "accepted");
	for (i = 0; i < f->nlisteners; i++)
		if (query_in_group(flt, &f->listeners[i], r))
			printf(" %llu",
			       (unsigned long long)query_member_share(r, &f->listeners[i]));
	if (b->total)
		printf(" (skew %.2f: the largest share over an even one; cv %.3f)", b->skew, b->cv);
	else
		printf(" (none yet)");
	printf(", %u stalled\n", b->stalled);
}

void render_conn_text(const struct fan_conn *c)
{
	char ep[FMT_ADDR_LEN], peer[FMT_ADDR_LEN], task[48], holder[48], cg[4200];

	printf("  %-10s %-24s %-24s %s %-14s held by %-14s listener %-6llu segs_in %-6llu cookie %llu cgroup %s\n",
	       fmt_state(c->state), fmt_endpoint(ep, sizeof(ep), &c->key, 0),
	       fmt_endpoint(peer, sizeof(peer), &c->key, 1),
	       c->flags & FAN_ACCEPTED ? "accepted by" : "in queue   ",
	       fmt_acceptor(task, sizeof(task), c),
	       fmt_task(holder, sizeof(holder), c->hold_pid, c->hold_comm),
	       (unsigned long long)c->listener, (unsigned long long)c->segs_in,
	       (unsigned long long)c->cookie, fmt_cgroup(cg, sizeof(cg), c->cgroup));
}

void render_row_text_header(void)
{
	printf("%-11s %5s %6s %6s %10s %5s %8s %7s %6s %8s %8s %8s %7s  %s\n", "NETNS", "PORT",
	       "LISTEN", "ESTAB", "CLOSE-WAIT", "OTHER", "ACCEPTED", "CLOSED", "PEERS",
	       "LIFE_AVG", "WAIT_AVG", "WAIT_MAX", "REFUSED", "OWNER");
}

#define HIST_BAR	40

/* one histogram: "     usecs               : count    distribution" */
static void hist_text(const __u64 *slots)
{
	__u64 max = 0;
	int i, last = -1, stars;

	for (i = 0; i < SOCKFAN_HIST_SLOTS; i++) {
		if (slots[i])
			last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	if (last < 0) {
		printf("    (none yet)\n");
		return;
	}
	printf("%*s%-*s : count    distribution\n", 10, "usecs", 14, "");
	for (i = 0; i <= last; i++) {
		unsigned long long lo = i ? 1ULL << i : 0, hi = (1ULL << (i + 1)) - 1;

		stars = max ? (int)(slots[i] * HIST_BAR / max) : 0;
		if (i == SOCKFAN_HIST_SLOTS - 1)
			printf("%10llu -> %-10s : %-8llu |%-*.*s|\n", lo, "...",
			       (unsigned long long)slots[i], HIST_BAR, stars,
			       "****************************************");
		else
			printf("%10llu -> %-10llu : %-8llu |%-*.*s|\n", lo, hi,
			       (unsigned long long)slots[i], HIST_BAR, stars,
			       "****************************************");
	}
}

void render_row_hist_text(const struct fan_row *r)
{
	int h;

	if (!r->kstats_known)
		return;
	for (h = 0; h < SOCKFAN_NR_HISTS; h++) {
		printf("\nport %u in netns %u: %s\n", r->port, r->netns, fmt_hist_help(h));
		hist_text(r->kstats.slots[h]);
	}
}

void render_row_text(const struct fanout *f, const struct fan_row *r)
{
	char owner[48], life[16], wait[16], wmax[16], refused[24], acc[24], cls[24];
	bool totals = f->counts & FAN_COUNTS_TOTALS;

	printf("%-11u %5u %6u %6llu %10llu %5llu %8s %7s %6llu %8s %8s %8s %7s  %s\n",
	       r->netns, r->port, r->listeners,
	       (unsigned long long)r->states[TCP_ESTABLISHED],
	       (unsigned long long)r->states[TCP_CLOSE_WAIT],
	       (unsigned long long)(r->conns - r->states[TCP_ESTABLISHED] -
				    r->states[TCP_CLOSE_WAIT]),
	       fmt_count(acc, sizeof(acc), r->accepted, totals),
	       fmt_count(cls, sizeof(cls), r->closed, totals),
	       (unsigned long long)r->peers,
	       fmt_duration(life, sizeof(life), r->lifetime_avg_ns),
	       fmt_duration(wait, sizeof(wait), r->wait_avg_ns),
	       fmt_duration(wmax, sizeof(wmax), r->wait_max_ns),
	       fmt_count(refused, sizeof(refused), r->refused, f->counts & FAN_COUNTS_MISSES),
	       fmt_task(owner, sizeof(owner), r->owner_pid, r->owner_comm));
}

void render_event_text_header(void)
{
	printf("%13s %-14s %-11s %-24s %-24s %-18s\n", "TIME(s)", "EVENT", "NETNS",
	       "LOCAL", "REMOTE", "TASK");
}

void render_event_text(const struct sockfan_event *e, __u64 start_ns)
{
	char local[FMT_ADDR_LEN], remote[FMT_ADDR_LEN], task[48], dur[16];
	__u64 ts = e->ts_ns - start_ns;

	printf("%6llu.%06llu %-14s %-11u %-24s %-24s %-18s", (unsigned long long)(ts / 1000000000),
	       (unsigned long long)(ts / 1000 % 1000000), fmt_event(e), e->key.netns,
	       fmt_endpoint(local, sizeof(local), &e->key, 0),
	       e->key.rport ? fmt_endpoint(remote, sizeof(remote), &e->key, 1) : "-",
	       fmt_thread(task, sizeof(task), e->flags & SOCKFAN_F_TASK ? e->pid : 0, e->tid,
			  e->comm));
	switch (e->kind) {
	case SOCKFAN_EV_LISTEN:
		printf(" backlog=%u", e->listen.backlog);
		break;
	case SOCKFAN_EV_ACCEPT:
		printf(" listener=%llu qlen=%u wait=%s", (unsigned long long)e->accept.listener,
		       e->accept.qlen, fmt_duration(dur, sizeof(dur), e->accept.wait_ns));
		break;
	case SOCKFAN_EV_CLOSE:
		printf(" lifetime=%s", fmt_duration(dur, sizeof(dur), e->close.lifetime_ns));
		break;
	}
	printf("\n");
}
