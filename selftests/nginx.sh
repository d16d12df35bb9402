#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# nginx.sh: the one nginx the selftests and the benchmarks start.
# Sourced (selftests/lib.sh, bench/lib.sh), not run.

# nginx_start NS PORT [workers=N] [listen=ARGS] [slots=N] [log=LEVEL]
#             [main=TEXT] [http=TEXT] [dir=DIR]
# Debian's nginx in the foreground in namespace NS ("": the caller's),
# answering 200 "sockfan" on PORT.  listen= replaces the listen
# directive's arguments (default PORT: every address; e.g. "127.0.0.1:80
# backlog=4096", "80 reuseport", "[::]:80 ipv6only=off"); slots= sets
# worker_connections (default 4096) with 1000 descriptors more; log= the
# error log's level (default error); main= and http= add directives to
# those blocks.  Config, pid, temp files and logs (DIR/logs/error.log,
# DIR/logs/stdout) under DIR, default $TMP/nginx-PORT.  Idle clients are
# kept for an hour: held clients send nothing, and must outlast the
# slowest kernel's test.  NGINX_PID is nginx's pid, also added to PIDS
# for the caller's cleanup.  Returns once it listens; 1, its logs shown
# as "# " lines, if it does not within 20 s.
nginx_start() {
	local ns=$1 port=$2 workers=1 slots=4096 rlimit= log=error main= http=
	local listen=$2 dir=${TMP:-/tmp}/nginx-$2 arg i

	shift 2
	for arg; do
		case $arg in
		workers=*) workers=${arg#*=} ;;
		listen=*) listen=${arg#*=} ;;
		slots=*) slots=${arg#*=}; rlimit="worker_rlimit_nofile $((${arg#*=} + 1000));" ;;
		log=*) log=${arg#*=} ;;
		main=*) main=${arg#*=} ;;
		http=*) http=${arg#*=} ;;
		dir=*) dir=${arg#*=} ;;
		*) echo "nginx_start: unknown option '$arg'" >&2; return 1 ;;
		esac
	done
	mkdir -p "$dir/logs" "$dir/tmp"
	cat >"$dir/nginx.conf" <<-CONF
	user root;
	worker_processes $workers;
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log $log;
	$rlimit
	$main
	events { worker_connections $slots; }
	http {
		access_log off;
		client_body_temp_path $dir/tmp;
		proxy_temp_path $dir/tmp;
		fastcgi_temp_path $dir/tmp;
		uwsgi_temp_path $dir/tmp;
		scgi_temp_path $dir/tmp;
		client_header_timeout 1h;
		$http
		server {
			listen $listen;
			location / { return 200 "sockfan\n"; }
		}
	}
	CONF
	# ip netns exec execs: $! is nginx itself
	if [ -n "$ns" ]; then
		ip netns exec "$ns" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' \
			>"$dir/logs/stdout" 2>&1 &
	else
		nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/logs/stdout" 2>&1 &
	fi
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
	for i in $(seq 200); do
		if [ -n "$ns" ]; then
			ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
		else
			ss -Hltn "sport = :$port" | grep -q . && return 0
		fi
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# nginx did not come up on port $port:"
	sed 's/^/# /' "$dir/logs/error.log" "$dir/logs/stdout" 2>/dev/null
	return 1
}
