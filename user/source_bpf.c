// SPDX-License-Identifier: GPL-2.0
/*
 * BPF capture path.  Kernels differ in what they let us attach: the CI
 * host refuses fentry/fexit (EPERM) while Debian's kernels allow it, so
 * the hooks are chosen at run time by trying plans from the most precise
 * to the most portable, and the chosen plan is reported to the user.
 */
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
#include "sockfan.h"
#include "source_bpf.h"

struct bpf_source {
	struct sockfan_bpf *skel;
	struct ring_buffer *rb;
	struct fanout *f;
	const char *hooks;
	__u64 malformed;
};

enum hook_set {
	HOOK_STATE_BTF = 1 << 0,	/* tp_btf/inet_sock_set_state */
	HOOK_STATE_TP = 1 << 1,		/* tracepoint/sock/inet_sock_set_state */
	HOOK_ACCEPT_FEXIT = 1 << 2,	/* fexit/inet_csk_accept */
	HOOK_ACCEPT_SYSCALL = 1 << 3,	/* accept/accept4 syscall tracepoints */
	HOOK_LOOKUP_FEXIT = 1 << 4,	/* fexit on the listener lookups */
	HOOK_MISS_FENTRY = 1 << 5,	/* fentry/tcp_v{4,6}_send_reset */
	HOOK_MISS_BTF = 1 << 6,		/* tp_btf/tcp_send_reset, 6.10+ */
};

#define STATE_BTF	"state=tp_btf/inet_sock_set_state"
#define STATE_TP	"state=tracepoint/sock/inet_sock_set_state"
#define ACCEPT_FEXIT	" accept=fexit/inet_csk_accept"
#define ACCEPT_SYSCALL	" accept=tracepoint/syscalls/sys_exit_accept{,4}"
#define LOOKUP_FEXIT	" lookup=fexit/__inet_lookup_listener,inet6_lookup_listener"
#define LOOKUP_NONE	" lookup=none(listener hits need fexit)"
#define MISS_FENTRY	" miss=fentry/tcp_v{4,6}_send_reset"
#define MISS_BTF	" miss=tp_btf/tcp_send_reset"
#define MISS_NONE	" miss=none(needs fentry, or tcp_send_reset of 6.10+)"

/*
 * From the most precise to the most portable; a kernel that refuses
 * fentry/fexit (the CI host) refuses all of them at once.  Lookups are
 * extras: a plan without them still captures the fan-out.
 */
static const struct hook_plan {
	unsigned int hooks;
	const char *name;
} plans[] = {
	{ HOOK_STATE_BTF | HOOK_ACCEPT_FEXIT | HOOK_LOOKUP_FEXIT | HOOK_MISS_FENTRY,
	  STATE_BTF ACCEPT_FEXIT LOOKUP_FEXIT MISS_FENTRY },
	{ HOOK_STATE_BTF | HOOK_ACCEPT_FEXIT | HOOK_MISS_BTF,
	  STATE_BTF ACCEPT_FEXIT LOOKUP_NONE MISS_BTF },
	{ HOOK_STATE_BTF | HOOK_ACCEPT_FEXIT,
	  STATE_BTF ACCEPT_FEXIT LOOKUP_NONE MISS_NONE },
	{ HOOK_STATE_BTF | HOOK_ACCEPT_SYSCALL | HOOK_MISS_BTF,
	  STATE_BTF ACCEPT_SYSCALL LOOKUP_NONE MISS_BTF },
	{ HOOK_STATE_BTF | HOOK_ACCEPT_SYSCALL,
	  STATE_BTF ACCEPT_SYSCALL LOOKUP_NONE MISS_NONE },
	{ HOOK_STATE_TP | HOOK_ACCEPT_SYSCALL,
	  STATE_TP ACCEPT_SYSCALL LOOKUP_NONE MISS_NONE },
};

/*
 * tp_btf/tcp_send_reset loads on 6.1 too, but there it never fires
 * without a socket: only kernels whose event carries a reason (6.10+)
 * report misses through it.
 */
