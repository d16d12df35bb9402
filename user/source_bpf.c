// SPDX-License-Identifier: GPL-2.0
/*
 * BPF capture path.  Kernels differ in what they let us attach: the CI
 * host refuses fentry/fexit (EPERM) while Debian's kernels allow it, so
 * the hooks are chosen at run time by trying plans from the most precise
 * to the most portable, and the chosen plan is reported to the user.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sockfan.skel.h"
#include "bpf_percpu.h"
#include "cli.h"
#include "netns.h"
#include "seed_diag.h"
#include "source_bpf.h"
#include "source_sklookup.h"
#include "loop.h"

#define MAX_LINKS	HOOK_COST_MAX

struct bpf_source {
	struct sockfan_bpf *skel;
	struct ring_buffer *rb;
	__u32 netns;			/* recorded by the programs; 0: all */
	__u32 ring_bytes;		/* SOCKFAN_RING_KB; 0: the object's 4 MiB */
	__u32 born_entries;		/* connections followed at once */
	struct bpf_link *links[MAX_LINKS];
	const struct bpf_program *link_progs[MAX_LINKS];	/* of each link */
	size_t nlinks;
	char hooks[512];		/* the hooks in use, as printed */
	struct capture_sink sink;
	unsigned int counts;		/* FAN_COUNTS_*: what the hooks count */
	bool no_accept_tp;		/* BPF_SOURCE_NO_ACCEPT_TP */
	bool ports_only;		/* BPF_SOURCE_PORTS_ONLY */
	__u64 records;			/* read from the ring, well-formed */
	__u64 malformed;
	int stats_fd;			/* BPF_ENABLE_STATS, -1: not asked */
	__u64 empty_run_ns;		/* time_empty_run(); 0: not known */
	int budget;			/* records one poll may still apply */
	/* listener lookups per port where no hook sees them; NULL: none */
	struct sklookup_counter *sklookup;
};

/*
 * Records one poll applies at most: under a flood the ring refills as
 * fast as it drains, and a poll must still come back (to print, to stop).
 */
#define POLL_BUDGET	65536

/*
 * Hook groups: programs that do one job together.  A plan loads some
 * groups; "required" ones must attach, "optional" ones (lookups) are
 * tried per role in this order, the first that attaches wins, and a role
 * none fits is reported as such.
 */
enum hook_group_id {
	G_STATE_BTF,
	G_STATE_TP,
	G_ACCEPT_FEXIT,
	G_ACCEPT_SYSCALL,
	G_LOOKUP_FEXIT,
	G_LOOKUP_KRETPROBE,
	G_MISS_FENTRY,
	G_MISS_KPROBE,
	G_MISS_BTF,
	G_OVERFLOW_FENTRY,
	G_OVERFLOW_KPROBE,
	G_COUNT,
};

#define G(id)		(1U << (id))
#define MAX_GROUP_PROGS	4

static bool reset_tp_sees_misses(const struct btf *btf);

static const struct hook_group {
	const char *role;
	const char *name;		/* as printed */
	const char *progs[MAX_GROUP_PROGS];
	unsigned int counts;		/* FAN_COUNTS_* it makes known */
	bool (*usable)(const struct btf *btf);	/* NULL: wherever it loads */
} groups[G_COUNT] = {
	[G_STATE_BTF] = { "state", "tp_btf/inet_sock_set_state", { "state_btf" } },
	[G_STATE_TP] = { "state", "tracepoint/sock/inet_sock_set_state", { "state_tp" } },
	[G_ACCEPT_FEXIT] = { "accept", "fexit/inet_csk_accept", { "accept_fexit" } },
	[G_ACCEPT_SYSCALL] = { "accept", "tracepoint/syscalls/sys_exit_accept{,4}",
			       { "accept4_exit", "accept_exit_tp" } },
	[G_LOOKUP_FEXIT] = { "lookup", "fexit/__inet_lookup_listener,inet6_lookup_listener",
			     { "lookup4_fexit", "lookup6_fexit" }, FAN_COUNTS_LISTENER_HITS },
	[G_LOOKUP_KRETPROBE] = { "lookup",
				 "kretprobe/__inet_lookup_listener,inet6_lookup_listener",
				 { "lookup4_kret", "lookup6_kret" }, FAN_COUNTS_LISTENER_HITS },
	[G_MISS_FENTRY] = { "miss", "fentry/tcp_v{4,6}_send_reset",
			    { "reset4_fentry", "reset6_fentry" }, FAN_COUNTS_MISSES },
	[G_MISS_KPROBE] = { "miss", "kprobe/tcp_v{4,6}_send_reset",
			    { "reset4_kprobe", "reset6_kprobe" }, FAN_COUNTS_MISSES },
	[G_MISS_BTF] = { "miss", "tp_btf/tcp_send_reset", { "reset_btf" }, FAN_COUNTS_MISSES,
			 reset_tp_sees_misses },
	[G_OVERFLOW_FENTRY] = { "overflow",
				"fentry/tcp_conn_request,tcp_v{4,6}_syn_recv_sock",
				{ "overflow_syn_fentry", "overflow_ack4_fentry",
				  "overflow_ack6_fentry" }, FAN_COUNTS_OVERFLOWS },
	[G_OVERFLOW_KPROBE] = { "overflow",
				"kprobe/tcp_conn_request,tcp_v{4,6}_syn_recv_sock",
				{ "overflow_syn_kprobe", "overflow_ack4_kprobe",
				  "overflow_ack6_kprobe" }, FAN_COUNTS_OVERFLOWS },
};

