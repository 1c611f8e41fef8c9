#!/usr/bin/env bash
# format_check: scripts/format-check holds the lines a change touches to
# .clang-format and only those, with the base it documents (merge-base with
# main on a branch, the last commit on main, nothing without a parent).
# Runs in a scratch git repository holding the script and the style file.
# Exit 77 (skipped): clang-format is not installed.
set -u
command -v git-clang-format-14 >/dev/null || command -v git-clang-format >/dev/null || exit 77
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
# expect RC DESCRIPTION: the last run's exit status ($rc) was RC
expect() {
    if [ "$rc" -eq "$1" ]; then ok "$2"; else not_ok "$2 (exit $rc, wanted $1): $out"; fi
}

R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R/scripts" "$R/src"
cp "$JC_SOURCE_DIR/scripts/format-check" "$R/scripts/"
cp "$JC_SOURCE_DIR/.clang-format" "$R/"
cd "$R"
git init -q -b main .
git config user.email test@example.invalid
git config user.name test
run() { out=$(scripts/format-check "$@" 2>&1); rc=$?; }

# a formatted file, plus one line laid out by hand (as the tree has many)
cat >src/a.c <<'EOF'
/* a.c - a file of the scratch repository */
#include <stdio.h>

int add(int a, int b)
{
    return a + b;
}

int  hand_laid( int x ) { return x; }
EOF
git add -A && git commit -qm first
run
expect 0 "a single commit has nothing to compare with: skipped"
echo "$out" | grep -q "skipped" && ok "and says so" || not_ok "no 'skipped' in: $out"

printf '\nint sub(int a, int b)\n{\n    return a - b;\n}\n' >>src/a.c
git commit -qam second
run
expect 0 "on main, a formatted last commit passes, beside an old hand-laid line"

printf '\nint  mul( int a,int b ){return a*b;}\n' >>src/a.c
run
expect 1 "an unformatted line not committed yet fails"
echo "$out" | grep -q '^+int mul(int a, int b)' && ok "the diff shows the line as it should be" ||
    not_ok "no corrected line in: $out"
git checkout -q src/a.c

git checkout -q -b topic
printf '\nint  div_( int a,int b ){return a/b;}\n' >>src/a.c
git commit -qam "unformatted on a branch"
printf '/* b.h - formatted */\nint b(void);\n' >src/b.h
git add src/b.h && git commit -qm "formatted on top"
run
expect 1 "on a branch, every commit since the merge-base with main counts, not only the last"
echo "$out" | grep -q 'merge-base with main' && ok "the base is named" || not_ok "base not named: $out"

run HEAD~1
expect 0 "an explicit base (argument) is used instead"
out=$(JC_FORMAT_BASE=HEAD~1 scripts/format-check 2>&1)
rc=$?
expect 0 "an explicit base (JC_FORMAT_BASE) is used instead"
run no-such-commit
expect 2 "a base that is not a commit is a usage error"

run --fix
run
expect 0 "--fix lays the changed lines out, and the check passes after it"
grep -q '^int  hand_laid( int x ) { return x; }$' src/a.c && ok "--fix leaves untouched lines alone" ||
    not_ok "--fix changed a line the branch did not touch"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
