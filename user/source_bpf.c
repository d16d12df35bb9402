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
};

static const struct hook_plan {
	unsigned int hooks;
	const char *name;
} plans[] = {
	{ HOOK_STATE_BTF | HOOK_ACCEPT_FEXIT,
	  "state=tp_btf/inet_sock_set_state accept=fexit/inet_csk_accept" },
	{ HOOK_STATE_BTF | HOOK_ACCEPT_SYSCALL,
	  "state=tp_btf/inet_sock_set_state accept=tracepoint/syscalls/sys_exit_accept{,4}" },
	{ HOOK_STATE_TP | HOOK_ACCEPT_SYSCALL,
	  "state=tracepoint/sock/inet_sock_set_state accept=tracepoint/syscalls/sys_exit_accept{,4}" },
};

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

	err = sockfan_bpf__load(skel);
	if (!err)
		err = sockfan_bpf__attach(skel);
	if (err) {
		sockfan_bpf__destroy(skel);
		return err;
	}
	s->skel = skel;
	s->hooks = plan->name;
	return 0;
}

int bpf_source_open(struct bpf_source **sp, struct fanout *f, bool log_libbpf)
{
	struct bpf_source *s;
	struct stat st;
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
	for (i = 0; i < ARRAY_SIZE(plans); i++) {
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