#define LOOKUP_ANY	(G(G_LOOKUP_FEXIT) | G(G_LOOKUP_KRETPROBE))
#define TRACING_ANY	(G(G_ACCEPT_FEXIT) | G(G_LOOKUP_FEXIT) | G(G_MISS_FENTRY) | \
			 G(G_OVERFLOW_FENTRY))
#define MISS_ANY	(G(G_MISS_FENTRY) | G(G_MISS_KPROBE) | G(G_MISS_BTF))
#define OVERFLOW_ANY	(G(G_OVERFLOW_FENTRY) | G(G_OVERFLOW_KPROBE))

/*
 * From the most precise to the most portable.  A kernel that refuses
 * tracing programs (fentry/fexit: the CI host) fails the first plan at
 * load; one without kprobes fails only the kprobe groups, at attach.
 * SOCKFAN_PLAN=N tries plan N alone (tests of the fallbacks):
 *   1 fexit accept; lookups and misses by fexit/fentry, kprobes or tp_btf
 *   2 tp_btf state, syscall-exit accept; kretprobe lookups, kprobe misses
 *   3 tp_btf state, syscall-exit accept; misses by tp_btf (6.10+) only
 *   4 the classic tracepoint for state, syscall-exit accept; nothing else
 */
static const struct hook_plan {
	unsigned int required;
	unsigned int optional;
} plans[] = {
	{ G(G_STATE_BTF) | G(G_ACCEPT_FEXIT), LOOKUP_ANY | MISS_ANY | OVERFLOW_ANY },
	{ G(G_STATE_BTF) | G(G_ACCEPT_SYSCALL), G(G_LOOKUP_KRETPROBE) | G(G_MISS_KPROBE) |
						G(G_MISS_BTF) | G(G_OVERFLOW_KPROBE) },
	{ G(G_STATE_BTF) | G(G_ACCEPT_SYSCALL), G(G_MISS_BTF) },
	{ G(G_STATE_TP) | G(G_ACCEPT_SYSCALL), 0 },
};

/* what each optional role says when nothing of it attached */
static const struct {
	const char *role;
	const char *none;
	unsigned int groups;
} optional_roles[] = {
	{ "lookup", "none(listener hits need fexit or kretprobe)", LOOKUP_ANY },
	{ "miss", "none(needs fentry or kprobe, or tcp_send_reset of 6.10+)", MISS_ANY },
	{ "overflow", "none(per-listener overflows need fentry or kprobe)", OVERFLOW_ANY },
};

/*
 * tp_btf/tcp_send_reset loads on 6.1 too, but there it never fires
 * without a socket: only kernels whose event carries a reason (6.10+)
 * report misses through it.
 */
static bool reset_tp_sees_misses(const struct btf *btf)
{
	const struct btf_type *t;
	const struct btf_member *m;
	bool found = false;
	__s32 id;
	int i;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "trace_event_raw_tcp_send_reset", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, m = t ? btf_members(t) : NULL; t && i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), "reason"))
			found = true;
	return found;
}

/* "r0 = 0; exit": the smallest program a kernel takes */
static const struct bpf_insn return_zero[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/*
 * Whether this kernel lets us load a tracing (fexit) program: a two
 * instruction one on inet_csk_accept.  Some refuse them (lockdown, a
 * container's seccomp or LSM); finding that out by loading the whole
 * object for the first plan costs a second object load.  0 or -errno.
 */
static int tracing_probe(const struct btf *btf)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT);
	__s32 id;
	int fd;

	id = btf ? btf__find_by_name_kind(btf, "inet_csk_accept", BTF_KIND_FUNC) : -ENOENT;
	if (id <= 0)
		return -ENOENT;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "sockfan_probe", "GPL", return_zero,
			   ARRAY_SIZE(return_zero), &opts);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static bool verbose_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* plans that fail to load are expected: -v shows why they did */
	if (!verbose_libbpf)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct bpf_source *s = ctx;

	if (size < sizeof(struct sockfan_event)) {
		s->malformed++;
		return 0;
	}
	s->records++;
	s->sink.record(data, s->sink.arg);
	/* a negative return ends the poll; this record is consumed */
	return --s->budget > 0 ? 0 : -EAGAIN;
}

unsigned int bpf_source_counts(const struct bpf_source *s)
{
	return s->counts;
}

