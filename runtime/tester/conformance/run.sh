#!/bin/sh
# Foundry's own test suite (testdata/default/{cheats,core,logs,fuzz,repros}
# at forge's release tag) run with `forja test` and with forge, side by side:
# prints both pass counts and keeps both outputs for comparison.
#
# usage: run.sh [FOUNDRY_GIT_DIR]
#   FOUNDRY_GIT_DIR  a clone (bare or not) of foundry-rs/foundry holding the
#                    tag; without it the script clones one (needs network).
# env:
#   FORJA   forja binary            (default: forja on PATH)
#   FORGE   forge binary            (default: forge on PATH; the run is
#                                    skipped without one)
#   FOUNDRY_SOLC  a solc command line for forge offline (e.g. a wrapper over
#                 npm solc), passed through
#   TAG     foundry release tag     (default: v1.7.1, forge 1.7.1's)
#   WORK    scratch directory       (default: a new temporary one)
# Foundry's files are fetched at run time and never committed here.
set -eu
TAG=${TAG:-v1.7.1}
FORJA=${FORJA:-forja}
FORGE=${FORGE:-forge}
WORK=${WORK:-$(mktemp -d)}
GIT_DIR=${1:-}
if [ -z "$GIT_DIR" ]; then
    git clone --quiet --bare --filter=blob:none https://github.com/foundry-rs/foundry "$WORK/foundry.git"
    GIT_DIR=$WORK/foundry.git
fi
[ -d "$GIT_DIR/.git" ] && GIT_DIR=$GIT_DIR/.git

PROJECT=$WORK/testdata
rm -rf "$PROJECT"
git --git-dir="$GIT_DIR" archive "$TAG" testdata | tar x -C "$WORK"
cd "$PROJECT"
# Only the suites in scope, unmodified; the rest (forks, fs, vyper, other
# EVM versions, linking, inline config) is removed so neither tool builds it.
for dir in default/*; do
    case "$dir" in
        default/cheats|default/core|default/logs|default/fuzz|default/repros) ;;
        *) rm -rf "$dir" ;;
    esac
done
rm -rf multi-version paris etherscan
# forja compiles Solidity only; forge would stop on Vyper sources without vyper.
find . -name '*.vy' -o -name '*.vyi' | xargs rm -f
# Same settings for both tools: the tests under default/, `utils/` imports
# from the tree's own utils, no ffi, no RPC endpoints.
# File cheatcodes: Foundry's testdata permissions (out/ and fixtures/).
write_config() {
    cat > foundry.toml <<'TOML'
[profile.default]
src = "src"
test = "default"
out = "out"
libs = []
remappings = ["utils/=utils/"]
fs_permissions = [
    { access = "read-write", path = "out/" },
    { access = "read-write", path = "fixtures/" },
]
TOML
}
write_config

counts() {
    # "Ran N test suites in T (…): P tests passed, F failed, S skipped (N total tests)"
    # printed as "P tests passed, … (test phase T)"
    grep -E "tests? passed, [0-9]+ failed" "$1" | tail -1 |
        sed -E 's/^Ran [0-9]+ test suites? in ([^ :]+)[^:]*: (.*)/\2 (test phase \1)/'
}

echo "testdata at $TAG in $PROJECT"
"$FORJA" test --test-dir default --fuzz-seed 1 > "$WORK/forja.txt" 2>&1 || true
echo "forja: $(counts "$WORK/forja.txt" || echo "no summary, see $WORK/forja.txt")"
if command -v "$FORGE" >/dev/null 2>&1; then
    rm -rf out cache
    # Whatever forja's run wrote is not forge's starting point.
    write_config
    # A FOUNDRY_SOLC is one compiler version: files pinned to another one
    # (`pragma solidity 0.8.18;`, `=0.8.18`) are left out of forge's build.
    set --
    if [ -n "${FOUNDRY_SOLC:-}" ]; then
        version=$("$FOUNDRY_SOLC" --version | sed -nE 's/.*Version: ([0-9.]+).*/\1/p')
        for file in $(grep -rlE "pragma solidity =?[0-9]+\.[0-9]+\.[0-9]+;" default utils src 2>/dev/null); do
            grep -qE "pragma solidity =?$version;" "$file" || set -- "$@" --skip "$file"
        done
        [ $# -gt 0 ] && echo "forge: $(($# / 2)) files pinned to another solc than $version left out"
    fi
    FOUNDRY_OFFLINE=true "$FORGE" test --offline --fuzz-seed 1 "$@" > "$WORK/forge.txt" 2>&1 || true
    echo "forge: $(counts "$WORK/forge.txt" || echo "no summary, see $WORK/forge.txt")"
else
    echo "forge: not found (set FORGE)"
fi
echo "outputs: $WORK/forja.txt $WORK/forge.txt"
