#!/bin/sh
# Type-checks the C++ shim and the Snapper session headers against the real
# Genode headers, with the flags Genode's build system passes for an x86_64
# component (repos/base/mk/global.mk: CC_OPT, CC_CXX_WARN_STRICT,
# CC_CXX_OPT_STD; repos/base/mk/spec/x86_64.mk: CC_MARCH, REP_INC_DIR).
# Compiles only (-fsyntax-only for the headers, -c for each of the shim's
# .cc files into a temporary object); it does not link, there is no Genode tool chain here.
#
#   GENODE_DIR=/path/to/genode sh src/genode/shim/check.sh
#
# Without GENODE_DIR it looks for the 26.02 sources in a bare mirror
# (GENODE_MIRROR, default /work/.mirror/genodelabs+genode/repo) and extracts
# the needed include trees to a temporary directory. If neither exists it
# says so and exits 0: CI has no Genode sources.
#
#   sh src/genode/shim/check.sh versions
#
# checks instead that the project's goarc pins the Genode archives of the
# same tag: every pin equals the tag's row of the table below, every row is
# pinned, and every genodelabs archive the project uses (used_apis,
# pkg/*/archives, what 'goa run' adds on Linux) is pinned. This part needs no
# Genode and fails on any difference. With Genode sources (GENODE_DIR or the
# mirror) it also checks the table against the tag's recipe hash files;
# without them it says that this part was skipped.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../../.." && pwd)
CXX=${CXX:-g++}
tag=${GENODE_TAG:-26.02}

# Versions of the genodelabs archives the project uses, per Genode tag: the
# first word of the tag's repos/*/recipes/<type>/<name>/hash. A new tag
# above needs its rows here (and the goarc updated to them).
archive_versions() {
	case "$1" in
	26.02) cat <<'EOF'
genodelabs/api/base           2026-01-28
genodelabs/api/os             2025-12-11
genodelabs/api/vfs            2025-12-11
genodelabs/api/rtc_session    2023-05-26
genodelabs/api/timer_session  2025-10-12
genodelabs/src/base-linux     2026-01-28
genodelabs/src/init           2026-01-28
genodelabs/src/linux_rtc      2026-01-28
genodelabs/src/vfs            2026-01-28
genodelabs/src/vfs_block      2026-01-28
genodelabs/src/vfs_import     2026-01-28
genodelabs/src/lx_fs          2026-01-28
EOF
	;;
	*) return 1 ;;
	esac
}

# The archives 'goa run' adds for target linux (Goa's lib/run/linux.tcl:
# base_archives, and linux_rtc for <rtc/>, which every runtime requires).
GOA_LINUX_ARCHIVES="genodelabs/src/base-linux genodelabs/src/init genodelabs/src/linux_rtc"