/* classic tracepoints are found through tracefs: mount it if absent */
static void ensure_tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events", &st) ||
	    !stat("/sys/kernel/debug/tracing/events", &st))
		return;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) && errno != EBUSY)
		fprintf(stderr, "sockfan: cannot mount tracefs on /sys/kernel/tracing: %s\n",
			strerror(errno));
}

static int attach_group(struct bpf_source *s, enum hook_group_id g)
{
	size_t first = s->nlinks;
	struct bpf_program *prog;
	struct bpf_link *link;
	const char *name;
	int i, err;

	for (i = 0; i < MAX_GROUP_PROGS && (name = groups[g].progs[i]); i++) {
		prog = bpf_object__find_program_by_name(s->skel->obj, name);
		link = prog ? bpf_program__attach(prog) : NULL;
		if (!link) {
			err = prog ? -errno : -ENOENT;
			while (s->nlinks > first)
				bpf_link__destroy(s->links[--s->nlinks]);
			return err ?: -EINVAL;
		}
		s->link_progs[s->nlinks] = prog;
		s->links[s->nlinks++] = link;
	}
	return 0;
}

static void detach_all(struct bpf_source *s)
{
	while (s->nlinks)
		bpf_link__destroy(s->links[--s->nlinks]);
}

/*
 * No hook on the listener lookup: an sk_lookup program in each namespace
 * counts them per port (no records).  Returns the role's name, NULL
 * where it does not attach either.
 */
static const char *lookups_by_sklookup(struct bpf_source *s)
{
	int err;

	/* hits are the lookups a tagged listener covers: tp_btf tags them */
	if (bpf_program__fd(s->skel->progs.tag_listeners) < 0)
		return NULL;
	err = sklookup_open(&s->sklookup, s->netns, bpf_map__fd(s->skel->maps.listen_addrs));

	if (err) {
		if (verbose_libbpf)
			fprintf(stderr, "sockfan: optional hooks sk_lookup: %s\n", strerror(-err));
		return NULL;
	}
	s->counts |= FAN_COUNTS_PORT_HITS;
	return "sk_lookup(per port, each namespace; no records)";
}

/* @refused: groups the kernel is known to refuse, not even loaded */
static int try_plan(struct bpf_source *s, const struct hook_plan *plan, const struct btf *btf,
		    unsigned int refused)
{
	unsigned int required = plan->required, optional = plan->optional, load, g, r;
	struct bpf_program *prog;
	size_t len = 0;
	int i, err;

	if (s->no_accept_tp)
		required &= ~G(G_ACCEPT_SYSCALL);
	if (s->ports_only)
		optional &= ~(LOOKUP_ANY | OVERFLOW_ANY);
	load = (required | optional) & ~refused;
	s->skel = sockfan_bpf__open();
	if (!s->skel)
		return -errno ?: -EINVAL;
	s->skel->rodata->netns_only = s->netns;
	/* the classic tracepoint cannot make cookies: followed by address */
	s->skel->rodata->born_by_addr = !!(load & G(G_STATE_TP));
	if (s->ring_bytes)
		bpf_map__set_max_entries(s->skel->maps.events, s->ring_bytes);
	bpf_map__set_max_entries(s->skel->maps.born, s->born_entries);
	/* connections' lifetimes without records: as many slots, 32 bytes each */
	bpf_map__set_max_entries(s->skel->maps.lifetimes, s->born_entries);
	s->skel->rodata->lifetimes_bits = __builtin_ctz(s->born_entries);
	for (g = 0; g < G_COUNT; g++)
		if (groups[g].usable && !groups[g].usable(btf))
			load &= ~G(g);
	bpf_object__for_each_program(prog, s->skel->obj)
		bpf_program__set_autoload(prog, false);
	for (g = 0; g < G_COUNT; g++)
		for (i = 0; i < MAX_GROUP_PROGS && groups[g].progs[i] && (load & G(g)); i++)
			bpf_program__set_autoload(bpf_object__find_program_by_name(s->skel->obj,
						  groups[g].progs[i]), true);
	/* listeners older than the programs are tagged where tp_btf tags new ones */
	bpf_program__set_autoload(s->skel->progs.tag_listeners, !!(load & G(G_STATE_BTF)));
	err = sockfan_bpf__load(s->skel);
	for (g = 0; !err && g < G_COUNT; g++) {
		if (!(required & G(g)))
			continue;
		err = attach_group(s, g);
		if (!err)
			len += snprintf(s->hooks + len, sizeof(s->hooks) - len, "%s%s=%s",
					len ? " " : "", groups[g].role, groups[g].name);
	}
	if (err) {
		detach_all(s);
		sockfan_bpf__destroy(s->skel);
		s->skel = NULL;
		return err;
	}
	/* the hooks see every accept and close from now on */
	s->counts = FAN_COUNTS_TOTALS;
	if (required & (G(G_ACCEPT_FEXIT) | G(G_ACCEPT_SYSCALL)))
		s->counts |= FAN_COUNTS_ACCEPT_WAITS;
	else
		len += snprintf(s->hooks + len, sizeof(s->hooks) - len,
				" accept=none(fexit refused; the syscall tracepoints are left out)");
	for (r = 0; r < ARRAY_SIZE(optional_roles); r++) {
		const char *name = optional_roles[r].none;

		if (s->ports_only && (optional_roles[r].groups & (LOOKUP_ANY | OVERFLOW_ANY)))
			name = "none(per listener: not hooked for per-port counts)";
		for (g = 0; g < G_COUNT; g++) {
			if (!(load & optional & optional_roles[r].groups & G(g)))
				continue;
			err = attach_group(s, g);
			if (verbose_libbpf && err)
				fprintf(stderr, "sockfan: optional hooks %s: %s\n", groups[g].name,
					strerror(-err));
			if (!err) {
				name = groups[g].name;
				s->counts |= groups[g].counts;
				break;
			}
		}
		if (g == G_COUNT && (optional_roles[r].groups & LOOKUP_ANY) && !s->ports_only)
			name = lookups_by_sklookup(s) ?: name;
		len += snprintf(s->hooks + len, sizeof(s->hooks) - len, " %s=%s",
				optional_roles[r].role, name);
	}
	return 0;
}

