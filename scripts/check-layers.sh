#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-layers.sh [DIR]: the sockfan command's sources (user/ by default)
# include one another one way only, as Documentation/design.rst draws it:
#
#   cmd -> render -> query -> model <- capture,   all of them -> util
#
# Fails, naming the file and the include, on an include that points up
# the layers or sideways between capture and query, on an include cycle,
# and on a file the table below does not place.  Prints TAP.
set -uo pipefail

dir=${1:-$(cd "$(dirname "$0")/../user" && pwd)}

# layer of each file, by its name without .c/.h
layer_of() {
	case "$1" in
	cgroup|cli|filter|format|hook_cost|loop|netns|netstat|tcp_info|json_writer)
		echo util ;;
	fanout)
		echo model ;;
	source_bpf|source_proc|source_iter|source_lookup|source_sklookup|bpf_percpu|seed_diag|diag_reconcile|owners|capture)
		echo capture ;;
	query|spread|explain)
		echo query ;;
	render|render_json|render_text|ports_json|ports_prom|ports_out|explain_dot|explain_text)
		echo render ;;
	main|view|cmd_*|serve_*)
		echo cmd ;;
	*)
		echo unknown ;;
	esac
}

# may a file of layer $1 include one of layer $2?
allowed() {
	case "$1:$2" in
	util:util) ;;
	model:util|model:model) ;;
	capture:util|capture:model|capture:capture) ;;
	query:util|query:model|query:query) ;;
	render:util|render:model|render:query|render:render) ;;
	cmd:*) ;;
	*) return 1 ;;
	esac
}

echo "TAP version 13"
echo "1..3"
bad=0
unplaced=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in "$dir"/*.c "$dir"/*.h; do
	[ -e "$f" ] || continue
	base=$(basename "$f")
	from=${base%.*}
	lf=$(layer_of "$from")
	if [ "$lf" = unknown ]; then
		echo "# $base: in no layer (add it to scripts/check-layers.sh)"
		unplaced=$((unplaced + 1))
		continue
	fi
	while read -r inc; do
		to=${inc%.*}
		# generated and shared headers are not sockfan's own sources
		[ -e "$dir/$inc" ] || continue
		[ "$from" = "$to" ] && continue
		echo "$from $to" >>"$edges"
		lt=$(layer_of "$to")
		if ! allowed "$lf" "$lt"; then
			echo "# $base ($lf) includes $inc ($lt): against the layers"
			bad=$((bad + 1))
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done

if [ $unplaced = 0 ]; then
	echo "ok 1 every file of ${dir##*/}/ has its layer"
else
	echo "not ok 1 every file of ${dir##*/}/ has its layer ($unplaced not)"
fi
if [ $bad = 0 ]; then
	echo "ok 2 includes point down the layers (cmd, render, query, model; capture -> model)"
else
	echo "not ok 2 includes point down the layers ($bad against them)"
fi
# tsort names the files of every cycle on stderr
cycles=$(sort -u "$edges" | tsort 2>&1 >/dev/null | grep -v '^tsort: .*: input contains a loop:$')
if [ -z "$cycles" ]; then
	echo "ok 3 no include cycle"
else
	echo "$cycles" | sed 's/^tsort: /# cycle: /'
	echo "not ok 3 no include cycle"
fi
[ $unplaced = 0 ] && [ $bad = 0 ] && [ -z "$cycles" ]
