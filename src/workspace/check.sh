#!/bin/sh
# The depot workspace (Cargo.toml.in and Cargo.lock here, what src/Makefile
# builds from when the project root is not there, i.e. from a src archive)
# must build the same crates as the root workspace. Checks, and fails on
# any difference:
#
#  1. cargo resolves the depot workspace with --locked: the lock is complete
#     and current, and every dependency a member crate names is defined;
#  2. every package of that resolution is in the root workspace's
#     resolution with the same version and source (so the root Cargo.lock,
#     which 'cargo test' uses, pins the same crates);
#  3. each member crate sees the same dependencies (requirement, features,
#     default features, optional, kind, target), version, edition,
#     rust-version and license in both workspaces;
#  4. every component src/Makefile builds (COMPONENTS) is a member;
#  5. the [profile] tables are equal (needs Python 3.11's tomllib; skipped
#     with a note without it).
#
#   sh src/workspace/check.sh            # check
#   sh src/workspace/check.sh --update   # renew Cargo.lock from the root's, then check
#
# Needs cargo, make and python3. Works offline (CARGO_NET_OFFLINE=true) once
# the root's crates are fetched.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
CARGO=${CARGO:-cargo}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "${1:-}" = "--update" ] && [ ! -f "$here/Cargo.lock" ]; then
	cp "$project/Cargo.lock" "$here/Cargo.lock"
fi

# the depot workspace exactly as src/Makefile assembles it
make -s -C "$tmp" -f "$project/src/Makefile" CARGO_WORKSPACE=depot cargo-ws
ws="$tmp/cargo-ws"

if [ "${1:-}" = "--update" ]; then
	# start from the root's lock: cargo keeps its versions and drops what
	# the Genode crates do not use
	cp "$project/Cargo.lock" "$ws/Cargo.lock"
	"$CARGO" metadata --manifest-path "$ws/Cargo.toml" --format-version 1 >/dev/null
	cp "$ws/Cargo.lock" "$here/Cargo.lock"
	echo "workspace/check.sh: src/workspace/Cargo.lock renewed from the root Cargo.lock"
fi

if ! "$CARGO" metadata --manifest-path "$ws/Cargo.toml" --locked --format-version 1 >"$tmp/depot.json" 2>"$tmp/err"; then
	cat "$tmp/err"
	echo "workspace/check.sh: FAILED: cargo cannot resolve the depot workspace with"
	echo "  src/workspace/Cargo.lock (cargo's message above). Add what a Genode crate now"
	echo "  needs to src/workspace/Cargo.toml.in (as in the root Cargo.toml) and/or renew"
	echo "  the lock after a change of the root Cargo.lock: 'sh src/workspace/check.sh --update'."
	exit 1
fi
"$CARGO" metadata --manifest-path "$project/Cargo.toml" --locked --format-version 1 >"$tmp/root.json"

components=$(make -s -C "$tmp" -f "$project/src/Makefile" print-components)

python3 - "$tmp/root.json" "$tmp/depot.json" "$project/Cargo.toml" "$here/Cargo.toml.in" "$components" <<'EOF'
import json, sys

root, depot = (json.load(open(f)) for f in sys.argv[1:3])
errors = []

# 2. every resolved package of the depot workspace, as the root resolves it
def resolved(meta):
    return {(p["name"], p["version"], p["source"]) for p in meta["packages"]}
root_set = resolved(root)
for name, version, source in sorted(resolved(depot) - root_set):
    have = sorted(v for n, v, _ in root_set if n == name)
    errors.append(f"{name} {version}: in src/workspace/Cargo.lock's resolution, "
                  f"the root Cargo.lock has {have or 'no such crate'}")

# 3. the member crates as each workspace sees them
def members(meta):
    ids = set(meta["workspace_members"])
    return {p["name"]: p for p in meta["packages"] if p["id"] in ids}

def deps(p):
    return sorted((d["name"], d["req"], d["kind"] or "", d["optional"],
                   d["uses_default_features"], tuple(sorted(d["features"])),
                   d["target"] or "", d.get("rename") or "")
                  for d in p["dependencies"])

root_members = members(root)
for name, p in sorted(members(depot).items()):
    r = root_members.get(name)
    if r is None:
        errors.append(f"{name}: a member of the depot workspace but not of the root one")
        continue
    for key in ("version", "edition", "rust_version", "license"):
        if p.get(key) != r.get(key):
            errors.append(f"{name}: {key} {p.get(key)!r} in the depot workspace, {r.get(key)!r} in the root one")
    if deps(p) != deps(r):
        only_d = set(deps(p)) - set(deps(r))
        only_r = set(deps(r)) - set(deps(p))
        errors.append(f"{name}: dependencies differ; depot workspace only: {sorted(only_d)}; root only: {sorted(only_r)}")

# 4. what src/Makefile builds
for c in sys.argv[5].split():
    if c not in members(depot):
        errors.append(f"{c}: src/Makefile builds it (COMPONENTS), but it is no member of "
                      f"src/workspace/Cargo.toml.in (add it to members and, like the root, "
                      f"to [workspace.dependencies])")

# 5. [profile]
try:
    import tomllib
    rt, dt = (tomllib.load(open(f, "rb")) for f in sys.argv[3:5])
    if rt.get("profile") != dt.get("profile"):
        errors.append(f"[profile]: root {rt.get('profile')}, src/workspace/Cargo.toml.in {dt.get('profile')}")
except ImportError:
    print("workspace/check.sh: [profile] comparison SKIPPED (no tomllib, Python < 3.11)")

if errors:
    print("workspace/check.sh: FAILED: the depot workspace (src/workspace) drifted from the root workspace:")
    for e in errors:
        print("  " + e)
    print("  Bring src/workspace/Cargo.toml.in in line with the root Cargo.toml, then"
          " 'sh src/workspace/check.sh --update'.")
    sys.exit(1)
print(f"workspace/check.sh: OK, the depot workspace builds the same {len(members(depot))} crates "
      f"with the same {len(resolved(depot)) - len(members(depot))} dependencies as the root workspace")
EOF