/*
 * Environment variable @name as a whole number in *@v: 0 when unset (*@v
 * untouched), 1 when set, -EINVAL when it is not a number.
 */
static int env_number(const char *name, unsigned long *v)
{
	const char *s = getenv(name);
	char *end;

	if (!s)
		return 0;
	errno = 0;
	*v = strtoul(s, &end, 10);
	/* digits only: strtoul() would take blanks, a sign, and wrap a minus */
	return !isdigit((unsigned char)*s) || errno || *end ? -EINVAL : 1;
}

/*
 * SOCKFAN_RING_KB: the ring buffer's size in KiB, a power of two from 4
 * (a page) to 1048576: larger for bursts on a big host, smaller where
 * memory is tight.  0 (unset) keeps 4 MiB; -EINVAL (printed) if bad.
 */
static int ring_bytes_from_env(__u32 *bytes)
{
	unsigned long kb = 0;
	int set = env_number("SOCKFAN_RING_KB", &kb);

	*bytes = 0;
	if (!set)
		return 0;
	if (set < 0 || kb < 4 || kb > 1048576 || (kb & (kb - 1))) {
		fprintf(stderr, "sockfan: SOCKFAN_RING_KB wants a power of two from 4 to 1048576 (KiB), not '%s'\n",
			getenv("SOCKFAN_RING_KB"));
		return -EINVAL;
	}
	*bytes = kb * 1024;
	return 0;
}

/*
 * SOCKFAN_PLAN: the one plan to try, 1 to ARRAY_SIZE(plans) (*@only is
 * that index), or unset (-1: each in turn).  -EINVAL (printed) if bad.
 */
static int plan_from_env(int *only)
{
	unsigned long n = 0;
	int set = env_number("SOCKFAN_PLAN", &n);

	*only = -1;
	if (!set)
		return 0;
	if (set < 0 || n < 1 || n > ARRAY_SIZE(plans)) {
		fprintf(stderr, "sockfan: SOCKFAN_PLAN wants a hook plan from 1 to %zu (see sockfan(8)), not '%s'\n",
			ARRAY_SIZE(plans), getenv("SOCKFAN_PLAN"));
		return -EINVAL;
	}
	*only = n - 1;
	return 0;
}

/*
 * How many passive connections the programs can follow at once (the
 * born map, and without records the table of their lifetimes): room for
 * twice the TCP sockets the host holds now (the "alloc" of
 * /proc/net/sockstat counts every namespace's), a power of two, at least
 * 262144, at most 4 Mi (about 320 MiB: an LRU is allocated whole, and
 * 128 MiB the table).  Past its size the LRU forgets the least recently
 * used, whose CLOSE then goes unwritten; the table loses the lifetime of
 * the older of two connections that share a slot.
 */
#define BORN_MIN	(1U << 18)
#define BORN_MAX	(1U << 22)

static __u32 born_entries(void)
{
	unsigned long alloc = 0;
	__u32 n = BORN_MIN;
	char line[256], *p;
	FILE *fp;

	fp = fopen("/proc/net/sockstat", "r");
	if (!fp)
		return n;
	while (fgets(line, sizeof(line), fp)) {
		p = strstr(line, " alloc ");
		if (!strncmp(line, "TCP:", 4) && p)
			alloc = strtoul(p + strlen(" alloc "), NULL, 10);
	}
	fclose(fp);
	while (n < 2 * alloc && n < BORN_MAX)
		n <<= 1;
	return n;
}

#define EMPTY_RUN_BATCHES	8
#define EMPTY_RUN_CALLS		250

