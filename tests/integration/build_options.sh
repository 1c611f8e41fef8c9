#!/usr/bin/env bash
# build_options: the CMake options of the top CMakeLists.txt (JC_WERROR,
# TSAN) do what docs/architecture.md ("Habits") says, checked on the
# compiler flags cmake generates (configure only, in scratch build folders,
# nothing compiled).
set -u
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
W="$JC_BUILD_DIR/test-tmp/build_options"
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

# configure NAME ARGS...: configures into $W/NAME; $out holds cmake's output
configure() {
    local name=$1
    shift
    out=$(cmake -S "$JC_SOURCE_DIR" -B "$W/$name" -DJC_BUILD_TESTS=OFF "$@" 2>&1)
}
# cflags NAME: the C flags the daemon is compiled with in $W/NAME
cflags() { cat "$W/$1/coordinator/CMakeFiles/jobcoord.dir/flags.make"; }

if configure default && ! cflags default | grep -q -- '-Werror'; then
    ok "JC_WERROR is off by default: no -Werror (packagers)"
else
    not_ok "default configure: $out"
fi
if configure werror -DJC_WERROR=ON && cflags werror | grep -q -- '-Werror'; then
    ok "-DJC_WERROR=ON compiles with -Werror"
else
    not_ok "JC_WERROR=ON: $out"
fi
if cflags werror | grep -q -- '-Wall -Wextra'; then
    ok "the warnings themselves stay on either way"
else
    not_ok "no -Wall -Wextra in $(cflags werror)"
fi

if configure tsan -DTSAN=ON && cflags tsan | grep -q -- '-fsanitize=thread'; then
    ok "-DTSAN=ON compiles with -fsanitize=thread"
else
    not_ok "TSAN=ON: $out"
fi
if ! configure both -DTSAN=ON -DASAN=ON && echo "$out" | grep -q "TSAN and ASAN cannot be combined"; then
    ok "-DTSAN=ON with -DASAN=ON is refused at configure time, saying why"
else
    not_ok "TSAN with ASAN was not refused: $out"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
