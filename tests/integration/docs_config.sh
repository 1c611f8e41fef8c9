#!/usr/bin/env bash
# docs_config: docs/configuration.md carries exactly the table of keys the
# code knows (jobcoord --config-reference), and the example config file
# passes the daemon's own validation.
set -u
BIN=$JC_BUILD_DIR/coordinator
pass=0
fail=0
ref=$(mktemp)
doc=$(mktemp)
"$BIN/jobcoord" --config-reference >"$ref"
sed -n '/<!-- BEGIN CONFIG REFERENCE -->/,/<!-- END CONFIG REFERENCE -->/p' \
    "$JC_SOURCE_DIR/docs/configuration.md" | sed '1d;$d' >"$doc"
if diff -u "$doc" "$ref"; then
    echo "ok - docs/configuration.md matches the code's table of keys"
    pass=$((pass + 1))
else
    echo "not ok - docs/configuration.md differs from 'jobcoord --config-reference' (diff above)"
    fail=$((fail + 1))
fi
if "$BIN/jobcoord" -c "$JC_SOURCE_DIR/config/jobcoord.conf.example" --check-config >/dev/null; then
    echo "ok - config/jobcoord.conf.example is valid"
    pass=$((pass + 1))
else
    echo "not ok - config/jobcoord.conf.example does not validate"
    fail=$((fail + 1))
fi
out=$(printf 'ingest = { batch_max_msgs = 5; };\n' >"$ref.conf"; "$BIN/jobcoord" -c "$ref.conf" --check-config 2>&1)
rc=$?
if [ $rc -eq 100 ] && echo "$out" | grep -q "ingest.batch_max_msgs"; then
    echo "ok - an unknown key is refused with its name (exit 100)"
    pass=$((pass + 1))
else
    echo "not ok - unknown key: exit $rc, output: $out"
    fail=$((fail + 1))
fi
rm -f "$ref" "$doc" "$ref.conf"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