check_versions() {
	fail=0
	err() { echo "check.sh versions: $*"; fail=1; }

	if ! table=$(archive_versions "$tag"); then
		echo "check.sh versions: FAILED: no archive versions known for Genode $tag;" \
		     "add the tag's rows to archive_versions in $0 and pin them in goarc"
		exit 1
	fi
	pins=$(sed -n 's/^[[:space:]]*set[[:space:]][[:space:]]*version(\(genodelabs\/[^)]*\))[[:space:]][[:space:]]*\([^[:space:]#]*\).*/\1 \2/p' \
		"$project/goarc")

	# goarc <-> table of the tag
	echo "$table" | while read -r archive version; do
		pin=$(echo "$pins" | awk -v a="$archive" '$1 == a { print $2 }')
		if [ -z "$pin" ]; then echo "MISSING $archive: Genode $tag has $version, goarc pins nothing"
		elif [ "$pin" != "$version" ]; then echo "MISMATCH $archive: Genode $tag has $version, goarc pins $pin"; fi
	done >"$out/diff"
	echo "$pins" | while read -r archive pin; do
		[ -n "$archive" ] || continue
		if ! echo "$table" | awk -v a="$archive" '$1 == a { f = 1 } END { exit !f }'; then
			echo "EXTRA $archive $pin: pinned in goarc, not in the table of Genode $tag"
		fi
	done >>"$out/diff"
	if [ -s "$out/diff" ]; then
		while read -r line; do err "$line"; done <"$out/diff"
	fi

	# every genodelabs archive the project uses is pinned (or versioned in place)
	used=$( { sed 's/#.*//' "$project/used_apis"; cat "$project"/pkg/*/archives; \
	          echo "$GOA_LINUX_ARCHIVES" | tr ' ' '\n'; } \
	        | awk '$1 ~ /^genodelabs\// { print $1 }' | sort -u)
	for a in $used; do
		case "$a" in
		*/*/*/*) v=${a##*/}; a=${a%/*}
		         want=$(echo "$table" | awk -v a="$a" '$1 == a { print $2 }')
		         if [ "$v" != "$want" ]; then err "$a/$v is versioned in place; Genode $tag has '$want'"; fi ;;
		*)       if ! echo "$pins" | awk -v a="$a" '$1 == a { f = 1 } END { exit !f }'; then
		             err "$a is used by the project but not pinned in goarc"; fi ;;
		esac
	done
	[ $fail = 0 ] && echo "check.sh versions: goarc pins the $(echo "$table" | wc -l) archives of Genode $tag's table, and every genodelabs archive the project uses"

	# the table against the tag's recipes, where there are Genode sources
	recipe_hash=""
	if [ -n "${GENODE_DIR:-}" ]; then
		src="$GENODE_DIR"
		recipe_hash() { cat "$GENODE_DIR"/repos/*/recipes/"$1"/hash 2>/dev/null || true; }
	else
		mirror=${GENODE_MIRROR:-/work/.mirror/genodelabs+genode/repo}
		if [ -d "$mirror" ]; then
			src="$mirror at $tag"
			git --git-dir="$mirror" ls-tree -r --name-only "$tag" repos \
				| grep '/recipes/[a-z]*/[^/]*/hash$' >"$out/recipes"
			recipe_hash() {
				for f in $(grep "/recipes/$1/hash\$" "$out/recipes"); do
					git --git-dir="$mirror" show "$tag:$f"; done; }
		else
			src=""
		fi
	fi
	if [ -z "$src" ]; then
		echo "check.sh versions: SKIPPED the table against Genode $tag's recipes (no Genode sources: set GENODE_DIR or GENODE_MIRROR)"
	else
		n=0
		echo "$table" | while read -r archive version; do
			rel=${archive#*/}
			got=$(recipe_hash "$rel" | awk '{ print $1 }' | sort -u | tr '\n' ' ')
			if [ "$got" != "$version " ]; then
				echo "table row $archive $version: the recipe of $src says '${got% }'"
			fi
		done >"$out/recipes-diff"
		if [ -s "$out/recipes-diff" ]; then
			while read -r line; do err "$line"; done <"$out/recipes-diff"
		else
			echo "check.sh versions: the table agrees with the recipes of $src"
		fi
	fi
	if [ $fail != 0 ]; then
		echo "check.sh versions: FAILED (goarc, the table in $0 and Genode $tag must agree)"
		exit 1
	fi
	exit 0
}

cleanup=""
trap 'if [ -n "$cleanup" ]; then rm -rf $cleanup; fi' EXIT

if [ "${1:-}" = "versions" ]; then
	out=$(mktemp -d)
	cleanup=$out
	check_versions
fi

if [ -z "${GENODE_DIR:-}" ]; then
	mirror=${GENODE_MIRROR:-/work/.mirror/genodelabs+genode/repo}
	if [ ! -d "$mirror" ]; then
		echo "check.sh: SKIPPED, no Genode sources (set GENODE_DIR or GENODE_MIRROR)"
		exit 0
	fi
	GENODE_DIR=$(mktemp -d)
	cleanup=$GENODE_DIR
	git --git-dir="$mirror" archive "$tag" repos/base/include repos/os/include \
		repos/base-linux/include | tar -x -C "$GENODE_DIR"
	echo "check.sh: Genode $tag from $mirror"
fi

libgcc_inc="$(dirname "$($CXX -print-libgcc-file-name)")/include"

# REP_INC_DIR for x86_64 + 64bit, then each repository's include/,
# then the compiler's own headers (global.mk: ALL_INC_DIR, LIBGCC_INC_DIR)
session_shim="$project/src/session/shim"
INC="-I$project/src/include -I$here -I$session_shim"
for rep in base base-linux os; do
	for spec in spec/x86 spec/x86_64 spec/64bit; do
		d="$GENODE_DIR/repos/$rep/include/$spec"
		if [ -d "$d" ]; then INC="$INC -I$d"; fi
	done
done
for rep in base base-linux os; do
	d="$GENODE_DIR/repos/$rep/include"
	if [ -d "$d" ]; then INC="$INC -I$d"; fi
done
INC="$INC -I$libgcc_inc"

CC_OPT="-nostdinc -ffreestanding -fPIC -ffunction-sections -fno-strict-aliasing \
 -m64 -mcmodel=large -march=x86-64-v2 -O2 -g -Wall -Wno-error=implicit-fallthrough -D__GENODE__"
FLAGS="$CC_OPT -Wextra -Weffc++ -Werror -Wsuggest-override -Wconversion -std=gnu++20"

out=$(mktemp -d)
if [ -z "$cleanup" ]; then cleanup=$out; else cleanup="$cleanup $out"; fi

set -x
$CXX $FLAGS $INC -x c++ -fsyntax-only "$project/src/include/snapper_session/connection.h"
$CXX $CC_OPT $INC -x c -fsyntax-only -std=c11 -Wextra -Werror "$here/snapper_genode.h"
$CXX $CC_OPT $INC -x c -fsyntax-only -std=c11 -Wextra -Werror "$session_shim/snapper_session_abi.h"
for cc in "$here"/*.cc "$session_shim"/*.cc; do
	$CXX $FLAGS $INC -c "$cc" -o "$out/$(basename "$cc" .cc).o"
done
set +x
echo "check.sh: OK, shim and headers compile against Genode's headers"
