#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything sockfan needs to build and test on Debian 12.
# Idempotent: packages already present are not reinstalled, and apt's
# lists are refreshed only when something is missing.
set -euo pipefail

PKGS=(
	# userspace + BPF toolchain
	make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev
	bpftool linux-libc-dev
	# sockfan serve's HTTP
	libmicrohttpd-dev
	# libFuzzer and the sanitizers' runtimes (make fuzzers)
	libclang-rt-14-dev
	# module build of Debian kernels (pahole for 6.12 BTF of modules)
	dwarves bc flex bison kmod libssl-dev
	# kselftest headers/runner and checkpatch.pl
	linux-source perl rsync
	# VM tests
	qemu-system-x86 busybox-static cpio xz-utils zstd
	# test traffic and ground truth
	iproute2 python3 python3-prometheus-client procps util-linux
	nginx-light wrk bpftrace
	# real servers for the selftests (servers.sh): each test runs its
	# own instance in a namespace; pgbench comes with postgresql-client
	redis-server redis-tools haproxy postgresql postgresql-contrib
	# checking the CLI's output: DOT (graphviz), Prometheus text
	# (promtool), the live view on a terminal (tmux), man pages (mandoc),
	# the module's DKMS package (dkms)
	graphviz prometheus tmux mandoc dkms
	# a real container for the cgroup test, from a rootfs the test
	# builds (no registry is reachable); runc, as crun refuses a host
	# whose cgroup2 hierarchy has controllers beside cgroup v1's
	podman runc
	# man pages from Documentation/*.rst
	python3-docutils
)

SOURCES=/etc/apt/sources.list.d/debian.sources

die() {
	echo "deps: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root to install packages (try: sudo make deps)"

# The 6.12 kernel comes from bookworm-backports: add the suite to the
# existing Debian entry (same URI) rather than inventing a new source.
add_backports() {
	if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 1
	fi
	if [ -f "$SOURCES" ] && grep -q '^Suites: bookworm bookworm-updates$' "$SOURCES"; then
		sed -i '0,/^Suites: bookworm bookworm-updates$/s//Suites: bookworm bookworm-updates bookworm-backports/' "$SOURCES"
	else
		uri=$(awk '/^URIs:/ { print $2; exit }' "$SOURCES" 2>/dev/null || true)
		[ -n "$uri" ] || uri=$(awk '/^deb .*bookworm main/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
		[ -n "$uri" ] || die "no Debian apt source found to extend with bookworm-backports"
		echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/sockfan-backports.list
	fi
	return 0
}

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

updated=0
if add_backports || [ ! -e /var/lib/apt/lists/lock ] ||
   ! ls /var/lib/apt/lists/*bookworm-backports*Packages >/dev/null 2>&1; then
	apt-get update -qq
	updated=1
fi

if [ ${#missing[@]} -gt 0 ]; then
	[ $updated = 1 ] || apt-get update -qq
	echo "deps: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

# nginx-light starts a service on port 80 when it is installed; tests
# start their own instances in namespaces.  Stop only the one this run
# just installed: an nginx that was there before is someone else's.
if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
	if command -v systemctl >/dev/null 2>&1; then
		systemctl stop nginx 2>/dev/null || true
	fi
	[ -r /run/nginx.pid ] && kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
# the prometheus package brings a server; only its promtool is wanted
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now prometheus 2>/dev/null || true
	fi
	pkill -x prometheus 2>/dev/null || true
fi
# redis-server, haproxy and postgresql start their services on install
# (redis on 6379, haproxy, a PostgreSQL cluster on 5432); the tests start
# their own.  Again only what this run installed, and by the service's own
# pid file: a server of the same name may be a running test's.
stop_service() {
	local pkg=$1 svc=$2 pidfile=$3 f

	[[ " ${missing[*]} " == *" $pkg "* ]] || return 0
	if [ -d /run/systemd/system ]; then
		systemctl disable --now "$svc" 2>/dev/null || true
	elif [ -x "/etc/init.d/$svc" ]; then
		"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
	fi
	for f in $pidfile; do
		[ -r "$f" ] && kill "$(head -n 1 "$f")" 2>/dev/null || true
	done
}
stop_service redis-server redis-server /run/redis/redis-server.pid
stop_service haproxy haproxy /run/haproxy.pid
stop_service postgresql postgresql "/run/postgresql/*-main.pid"

exit 0