/* runs and run time the kernel counted for program @fd: 0 or -errno */
static int prog_run_stats(int fd, __u64 *runs, __u64 *run_ns)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*runs = info.run_cnt;
	*run_ns = info.run_time_ns;
	return 0;
}

/* mean counted ns of @n test runs of program @fd, in *@mean: 0 or -errno */
static int test_run_mean(int fd, int n, __u64 *mean)
{
	__u64 runs0 = 0, ns0 = 0, runs1 = 0, ns1 = 0;
	int err, i;

	err = prog_run_stats(fd, &runs0, &ns0);
	for (i = 0; !err && i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts);

		if (bpf_prog_test_run_opts(fd, &opts))
			err = -errno;
	}
	if (!err)
		err = prog_run_stats(fd, &runs1, &ns1);
	if (err)
		return err;
	if (runs1 <= runs0)
		return -ENODATA;
	*mean = (ns1 - ns0) / (runs1 - runs0);
	return 0;
}

/*
 * What an empty program's run counts, in ns.  The kernel's count reads
 * the clock before and after each program it runs (sched_clock()), and
 * that lands in every hook's figure, ten times per connection for the
 * state hook (bench/README.md has the figures); --hook-cost reports the
 * programs' time beyond an empty run.  Run by BPF_PROG_TEST_RUN as a raw
 * tracepoint, which is timed as tp_btf and tracepoint programs are
 * (fexit's trampoline reads the clock in its own enter and exit helpers:
 * close, not the same).  The figure also holds the call into the
 * program, which runs uncounted too.  The least of a few batches' means:
 * an interrupt inflates a batch, never shrinks one.  0 (printed) when
 * not known.
 */
static __u64 time_empty_run(void)
{
	__u64 mean, least = ULLONG_MAX;
	int fd, b, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "sockfan_empty", "GPL", return_zero,
			   ARRAY_SIZE(return_zero), NULL);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	for (b = 0; b < EMPTY_RUN_BATCHES; b++) {
		err = test_run_mean(fd, EMPTY_RUN_CALLS, &mean);
		if (err)
			break;
		if (mean < least)
			least = mean;
	}
	close(fd);
out:
	if (err) {
		fprintf(stderr, "sockfan: cannot time an empty BPF program (BPF_PROG_TEST_RUN of a raw tracepoint): %s; --hook-cost shows run times as counted, clock reads included\n",
			err == -ENODATA ? "the kernel counted none of its runs" : strerror(-err));
		return 0;
	}
	if (!least)
		fprintf(stderr, "sockfan: an empty BPF program counted 0 ns a run (a coarse clock?); --hook-cost shows run times as counted\n");
	return least;
}

/* BPF_ENABLE_STATS for as long as @s lives: 0 or -errno (printed) */
static int enable_run_stats(struct bpf_source *s)
{
	s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (s->stats_fd < 0) {
		int err = -errno;

		fprintf(stderr, "sockfan: cannot have the kernel count BPF run time (BPF_ENABLE_STATS): %s (needs CAP_SYS_ADMIN, Linux 5.8+)\n",
			strerror(-err));
		return err;
	}
	s->empty_run_ns = time_empty_run();
	return 0;
}

/*
 * Load and attach the first hook plan this kernel takes (only plan
 * @only when >= 0), shrinking the connections map where memory is
 * tight.  0 or a negative errno, after printing what failed.
 */
static int load_first_plan(struct bpf_source *s, int only, bool log_libbpf)
{
	int err = -ENOENT, tracing;
	unsigned int refused;		/* groups try_plan() leaves out */
	struct btf *btf;
	size_t i;

	/* parsed once for the feature checks (libbpf parses its own) */
	btf = btf__load_vmlinux_btf();
	tracing = tracing_probe(btf);
	refused = tracing ? TRACING_ANY : 0;
	if (tracing && log_libbpf)
		fprintf(stderr, "sockfan: fentry/fexit programs refused here (%s): plans that need them are skipped\n",
			strerror(-tracing));
	for (i = 0; i < ARRAY_SIZE(plans); i++) {
		if (only >= 0 && i != (size_t)only)
			continue;
		if (tracing && (plans[i].required & TRACING_ANY))
			err = tracing;
		else
			err = try_plan(s, &plans[i], btf, refused);
		/* the map is allocated whole: where memory is tight, a smaller one */
		while (err == -ENOMEM && s->born_entries > BORN_MIN) {
			s->born_entries /= 2;
			fprintf(stderr, "sockfan: no memory for the map of followed connections; trying %u entries\n",
				s->born_entries);
			err = try_plan(s, &plans[i], btf, refused);
		}
		if (!err)
			break;
		if (log_libbpf && only < 0)
			fprintf(stderr, "sockfan: hook plan %zu of %zu: %s, trying the next one\n",
				i + 1, ARRAY_SIZE(plans), strerror(-err));
	}
	btf__free(btf);
	if (err && only >= 0)
		fprintf(stderr, "sockfan: hook plan %d (SOCKFAN_PLAN) does not load here: %s (unset SOCKFAN_PLAN to let sockfan pick; -v shows libbpf's log)\n",
			only + 1, strerror(-err));
	else if (err)
		fprintf(stderr, "sockfan: cannot load the BPF programs: %s (%s; run as root, or rerun with -v for libbpf's log)\n",
			strerror(-err), err == -EPERM ? "permission denied" : "no hook plan fits this kernel");
	return err;
}

