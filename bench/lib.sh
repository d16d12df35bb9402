# SPDX-License-Identifier: GPL-2.0
#
# bench/lib.sh: what the bench scripts share.  Sourced, not run.

# nginx_start NS PORT [workers=N] [listen=ARGS] ... dir=DIR: the one the
# selftests use too (selftests/nginx.sh; in the VM image beside them)
for f in "$(dirname "${BASH_SOURCE[0]}")/../selftests/nginx.sh" /selftests/sockfan/nginx.sh; do
	if [ -e "$f" ]; then
		. "$f"
		break
	fi
done
