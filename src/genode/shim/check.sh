#!/bin/sh
# Type-checks the C++ shim and the Snapper session headers against the real
# Genode headers, with the flags Genode's build system passes for an x86_64
# component (repos/base/mk/global.mk: CC_OPT, CC_CXX_WARN_STRICT,
# CC_CXX_OPT_STD; repos/base/mk/spec/x86_64.mk: CC_MARCH, REP_INC_DIR).
# Compiles only (-fsyntax-only for the headers, -c for the shim into a
# temporary object); it does not link, there is no Genode tool chain here.
#
#   GENODE_DIR=/path/to/genode sh src/genode/shim/check.sh
#
# Without GENODE_DIR it looks for the 26.02 sources in a bare mirror
# (GENODE_MIRROR, default /work/.mirror/genodelabs+genode/repo) and extracts
# the needed include trees to a temporary directory. If neither exists it
# says so and exits 0: CI has no Genode sources.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../../.." && pwd)
CXX=${CXX:-g++}
tag=${GENODE_TAG:-26.02}

cleanup=""
trap 'if [ -n "$cleanup" ]; then rm -rf "$cleanup"; fi' EXIT

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
INC="-I$project/src/include -I$here"
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
$CXX $FLAGS $INC -c "$here/shim.cc" -o "$out/shim.o"
set +x
echo "check.sh: OK, shim and headers compile against Genode's headers"
