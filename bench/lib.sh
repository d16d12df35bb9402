# SPDX-License-Identifier: GPL-2.0
#
# bench/lib.sh: what the bench scripts share.  Sourced, not run.

# nginx_start DIR NS PORT [workers=N] [slots=N] [log=LEVEL] [main=TEXT]
#             [http=TEXT] [listen=OPTIONS]
# nginx in namespace NS answering "sockfan" on 127.0.0.1:PORT, its config,
# pid, temp files and logs under DIR (error log DIR/logs/error.log at
# LEVEL, default error); main= and http= add directives to those blocks.
# slots: worker_connections (descriptors get 1000 more).  Returns once it
# listens, 1 if it does not within 10 s.
nginx_start() {
	local dir=$1 ns=$2 port=$3 workers=1 slots=16384 log=error main= http= listen=
	local arg

	shift 3
	for arg; do
		case $arg in
		workers=*) workers=${arg#*=} ;;
		slots=*) slots=${arg#*=} ;;
		log=*) log=${arg#*=} ;;
		main=*) main=${arg#*=} ;;
		http=*) http=${arg#*=} ;;
		listen=*) listen=${arg#*=} ;;
		*) echo "nginx_start: unknown option '$arg'" >&2; return 1 ;;
		esac
	done
	mkdir -p "$dir/logs"
	cat >"$dir/nginx.conf" <<-CONF
	user root;
	worker_processes $workers;
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log $log;
	worker_rlimit_nofile $((slots + 1000));
	$main
	events { worker_connections $slots; }
	http {
		access_log off;
		client_body_temp_path $dir;
		proxy_temp_path $dir;
		fastcgi_temp_path $dir;
		uwsgi_temp_path $dir;
		scgi_temp_path $dir;
		$http
		server {
			listen 127.0.0.1:$port $listen;
			location / { return 200 "sockfan\n"; }
		}
	}
	CONF
	ip netns exec "$ns" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' \
		>"$dir/nginx.out" 2>&1 &
	for _ in $(seq 100); do
		ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
