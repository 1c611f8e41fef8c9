# shellcheck shell=bash
# adminlib.sh - helpers of the jobcoord-admin tests (source after
# testlib.sh and jc_setup): run the tool, read its text and JSON output,
# check exit codes.

# run ARGS...: runs jobcoord-admin; stdout in $OUT, stderr in $ERR, status in $RC.
run() {
    OUT=$("$ADMIN" "$@" 2>"$T/stderr")
    RC=$?
    ERR=$(cat "$T/stderr")
}
# field NAME: the value of a "NAME  value" line of $OUT.
field() { awk -v k="$1" '$1 == k { print $2; exit }' <<<"$OUT"; }
# js EXPR: evaluates a Python expression over the JSON of $OUT (as d).
# A tuple prints as its items separated by spaces.
js() {
    python3 -c "import json, sys
d = json.load(sys.stdin)
r = ($1)
print(' '.join(map(str, r)) if isinstance(r, tuple) else r)" <<<"$OUT"
}
# rc_is DESCRIPTION EXPECTED: checks $RC, showing stderr when it differs.
rc_is() {
    [ "$RC" = "$2" ] || echo "# stderr: $ERR"
    check_eq "$1 (exit code)" "$2" "$RC"
}
contains() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
not() { ! "$@"; }
