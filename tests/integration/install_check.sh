#!/usr/bin/env bash
# install_check: `cmake --install` into a staging prefix puts the layout of
# docs/install.md in place: the binaries meant for users (and no other), the
# shared library with its SONAME symlinks and only jc_* symbols exported, the
# static library, the public header, a pkg-config file for the staging
# prefix, the systemd unit (hardened, ExecStart in the staged bindir,
# systemd-analyze verify), the example configurations, the docs and a man
# page per binary (linted, each option of --help documented). Every binary
# answers --version with "<name> <version>" and --help (and the examples and
# jobcoord-bench, built but not installed, --version). A worker built from
# the installed example source with pkg-config only, against the shared and
# the static library, runs and links the staged library. A DESTDIR install
# is configured for its prefix, not for DESTDIR.
#
# Needs no PostgreSQL and no Kafka (jc_setup is not used). Tools: cc,
# pkg-config, readelf, nm, ldd; man and lexgrog (man-db) for the man pages,
# systemd-analyze for the unit, each skipped with a message when missing.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
export LC_ALL=C
: "${JC_BUILD_DIR:?JC_BUILD_DIR must be set}"
T="$JC_BUILD_DIR/test-tmp/install_check"
rm -rf "$T"
mkdir -p "$T"

S=$T/stage
BINS=(jobcoord jobcoord-admin jobcoord-mock-kafka jobcoord-submit jobcoord-token jobcoord-worker)
declare -A MANSECT=([jobcoord]=8 [jobcoord-admin]=8 [jobcoord-mock-kafka]=1
    [jobcoord-submit]=1 [jobcoord-token]=1 [jobcoord-worker]=1)