/*
 * Read the iterator tag_listeners in the namespace the caller is in
 * now, up to its first socket that is no listener ('E'): the listening
 * hash comes first, and the rest of the walk is not needed.
 */
static int tag_netns(__u32 netns, void *arg)
{
	struct bpf_source *s = arg;
	struct bpf_link *link;
	char buf[256];
	ssize_t n = 0;
	int fd, err = 0;

	(void)netns;
	link = bpf_program__attach_iter(s->skel->progs.tag_listeners, NULL);
	if (!link)
		return -errno ?: -EINVAL;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		err = -errno;
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (memchr(buf, 'E', n))
			break;
	if (fd >= 0 && n < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	return err;
}

/*
 * After attaching: the listeners that were there before are tagged as a
 * new one is at LISTEN, so that their children from now on are counted
 * per listener too (FAN_COUNTS_MEMBERS).  Without tp_btf, nothing is.
 */
static int tag_older_listeners(struct bpf_source *s)
{
	int err;

	if (bpf_program__fd(s->skel->progs.tag_listeners) < 0)
		return 0;
	/*
	 * Twice: a listen() under way while the programs attached may have
	 * passed LISTEN (the hook's tag) before them and be hashed (where
	 * the walk finds it) only after the first walk went by
	 */
	err = netns_each(s->netns, tag_netns, s);
	if (!err)
		err = netns_each(s->netns, tag_netns, s);
	if (err) {
		fprintf(stderr, "sockfan: cannot walk the listeners with a BPF iterator (iter/tcp): %s; run as root on a kernel with BPF iterators\n",
			strerror(-err));
		return err;
	}
	s->counts |= FAN_COUNTS_MEMBERS;
	return 0;
}

int bpf_source_open(struct bpf_source **sp, const struct capture_sink *sink, __u32 netns,
		    unsigned int flags)
{
	bool log_libbpf = flags & BPF_SOURCE_LOG_LIBBPF, count_runs = flags & BPF_SOURCE_COUNT_RUNS;
	struct bpf_source *s;
	struct stat st;
	int err, only;

	verbose_libbpf = log_libbpf;
	libbpf_set_print(libbpf_print);

	if (stat("/sys/kernel/btf/vmlinux", &st)) {
		fprintf(stderr, "sockfan: no kernel BTF at /sys/kernel/btf/vmlinux: this kernel was built without CONFIG_DEBUG_INFO_BTF; use --source proc with sockfan.ko\n");
		return -ENOENT;
	}
	if (geteuid() != 0)
		fprintf(stderr, "sockfan: warning: not root; loading BPF needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN\n");
	if (geteuid() == 0)
		ensure_tracefs();

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->sink = *sink;
	s->netns = netns;
	s->no_accept_tp = flags & BPF_SOURCE_NO_ACCEPT_TP;
	s->ports_only = flags & BPF_SOURCE_PORTS_ONLY;
	s->stats_fd = -1;
	s->born_entries = born_entries();
	if (ring_bytes_from_env(&s->ring_bytes) || plan_from_env(&only)) {
		bpf_source_close(s);
		return -EINVAL;
	}
	/* before anything attaches, so that every run is counted */
	if (count_runs) {
		err = enable_run_stats(s);
		if (err) {
			bpf_source_close(s);
			return err;
		}
	}
	err = load_first_plan(s, only, log_libbpf);
	if (!err)
		err = tag_older_listeners(s);
	if (err) {
		bpf_source_close(s);
		return err;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		err = -errno ?: -ENOMEM;
		fprintf(stderr, "sockfan: cannot map the BPF ring buffer: %s\n", strerror(-err));
		bpf_source_close(s);
		return err;
	}
	*sp = s;
	return 0;
}

const char *bpf_source_hooks(const struct bpf_source *s)
{
	return s->hooks;
}

static int follow_one(const struct fan_conn *c, void *arg)
{
	struct sockfan_born unknown = {
		.netns = c->key.netns, .port = c->key.lport, .listener = c->listener,
	};
	int fd = *(int *)arg;

	if ((c->flags & FAN_SEEDED) && c->cookie)
		bpf_map_update_elem(fd, &c->cookie, &unknown, BPF_NOEXIST);
	return 0;
}

void bpf_source_seed_begin(struct bpf_source *s)
{
	__atomic_store_n(&s->skel->bss->seeding, true, __ATOMIC_SEQ_CST);
}

int bpf_source_follow_seeded(struct bpf_source *s, const struct fanout *f)
{
	int fd = bpf_map__fd(s->skel->maps.born);
	int err = fanout_each_conn(f, follow_one, &fd);

	/*
	 * Only now: a seeded connection that closes from here on is in
	 * born, and the programs read this flag before they look there.
	 */
	__atomic_store_n(&s->skel->bss->seeding, false, __ATOMIC_SEQ_CST);
	return err;
}

int bpf_source_fd(const struct bpf_source *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int bpf_source_poll(struct bpf_source *s, int timeout_ms)
{
	int n;

	s->budget = POLL_BUDGET;
	n = ring_buffer__poll(s->rb, timeout_ms);
	if (n == -EINTR)
		n = 0;
	/* the BPF side wakes us per batch: take what waits below one */
	if (n == 0)
		n = ring_buffer__consume(s->rb);
	return n == -EAGAIN ? POLL_BUDGET : n;
}

int bpf_source_follow(struct bpf_source *s, unsigned long seconds)
{
	__u64 end = mono_ns() + seconds * 1000000000ULL;
	int n;

	stop_on_signals();
	do {
		n = bpf_source_poll(s, 100);
		if (n < 0) {
			fprintf(stderr, "sockfan: reading the BPF ring buffer failed: %s\n",
				strerror(-n));
			return n;
		}
	} while (!stop_requested() &&
		 (seconds == BPF_FOLLOW_UNTIL_STOPPED || mono_ns() < end));
	bpf_source_drain(s);
	return 0;
}

void bpf_source_drain(struct bpf_source *s)
{
	int i;

	for (i = 0; i < 64 && bpf_source_poll(s, 0) > 0; i++)
		;
}

/* entry @what of the programs' "lost" counters, summed over the CPUs */
static __u64 lost_read(const struct bpf_source *s, __u32 what)
{
	__u64 sum;

	/* an array: the key is there; on error, nothing known lost */
	bpf_percpu_u64_sum(bpf_map__fd(s->skel->maps.lost), &what, &sum);
	return sum;
}

__u64 bpf_source_lost(const struct bpf_source *s)
{
	return lost_read(s, 0);		/* LOST_RECORDS in the programs */
}

__u64 bpf_source_counts_lost(const struct bpf_source *s)
{
	/* LOST_COUNTS, and lookups the sk_lookup map had no room for */
	return lost_read(s, 1) + (s->sklookup ? sklookup_lost(s->sklookup) : 0);
}

int bpf_source_lookup_counts(const struct bpf_source *s,
			     int (*fn)(const struct sockfan_lookup_key *k, __u64 n, void *arg),
			     void *arg)
{
	return s->sklookup ? sklookup_each(s->sklookup, fn, arg) : 0;
}

__u64 bpf_source_times_lost(const struct bpf_source *s)
{
	return lost_read(s, 2);		/* LOST_TIMES */
}

void bpf_source_conn_records(struct bpf_source *s, bool on)
{
	__atomic_store_n(&s->skel->data->conn_records, on, __ATOMIC_SEQ_CST);
}

int bpf_source_follow_open(struct bpf_source *s, __u32 netns)
{
	struct fanout open;
	int err;

	if (fanout_init(&open)) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return -ENOMEM;
	}
	bpf_source_seed_begin(s);
	err = seed_diag(&open, netns, false);
	/* ends the seeding even if the dump failed */
	err = bpf_source_follow_seeded(s, &open) ?: err;
	fanout_free(&open);
	return err;
}

int bpf_source_records_on(struct bpf_source *s, __u32 netns)
{
	bool was = s->skel->data->conn_records;
	int err;

	bpf_source_conn_records(s, true);
	err = bpf_source_follow_open(s, netns);
	if (err && !was)
		bpf_source_records_off(s);
	return err;
}

void bpf_source_records_off(struct bpf_source *s)
{
	int fd = bpf_map__fd(s->skel->maps.born);
	size_t n = 0, i;
	__u64 *keys;

	bpf_source_conn_records(s, false);
	/*
	 * What followed the connections for their records: a record of a
	 * later phase must not find an entry of a socket that closed
	 * meanwhile (by address, a new socket may have its place).  A
	 * program that read the switch on just before may still add one:
	 * followed by cookie, which no other socket has, or by address,
	 * until the map's LRU takes it back.  The keys are read first, in
	 * one walk: a walk restarted after each delete would be quadratic.
	 * A delete that finds nothing (a close took it) is no matter.
	 */
	keys = calloc(s->born_entries, sizeof(*keys));
	if (keys) {
		while (n < s->born_entries &&
		       !bpf_map_get_next_key(fd, n ? &keys[n - 1] : NULL, &keys[n]))
			n++;
		for (i = 0; i < n; i++)
			bpf_map_delete_elem(fd, &keys[i]);
		free(keys);
	} else {
		fprintf(stderr, "%s: out of memory: the connections followed for records stay until the map's LRU drops them\n",
			prog_name);
	}
	__atomic_store_n(&s->skel->bss->addr_followed, false, __ATOMIC_SEQ_CST);
}

/* @a += @b, the whole struct: every member is a __u64 count or sum */
/*
 * Each entry of per-CPU stats map @fd (keys of @key_size bytes), summed
 * over the CPUs, to @fn(key, sum, @arg) until it returns non-zero
 */
static int stats_each(int fd, size_t key_size,
		      int (*fn)(const void *key, const struct sockfan_port_stats *st, void *arg),
		      void *arg)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0, i;
	struct sockfan_port_stats *vals, sum;
	__u64 key[2], next[2];
	void *prev = NULL;

	if (ncpu <= 0 || key_size > sizeof(key))
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (!err && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		/* gone since (a listener closed), skip it */
		if (bpf_map_lookup_elem(fd, key, vals))
			continue;
		memset(&sum, 0, sizeof(sum));
		for (i = 0; i < ncpu; i++)
			fanout_port_stats_add(&sum, &vals[i]);
		err = fn(key, &sum, arg);
	}
	free(vals);
	return err;
}

