#!/usr/bin/env bash
# sdk_symbols: libjobcoord.so exports exactly the functions its public
# header declares JC_EXPORT, all listed in the linker version script
# worker-sdk/libjobcoord.map and versioned with its node: nothing private
# leaks into the ABI, and no public function is missing from it.
set -u
export LC_ALL=C
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
# same NAME A B: the sorted lists in files A and B are equal (else the diff)
same() {
    if diff -u "$2" "$3" >"$W/diff"; then ok "$1"; else not_ok "$1:"; sed 's/^/#   /' "$W/diff"; fi
}
HDR=$JC_SOURCE_DIR/worker-sdk/include/jobcoord/jobcoord.h
MAP=$JC_SOURCE_DIR/worker-sdk/libjobcoord.map
SO=$JC_BUILD_DIR/worker-sdk/libjobcoord.so
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# the header's exported functions: each declaration runs from its
# JC_EXPORT to its ';' (it may span lines, and comments before it are cut
# off with everything up to its JC_EXPORT); its name is the identifier
# before its first '('
tr '\n' ' ' <"$HDR" | tr ';' '\n' | grep 'JC_EXPORT ' | sed 's/.*JC_EXPORT //' |
    sed -nE 's/^[^(]*[^A-Za-z0-9_](jc_[a-z0-9_]+) *\(.*/\1/p' | sort >"$W/header"
# the map's global names: the lines between "global:" and "local:"
sed -n '/global:/,/local:/p' "$MAP" | grep -oE '^ *jc_[a-z0-9_]+;' | tr -d ' ;' | sort >"$W/map"
# what the library exports, with and without the version
nm -D --defined-only "$SO" | awk '$2 != "A" {print $3}' | sort >"$W/so-versioned"
sed 's/@.*//' "$W/so-versioned" | sort >"$W/so"

n=$(wc -l <"$W/header")
if [ "$n" -ge 1 ]; then ok "the header declares $n JC_EXPORT functions"; else not_ok "no JC_EXPORT function found in $HDR"; fi
same "every JC_EXPORT function of the header is in libjobcoord.map, and nothing else" "$W/header" "$W/map"
same "libjobcoord.so exports exactly the functions of libjobcoord.map" "$W/map" "$W/so"
node=$(sed -n 's/^\([A-Z0-9_.]*\) *{.*/\1/p' "$MAP" | head -1)
bad=$(grep -v "@@$node\$" "$W/so-versioned" | head -5 | tr '\n' ' ')
if [ -n "$node" ] && [ -z "$bad" ]; then
    ok "every export carries the version node $node"
else
    not_ok "exports without version node '$node': $bad"
fi
if nm -D --defined-only "$SO" | grep -q " A $node\$"; then
    ok "the library defines the version $node"
else
    not_ok "no version $node in $SO"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