# cache_var NAME DEFAULT: a variable of the build's CMakeCache.txt, or
# DEFAULT when absent or empty (GNUInstallDirs leaves DOCDIR and MANDIR
# empty in the cache and derives them).
cache_var() {
    local v
    v=$(sed -n "s/^$1:[A-Z]*=//p" "$JC_BUILD_DIR/CMakeCache.txt" | head -1)
    echo "${v:-$2}"
}
VERSION=$(cache_var CMAKE_PROJECT_VERSION "")
BINDIR=$(cache_var CMAKE_INSTALL_BINDIR bin)
LIBDIR=$(cache_var CMAKE_INSTALL_LIBDIR lib)
INCLUDEDIR=$(cache_var CMAKE_INSTALL_INCLUDEDIR include)
DATAROOTDIR=$(cache_var CMAKE_INSTALL_DATAROOTDIR share)
DOCDIR=$(cache_var CMAKE_INSTALL_DOCDIR "$DATAROOTDIR/doc/jobcoord")
MANDIR=$(cache_var CMAKE_INSTALL_MANDIR "$DATAROOTDIR/man")
check "the build's version is known ($VERSION)" test -n "$VERSION"
for d in "$BINDIR" "$LIBDIR" "$INCLUDEDIR" "$DOCDIR" "$MANDIR"; do
    case $d in /*) echo "# install directory $d is absolute: it is not under the staging prefix"; exit 1 ;; esac
done

# install_to PREFIX [DESTDIR]: cmake --install, keeping the build's own
# install_manifest.txt (what `sudo cmake --install build` wrote, the list an
# uninstall goes by) as it was; the staged one is kept in $T.
install_to() {
    local manifest=$JC_BUILD_DIR/install_manifest.txt saved=$T/install_manifest.saved rc
    rm -f "$saved"
    [ -f "$manifest" ] && cp -p "$manifest" "$saved"
    if [ -n "${2:-}" ]; then
        DESTDIR=$2 cmake --install "$JC_BUILD_DIR" --prefix "$1" >"$T/install.log" 2>&1
    else
        cmake --install "$JC_BUILD_DIR" --prefix "$1" >"$T/install.log" 2>&1
    fi
    rc=$?
    [ -f "$manifest" ] && cp "$manifest" "$T/install_manifest.$(basename "${2:-$1}")"
    if [ -f "$saved" ]; then mv -f "$saved" "$manifest"; else rm -f "$manifest"; fi
    return $rc
}

# --- the install ---------------------------------------------------------------
install_to "$S"
rc=$?
check_eq "cmake --install --prefix \$T/stage exits 0" 0 $rc
[ $rc -eq 0 ] || { sed 's/^/# /' "$T/install.log"; jc_done; }
missing=0
while read -r f; do [ -e "$f" ] || [ -L "$f" ] || { echo "# listed but missing: $f"; missing=1; }; done <"$T/install_manifest.stage"
check_eq "every file of the install manifest is in the stage" 0 $missing
# The same into DESTDIR=$T/destdir with --prefix /usr, as a package build
# does (checked at the end; its man pages are the ones linted: the long
# staging prefix in their paths would not fit 80 columns).
D=$T/destdir
install_to /usr "$D"
check_eq "DESTDIR=\$T/destdir cmake --install --prefix /usr exits 0" 0 $?

# --- binaries -------------------------------------------------------------------
for b in "${BINS[@]}"; do
    check "$BINDIR/$b is installed and executable" test -f "$S/$BINDIR/$b" -a -x "$S/$BINDIR/$b"
done
check_eq "$BINDIR holds exactly the binaries meant for users (no examples, no bench)" \
    "${BINS[*]}" "$(find "$S/$BINDIR" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')"

# Every binary: --version prints "<name> <version>" (jobcoord-worker and
# friends add the library's version after it), --help prints its usage.
# LD_LIBRARY_PATH: the staged library, whether or not the tools carry a RUNPATH.
for b in "${BINS[@]}"; do
    out=$(LD_LIBRARY_PATH="$S/$LIBDIR" "$S/$BINDIR/$b" --version 2>"$T/err")
    rc=$?
    check_eq "$b --version exits 0" 0 $rc
    check_eq "$b --version prints '$b $VERSION'" "$b $VERSION" "$(echo "$out" | head -1 | awk '{print $1, $2}')"
    LD_LIBRARY_PATH="$S/$LIBDIR" "$S/$BINDIR/$b" --help >"$T/$b.help" 2>"$T/err"
    rc=$?
    check_eq "$b --help exits 0" 0 $rc
    check "$b --help prints its usage on stdout" grep -qi "usage" "$T/$b.help"
done
# The programs built but not installed answer --version the same way.
for p in worker-sdk/jobcoord-example-worker worker-sdk/jobcoord-example-submit bench/jobcoord-bench; do
    b=$(basename "$p")
    out=$("$JC_BUILD_DIR/$p" --version 2>&1)
    rc=$?
    check_eq "$b (not installed) --version prints '$b $VERSION' and exits 0" "0 $b $VERSION" "$rc $out"
done
if readelf -d "$S/$BINDIR/jobcoord-worker" | grep -q RUNPATH; then
    resolved=$(env -u LD_LIBRARY_PATH ldd "$S/$BINDIR/jobcoord-worker" | awk '$1 == "libjobcoord.so.0" {print $3}')
    check_eq "the installed jobcoord-worker finds the staged library without LD_LIBRARY_PATH (RUNPATH)" \
        "$(readlink -f "$S/$LIBDIR/libjobcoord.so.0")" "$(readlink -f "$resolved")"
else
    echo "# $LIBDIR is a system library directory: the tools carry no RUNPATH"
fi

# --- libraries and header -----------------------------------------------------------
L=$S/$LIBDIR
check "$LIBDIR/libjobcoord.so.$VERSION is a regular file" test -f "$L/libjobcoord.so.$VERSION" -a ! -L "$L/libjobcoord.so.$VERSION"
check_eq "$LIBDIR/libjobcoord.so.0 -> libjobcoord.so.$VERSION" "libjobcoord.so.$VERSION" "$(readlink "$L/libjobcoord.so.0")"
check_eq "$LIBDIR/libjobcoord.so -> libjobcoord.so.0" "libjobcoord.so.0" "$(readlink "$L/libjobcoord.so")"
check_eq "the SONAME is libjobcoord.so.0" "libjobcoord.so.0" \
    "$(readelf -d "$L/libjobcoord.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
check_eq "libjobcoord.so exports only jc_* symbols (and its version node)" "" \
    "$(nm -D --defined-only "$L/libjobcoord.so.$VERSION" | awk '$2 != "A" {print $3}' | grep -v '^jc_' | head -5 | tr '\n' ' ')"
check "$LIBDIR/libjobcoord.a is an archive defining jc_version" sh -c "nm '$L/libjobcoord.a' 2>/dev/null | grep -q ' T jc_version\$'"
check "$INCLUDEDIR/jobcoord/jobcoord.h is installed" cmp -s "$JC_SOURCE_DIR/worker-sdk/include/jobcoord/jobcoord.h" "$S/$INCLUDEDIR/jobcoord/jobcoord.h"
check_eq "the installed headers are the public ones only" \
    "$(cd "$JC_SOURCE_DIR/worker-sdk/include" && find . -type f | sort)" "$(cd "$S/$INCLUDEDIR" && find . -type f | sort)"

# --- pkg-config -----------------------------------------------------------------------
export PKG_CONFIG_PATH=$L/pkgconfig
pc() { pkg-config "$@" jobcoord 2>>"$T/pkg-config.err"; }
check "$LIBDIR/pkgconfig/jobcoord.pc is installed" test -f "$L/pkgconfig/jobcoord.pc"
check_eq "pkg-config --modversion jobcoord" "$VERSION" "$(pc --modversion)"
check_eq "the .pc's prefix is the staging prefix" "$S" "$(pc --variable=prefix)"
check_eq "the .pc's libdir" "$L" "$(pc --variable=libdir)"
check_eq "the .pc's includedir" "$S/$INCLUDEDIR" "$(pc --variable=includedir)"
check "no placeholder is left in jobcoord.pc" sh -c "! grep -q '@[A-Za-z_]*@' '$L/pkgconfig/jobcoord.pc'"
check "pkg-config --cflags jobcoord has -I\$stage/$INCLUDEDIR" sh -c "pkg-config --cflags jobcoord | grep -q -- '-I$S/$INCLUDEDIR'"
check_eq "pkg-config --libs jobcoord" "-L$L -ljobcoord" "$(pc --libs | xargs)"
static_libs=$(pc --static --libs)
for l in -ljobcoord -lrdkafka -lsodium -lmsgpackc -lpthread; do
    check "pkg-config --static --libs jobcoord has $l" grep -qw -- "$l" <<<"$static_libs"
done

# --- systemd unit ------------------------------------------------------------------
U=$S/lib/systemd/system/jobcoord.service
check "lib/systemd/system/jobcoord.service is installed" test -f "$U"
check "no placeholder is left in the unit" sh -c "! grep -q '@[A-Za-z_]*@' '$U'"
exec_bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$U")
check_eq "ExecStart= runs the staged jobcoord" "$S/$BINDIR/jobcoord" "$exec_bin"
for line in "User=jobcoord" "Group=jobcoord" "NoNewPrivileges=yes" "ProtectSystem=strict" \
    "ProtectHome=yes" "PrivateTmp=yes" "PrivateDevices=yes" "CapabilityBoundingSet=" \
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "MemoryDenyWriteExecute=yes" \
    "ReadOnlyPaths=/etc/jobcoord" "StateDirectory=jobcoord" "WantedBy=multi-user.target"; do
    check "the unit has $line" grep -qxF "$line" "$U"
done
check "the unit runs with -c /etc/jobcoord/jobcoord.conf" grep -q '^ExecStart=.* -c /etc/jobcoord/jobcoord.conf' "$U"
check "the unit names its man page" grep -q '^Documentation=.*man:jobcoord(8)' "$U"
if command -v systemd-analyze >/dev/null; then
    # offline: checks the syntax, that ExecStart= is executable and (MANPATH)
    # that the Documentation= man pages exist
    MANPATH=$S/$MANDIR systemd-analyze verify "$U" >"$T/verify.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/verify.out" ]; then
        ok "systemd-analyze verify accepts the unit"
    elif grep -qiE "bus|connect|not booted|Failed to (setup|initialize) manager" "$T/verify.out"; then
        echo "# systemd-analyze verify cannot run here (skipped): $(head -1 "$T/verify.out")"
    else
        not_ok "systemd-analyze verify: exit $rc"
        sed 's/^/# /' "$T/verify.out"
    fi
else
    echo "# systemd-analyze is not installed: unit not verified (skipped)"
fi

# --- example configurations and docs ------------------------------------------------
for f in jobcoord.conf.example keys.conf.example worker.conf.example jobcoord-worker.conf.example; do
    check "$DOCDIR/examples/$f is config/$f" cmp -s "$JC_SOURCE_DIR/config/$f" "$S/$DOCDIR/examples/$f"
done
for f in example_worker.c example_submit.c; do
    check "$DOCDIR/examples/$f is installed" cmp -s "$JC_SOURCE_DIR/worker-sdk/examples/$f" "$S/$DOCDIR/examples/$f"
done
check "$DOCDIR/README.md is installed" test -f "$S/$DOCDIR/README.md"
for f in "$JC_SOURCE_DIR"/docs/*.md; do
    check "$DOCDIR/$(basename "$f") is installed" cmp -s "$f" "$S/$DOCDIR/$(basename "$f")"
done

# --- man pages ------------------------------------------------------------------------
have_man=1
if ! command -v man >/dev/null || ! command -v lexgrog >/dev/null; then
    have_man=0
    echo "# man-db is not installed (scripts/bootstrap --test installs it): man pages not linted (skipped)"
fi
for b in "${BINS[@]}"; do
    sec=${MANSECT[$b]}
    m=$S/$MANDIR/man$sec/$b.$sec
    check "$MANDIR/man$sec/$b.$sec is installed" test -f "$m"
    [ -f "$m" ] || continue
    check "no placeholder is left in $b.$sec" sh -c "! grep -q '@[A-Za-z_]*@' '$m'"
    check "$b.$sec's title carries version $VERSION" grep -q "^\.TH .*\"jobcoord $VERSION\"" "$m"
    if [ $have_man -eq 1 ]; then
        # warnings go to stderr, the exit status stays 0: any output fails
        # (the page for --prefix /usr, see above)
        mu=$D/usr/$MANDIR/man$sec/$b.$sec
        warn=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$mu" 2>&1 >/dev/null)
        check_eq "man --warnings -l $b.$sec: no warning" "" "$warn"
        check "lexgrog reads the NAME section of $b.$sec (whatis, apropos)" sh -c "lexgrog '$mu' | grep -q '\"$b - '"
    fi
    # every long option the program's --help lists is documented (roff: \-\-name)
    undocumented=""
    # shellcheck disable=SC2013 # options are words
    for opt in $(grep -o -- '--[a-z][a-z-]*' "$T/$b.help" | sort -u); do
        grep -qF -- "${opt//-/\\-}" "$m" || undocumented="$undocumented $opt"
    done
    check_eq "$b.$sec documents every option of $b --help" "" "$undocumented"
done
check_eq "$MANDIR holds a man page per binary and no other" \
    "$(for b in "${BINS[@]}"; do echo "$b.${MANSECT[$b]}"; done | sort | tr '\n' ' ')" \
    "$(cd "$S/$MANDIR" && find . -type f -printf '%f\n' | sort | tr '\n' ' ')"

# --- a worker built against the installed tree only -------------------------------------
W=$T/example
mkdir -p "$W"
cp "$S/$DOCDIR/examples/example_worker.c" "$W/"
# shellcheck disable=SC2046 # word splitting of pkg-config's flags is wanted
(cd "$W" && cc -Wall -Wextra -Werror $(pkg-config --cflags jobcoord) example_worker.c \
    $(pkg-config --libs jobcoord) -o worker-shared) >"$T/cc-shared.log" 2>&1
rc=$?
check_eq "the installed example_worker.c builds with pkg-config's flags (shared)" 0 $rc
[ $rc -eq 0 ] || sed 's/^/# /' "$T/cc-shared.log"
# shellcheck disable=SC2046,SC1003
deps=$(cd "$W" && cc -M $(pkg-config --cflags jobcoord) example_worker.c 2>/dev/null | tr -s ' \\' '\n' | grep 'jobcoord/jobcoord.h$')
check_eq "it includes the staged jobcoord.h" "$S/$INCLUDEDIR/jobcoord/jobcoord.h" "$(readlink -f "$deps")"
if [ $rc -eq 0 ]; then
    check "it needs libjobcoord.so.0 (the SONAME)" sh -c "readelf -d '$W/worker-shared' | grep -q 'NEEDED.*\[libjobcoord.so.0\]'"
    resolved=$(LD_LIBRARY_PATH=$L ldd "$W/worker-shared" | awk '$1 == "libjobcoord.so.0" {print $3}')
    check_eq "with LD_LIBRARY_PATH=\$stage/$LIBDIR it links the staged libjobcoord (ldd)" \
        "$(readlink -f "$L/libjobcoord.so.0")" "$(readlink -f "$resolved")"
    out=$(LD_LIBRARY_PATH=$L "$W/worker-shared" --version 2>&1)
    check_eq "it starts: --version" "jobcoord-example-worker $VERSION" "$out"
    out=$(LD_LIBRARY_PATH=$L "$W/worker-shared" --config "$T/no-such.conf" 2>&1)
    rc=$?
    check_eq "a missing configuration file: exit 100 (usage or configuration error)" 100 $rc
    check "naming the file" grep -q "no-such.conf" <<<"$out"
fi

# The static library: -ljobcoord taken from libjobcoord.a, the rest of
# pkg-config --static's flags as they are. Those include the Libs.private of
# the dependencies (librdkafka's -llz4 -lzstd -lsasl2 ...), which need -dev
# packages librdkafka-dev does not pull in; when one is missing, the link is
# made with the dependencies' shared libraries instead: libjobcoord.a, the
# --libs of the .pc's Requires.private, and its own Libs.private. Either
# way, what libjobcoord.a needs must come from the .pc.
static_link() { # FLAGS...: builds $W/worker-static
    # shellcheck disable=SC2046
    (cd "$W" && cc -Wall -Wextra -Werror $(pkg-config --static --cflags jobcoord) example_worker.c \
        "$@" -o worker-static) >"$T/cc-static.log" 2>&1
}
# shellcheck disable=SC2001,SC2046
static_link $(echo "$static_libs" | sed 's/-ljobcoord\b/-l:libjobcoord.a/')
rc=$?
missing_dep=$(sed -n 's/.*cannot find -l\([^ :]*\).*/\1/p' "$T/cc-static.log" | head -1)
case $missing_dep in
"" | jobcoord | rdkafka | sodium | msgpackc | pthread) ;;
*)
    echo "# pkg-config --static: -l$missing_dep (a dependency's private library) has no -dev package here;"
    echo "# linking libjobcoord.a with the shared libraries of Requires.private instead"
    # shellcheck disable=SC2046
    static_link -L"$L" -l:libjobcoord.a $(pkg-config --libs $(pkg-config --print-requires-private jobcoord)) \
        $(sed -n 's/^Libs.private://p' "$L/pkgconfig/jobcoord.pc")
    rc=$?
    ;;