struct port_stats_fn {
	int (*fn)(const struct sockfan_port_key *k, const struct sockfan_port_stats *st,
		  void *arg);
	int (*listener_fn)(__u64 cookie, const struct sockfan_port_stats *st, void *arg);
	void *arg;
};

static int port_stats_one(const void *key, const struct sockfan_port_stats *st, void *arg)
{
	const struct port_stats_fn *c = arg;

	return c->fn(key, st, c->arg);
}

static int listener_stats_one(const void *key, const struct sockfan_port_stats *st, void *arg)
{
	const struct port_stats_fn *c = arg;

	return c->listener_fn(*(const __u64 *)key, st, c->arg);
}

int bpf_source_port_stats(const struct bpf_source *s,
			  int (*fn)(const struct sockfan_port_key *k,
				    const struct sockfan_port_stats *st, void *arg),
			  void *arg)
{
	struct port_stats_fn c = { .fn = fn, .arg = arg };

	return stats_each(bpf_map__fd(s->skel->maps.port_stats), sizeof(struct sockfan_port_key),
			  port_stats_one, &c);
}

int bpf_source_listener_stats(const struct bpf_source *s,
			      int (*fn)(__u64 cookie, const struct sockfan_port_stats *st,
					void *arg),
			      void *arg)
{
	struct port_stats_fn c = { .listener_fn = fn, .arg = arg };

	if (!(s->counts & FAN_COUNTS_MEMBERS))
		return 0;
	return stats_each(bpf_map__fd(s->skel->maps.listener_stats), sizeof(__u64),
			  listener_stats_one, &c);
}

