#!/bin/sh
# Builds and links the 'snapper' and 'snappertests' Genode components the way
# 'goa build' does, with the host's g++ standing in for Genode's tool chain:
# src/ mirrored by symlinks into a build directory, src/Makefile run with
# the CPPFLAGS/CXXFLAGS/LDFLAGS/LDLIBS of Goa's lib/flags.tcl, linked
# against ABI stubs of ld.lib.so and vfs.lib.so made by Goa's
# lib/gen_abi_stubs.mk from Genode 26.02's symbol files.
#
# Proves that the shim and the Rust static libraries resolve every symbol
# against what Genode's ld.lib.so and vfs.lib.so export. It cannot run them.
#
# Host-g++ deviations from Genode's tool chain: -no-pie (Debian's gcc makes
# PIEs by default, Genode's does not) and --build-id=none (Genode's linker
# script has no place for the note).
#
#   sh src/genode/shim/link_check.sh      (needs the Genode and Goa mirrors)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../../.." && pwd)
genode=${GENODE_MIRROR:-/work/.mirror/genodelabs+genode/repo}
goa=${GOA_MIRROR:-/work/.mirror/genodelabs+goa/repo}
tag=${GENODE_TAG:-26.02}

if [ ! -d "$genode" ] || [ ! -d "$goa" ]; then
	echo "link_check.sh: SKIPPED, no Genode or Goa mirror (GENODE_MIRROR, GOA_MIRROR)"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git --git-dir="$genode" archive "$tag" repos/base/include repos/os/include \
	repos/base/lib/symbols/ld repos/os/lib/symbols/vfs | tar -x -C "$work"
mkdir -p "$work/goa"
git --git-dir="$goa" archive HEAD share/goa/lib/gen_abi_stubs.mk share/goa/ld | tar -x -C "$work/goa"
goa_dir=$work/goa/share/goa

# ABI stubs, as Goa makes them from the used APIs' symbol files
mkdir -p "$work/depot/g/api/base/lib/symbols" "$work/depot/g/api/vfs/lib/symbols" "$work/abi"
cp "$work/repos/base/lib/symbols/ld"  "$work/depot/g/api/base/lib/symbols/"
cp "$work/repos/os/lib/symbols/vfs"   "$work/depot/g/api/vfs/lib/symbols/"
make -s -f "$goa_dir/lib/gen_abi_stubs.mk" DEPOT_DIR="$work/depot" \
	APIS="g/api/base g/api/vfs" TOOL_DIR="$goa_dir" ABI_DIR="$work/abi" \
	CROSS_DEV_PREFIX= ARCH=x86_64 LD_MARCH=-melf_x86_64 CC_MARCH=-m64

# the build directory, mirrored as Goa's mirror_source_dir_to_build_dir does
build=$work/build
(cd "$project/src" && find . -type d) | while read -r d; do mkdir -p "$build/$d"; done
(cd "$project/src" && find . -not -type d -not -name '*~') | while read -r f; do
	ln -s "$project/src/${f#./}" "$build/${f#./}"; done

inc=""
for rep in base os; do
	for spec in spec/x86_64 spec/x86 spec/64bit; do
		if [ -d "$work/repos/$rep/include/$spec" ]; then inc="$inc -I$work/repos/$rep/include/$spec"; fi
	done
	inc="$inc -I$work/repos/$rep/include"
done
inc="$inc -I$(dirname "$(gcc -print-libgcc-file-name)")/include"

cflags="-fPIC -O2 -D__GENODE__ -m64 -g"
ld=$goa_dir/ld

set -x
make -C "$build" -j2 CXX=g++ CC=gcc \
	CPPFLAGS="-nostdinc $inc" \
	CFLAGS="$cflags" \
	CXXFLAGS="$cflags -std=gnu++20 -Wall -Wextra -Weffc++ -Werror -Wsuggest-override" \
	LDFLAGS="-Wl,-gc-sections -Wl,-z -Wl,max-page-size=0x1000 -Wl,--eh-frame-hdr -Wl,-rpath-link=. -Wl,-melf_x86_64 -Wl,-Ttext=0x01000000 -no-pie -Wl,--build-id=none" \
	LDLIBS="-nostartfiles -nodefaultlibs -lgcc -L$work/abi -Wl,--dynamic-linker=ld.lib.so -Wl,--dynamic-list=$ld/genode_dyn.dl -T $ld/genode_dyn.ld -l:ld.lib.so -l:vfs.lib.so" \
	"$@"
set +x

for c in snapper snappertests; do
	bin=$build/install/bin/$c
	needed=$(readelf -d "$bin" | grep NEEDED | sed 's/.*\[\(.*\)\].*/\1/' | tr '\n' ' ')
	undefined=$(nm -D --undefined-only "$bin" | wc -l)
	echo "link_check.sh: $c linked: $(stat -c %s "$bin") bytes, needs: $needed($undefined symbols, all from those)"
done