esac
check_eq "it builds against libjobcoord.a with the .pc's static flags" 0 $rc
[ $rc -eq 0 ] || sed 's/^/# /' "$T/cc-static.log"
if [ $rc -eq 0 ]; then
    check "the static build does not need libjobcoord.so" sh -c "! readelf -d '$W/worker-static' | grep -q 'NEEDED.*libjobcoord'"
    out=$(env -u LD_LIBRARY_PATH "$W/worker-static" --version 2>&1)
    check_eq "the static build starts: --version" "jobcoord-example-worker $VERSION" "$out"
fi

# The header's version, the library's and the project's are one.
cat >"$W/version.c" <<'EOF'
#include <stdio.h>
#include <jobcoord/jobcoord.h>
int main(void)
{
    printf("%s %s %d\n", JC_VERSION_STR, jc_version(), jc_version_num() == JC_VERSION);
    return 0;
}
EOF
# shellcheck disable=SC2046
(cd "$W" && cc $(pkg-config --cflags jobcoord) version.c $(pkg-config --libs jobcoord) -o version) >"$T/cc-version.log" 2>&1
check_eq "JC_VERSION_STR, jc_version() and the project's version agree" "$VERSION $VERSION 1" \
    "$(LD_LIBRARY_PATH=$L "$W/version" 2>&1)"

# --- DESTDIR: files under DESTDIR, configured for the prefix, not DESTDIR ------------
check_eq "under DESTDIR the .pc's prefix is /usr" "prefix=/usr" "$(grep '^prefix=' "$D/usr/$LIBDIR/pkgconfig/jobcoord.pc" 2>&1)"
check_eq "and the unit runs /usr/$BINDIR/jobcoord" "/usr/$BINDIR/jobcoord" \
    "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$D/usr/lib/systemd/system/jobcoord.service" 2>&1)"
check "no DESTDIR path in the installed text files" sh -c "! grep -rqF '$D' '$D/usr/lib/systemd' '$D/usr/$LIBDIR/pkgconfig' '$D/usr/$MANDIR'"

jc_done