static bool reset_tp_sees_misses(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
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
	btf__free(btf);
	return found;
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
	fanout_apply(s->f, data);
	return 0;
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

static int try_plan(struct bpf_source *s, const struct hook_plan *plan)
{
	struct sockfan_bpf *skel = sockfan_bpf__open();
	unsigned int h = plan->hooks;
	int err;

	if (!skel)
		return -errno ?: -EINVAL;
	bpf_program__set_autoload(skel->progs.state_btf, h & HOOK_STATE_BTF);
	bpf_program__set_autoload(skel->progs.state_tp, h & HOOK_STATE_TP);
	bpf_program__set_autoload(skel->progs.accept_fexit, h & HOOK_ACCEPT_FEXIT);
	bpf_program__set_autoload(skel->progs.accept4_enter, h & HOOK_ACCEPT_SYSCALL);
	bpf_program__set_autoload(skel->progs.accept4_exit, h & HOOK_ACCEPT_SYSCALL);
	bpf_program__set_autoload(skel->progs.accept_enter_tp, h & HOOK_ACCEPT_SYSCALL);
	bpf_program__set_autoload(skel->progs.accept_exit_tp, h & HOOK_ACCEPT_SYSCALL);
	bpf_program__set_autoload(skel->progs.lookup4_fexit, h & HOOK_LOOKUP_FEXIT);
	bpf_program__set_autoload(skel->progs.lookup6_fexit, h & HOOK_LOOKUP_FEXIT);
	bpf_program__set_autoload(skel->progs.reset4_fentry, h & HOOK_MISS_FENTRY);
	bpf_program__set_autoload(skel->progs.reset6_fentry, h & HOOK_MISS_FENTRY);
	bpf_program__set_autoload(skel->progs.reset_btf, h & HOOK_MISS_BTF);

	err = sockfan_bpf__load(skel);
	if (!err)
		err = sockfan_bpf__attach(skel);
	if (err) {
		sockfan_bpf__destroy(skel);
		return err;
	}
	s->skel = skel;
	s->hooks = plan->name;
	s->f->counts = (h & HOOK_LOOKUP_FEXIT ? FAN_COUNTS_LISTENER_HITS : 0) |
		       (h & (HOOK_MISS_FENTRY | HOOK_MISS_BTF) ? FAN_COUNTS_MISSES : 0);
	return 0;
}

int bpf_source_open(struct bpf_source **sp, struct fanout *f, bool log_libbpf)
{
	struct bpf_source *s;
	struct stat st;
	bool miss_tp;
	size_t i;
	int err = -ENOENT;

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
	s->f = f;
	miss_tp = reset_tp_sees_misses();
	for (i = 0; i < ARRAY_SIZE(plans); i++) {
		if ((plans[i].hooks & HOOK_MISS_BTF) && !miss_tp)
			continue;
		err = try_plan(s, &plans[i]);
		if (!err)
			break;
		if (log_libbpf)
			fprintf(stderr, "sockfan: hooks %s: %s, trying the next plan\n",
				plans[i].name, strerror(-err));
	}
	if (err) {
		fprintf(stderr, "sockfan: cannot load the BPF programs: %s (%s; run as root, or rerun with -v for libbpf's log)\n",
			strerror(-err), err == -EPERM ? "permission denied" : "no hook plan fits this kernel");
		free(s);
		return err;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		err = -errno ?: -ENOMEM;
		fprintf(stderr, "sockfan: cannot map the BPF ring buffer: %s\n", strerror(-err));
		sockfan_bpf__destroy(s->skel);
		free(s);
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
	int fd = *(int *)arg;
	__u64 unknown = 0;

	if ((c->flags & SOCKFAN_F_SEEDED) && c->cookie)
		bpf_map_update_elem(fd, &c->cookie, &unknown, BPF_NOEXIST);
	return 0;
}

int bpf_source_follow_seeded(struct bpf_source *s, const struct fanout *f)
{
	int fd = bpf_map__fd(s->skel->maps.born);

	return fanout_each_conn(f, follow_one, &fd);
}

int bpf_source_poll(struct bpf_source *s, int timeout_ms)
{
	int n = ring_buffer__poll(s->rb, timeout_ms);

	return n == -EINTR ? 0 : n;
}

__u64 bpf_source_lost(const struct bpf_source *s)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	__u64 *vals, sum = 0;
	__u32 zero = 0;

	if (ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.lost), &zero, vals))
		for (i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

__u64 bpf_source_malformed(const struct bpf_source *s)
{
	return s->malformed;
}

void bpf_source_close(struct bpf_source *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	sockfan_bpf__destroy(s->skel);
	free(s);
}