__u64 bpf_source_records(const struct bpf_source *s)
{
	return s->records;
}

__u64 bpf_source_malformed(const struct bpf_source *s)
{
	return s->malformed;
}

int bpf_source_hook_cost(const struct bpf_source *s, struct hook_cost *hc)
{
	__u64 runs, ns;
	size_t i, n;
	int err;

	for (i = 0; i < s->nlinks; i++) {
		memset(&hc[i], 0, sizeof(hc[i]));
		err = prog_run_stats(bpf_program__fd(s->link_progs[i]), &hc[i].runs, &hc[i].run_ns);
		if (err) {
			fprintf(stderr, "sockfan: cannot read the run time of BPF program %s (BPF_OBJ_GET_INFO_BY_FD): %s; rerun without --hook-cost\n",
				bpf_program__name(s->link_progs[i]), strerror(-err));
			return err;
		}
		snprintf(hc[i].prog, sizeof(hc[i].prog), "%s", bpf_program__name(s->link_progs[i]));
	}
	if (!s->sklookup || i == HOOK_COST_MAX)
		return i;
	/* the sk_lookup counter: one program per namespace, summed */
	memset(&hc[i], 0, sizeof(hc[i]));
	snprintf(hc[i].prog, sizeof(hc[i].prog), "count_lookup");
	for (n = 0; n < sklookup_netns(s->sklookup); n++) {
		err = prog_run_stats(sklookup_prog_fd(s->sklookup, n), &runs, &ns);
		if (err) {
			fprintf(stderr, "sockfan: cannot read the run time of BPF program count_lookup (BPF_OBJ_GET_INFO_BY_FD): %s; rerun without --hook-cost\n",
				strerror(-err));
			return err;
		}
		hc[i].runs += runs;
		hc[i].run_ns += ns;
	}
	return i + 1;
}

__u64 bpf_source_empty_run_ns(const struct bpf_source *s)
{
	return s->empty_run_ns;
}

/* also on a partly opened source: its error paths end here */
void bpf_source_close(struct bpf_source *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	detach_all(s);
	sklookup_close(s->sklookup);
	sockfan_bpf__destroy(s->skel);
	free(s);
}
