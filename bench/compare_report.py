#!/usr/bin/env python3
"""compare_report.py - the figures of bench/compare: reads the KEY=VALUE
lines each round printed (peer.*, compare.* and jobcoord.* in
$WORK/peer-R.txt and $WORK/jobcoord-R.txt), prints both systems' figures
side by side with their ratios (ranges over the rounds), and writes them
into $OUT between the COMPARE markers, leaving the rest of the page alone.
Run by bench/compare, which sets the environment it reads."""
import os
import re
import sys

BEGIN = "<!-- BEGIN COMPARE (written by bench/compare) -->"
END = "<!-- END COMPARE -->"
env = os.environ
work, rounds, n = env["WORK"], int(env["ROUNDS"]), int(env["N"])
rate, duration = int(env["RATE"]), int(env["DURATION"])


def read(path):
    vals = {}
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"^(peer|compare|jobcoord)\.([a-z0-9_]+)=(-?[0-9.]+)$", line.strip())
                if m:
                    vals[m.group(2)] = float(m.group(3))
    except FileNotFoundError:
        pass
    return vals


peer = [read(f"{work}/peer-{r}.txt") for r in range(1, rounds + 1)]
jc = [read(f"{work}/jobcoord-{r}.txt") for r in range(1, rounds + 1)]


def fmt(v, kind):
    if v is None or v < 0:
        return "n/a"
    if kind == "rate":
        return f"{v:,.0f}"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "int":
        return f"{v:,.0f}"
    return f"{v:.1f}"


def span(values, kind):
    values = [v for v in values if v is not None and v >= 0]
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    if fmt(lo, kind) == fmt(hi, kind):
        return fmt(lo, kind)
    return f"{fmt(lo, kind)} to {fmt(hi, kind)}"


def col(rows, key, scale=1.0):
    return [r[key] * scale if key in r and r[key] >= 0 else None for r in rows]


def ratio(a, b):
    return [x / y if x is not None and y not in (None, 0) else None for x, y in zip(a, b)]


def total(rows, k1, k2):
    return [r[k1] + r[k2] if k1 in r and k2 in r else None for r in rows]


lines = []
add = lines.append
figs = []  # (label, peer values, jobcoord values, kind, ratio wanted)
figs.append(("enqueue N jobs, jobs/s", col(peer, "enqueue_rate"), col(jc, "enqueue_rate"), "rate", True))
figs.append(("drain N jobs, workers started afterwards, jobs/s", col(peer, "drain_rate"), col(jc, "drain_rate"), "rate", True))
figs.append(("first job started after the workers start, ms", col(peer, "drain_first_start_ms"), col(jc, "drain_first_assign_ms"), "ms", True))
for step, name in (("fresh", "fresh database"), ("after", "right after the drain")):
    for q in ("p50", "p99"):
        figs.append((f"{rate}/s, {name}: add/submit to start (assigned), {q} ms",
                     col(peer, f"{step}_started_{q}_ms"), col(jc, f"{step}_assigned_{q}_ms"), "ms", True))
    for q in ("p50", "p99"):
        figs.append((f"{rate}/s, {name}: submit to completed (client told), {q} ms",
                     [None] * rounds, col(jc, f"{step}_completed_{q}_ms"), "ms", False))
for q in ("p50", "p99"):
    figs.append((f"backlog: {q} to start after the drain / on the fresh database",
                 ratio(col(peer, f"after_started_{q}_ms"), col(peer, f"fresh_started_{q}_ms")),
                 ratio(col(jc, f"after_assigned_{q}_ms"), col(jc, f"fresh_assigned_{q}_ms")), "ratio", False))
figs.append(("row writes per job, enqueue", col(peer, "enqueue_writes_per_job"), col(jc, "enqueue_writes_per_job"), "ms", True))
figs.append(("row writes per job, drain", col(peer, "drain_writes_per_job"), col(jc, "drain_writes_per_job"), "ms", True))
figs.append(("row writes per job, in all", total(peer, "enqueue_writes_per_job", "drain_writes_per_job"),
             total(jc, "enqueue_writes_per_job", "drain_writes_per_job"), "ms", True))
figs.append(("jobs not completed (both rate steps; jobcoord waits 15 s after the last submission)",
             [sum(r.get(k, 0) for k in ("fresh_incomplete", "after_incomplete")) if r else None for r in peer],
             [sum(r.get(k, 0) for k in ("fresh_incomplete", "after_incomplete")) if r else None for r in jc],
             "int", False))
figs.append(("drain: tasks run more than once (graphile-worker); assign commands or updates delivered again and dropped by the receiver (jobcoord)",
             col(peer, "drain_duplicates"), col(jc, "drain_duplicates"), "int", False))

add(BEGIN)
add("")
add(f"## Side by side with graphile-worker (`bench/compare`)")
add("")
add(f"- date: {env['STARTED']}; commit {env['COMMIT']}; {rounds} round(s), graphile-worker first in each, "
    "ranges are the lowest to the highest round")
add(f"- machine: {env['MACHINE']}; PostgreSQL, Kafka, the coordinator or the peer's workers, "
    "and the load all share its CPUs")
add(f"- one private {env['PG_SETTINGS']}; a database of its own for each system and round")
if env.get("FSYNC_RATE"):
    add(f"- the disk: `pg_test_fsync`, one 8 kB write and fdatasync, {float(env['FSYNC_RATE']):,.0f} per second "
        "(each durable commit waits for at least one such flush)")
if env.get("LOAD_BEFORE"):
    add(f"- load average (1, 5, 15 min) before the run {env['LOAD_BEFORE']}, after it {env['LOAD_AFTER']}: "
        "other work on the machine competes with both systems when these are well above 0")
add(f"- graphile-worker {env['GW_VERSION']}, batched: concurrency 10, localQueue.size 200, "
    "completeJobBatchDelay 0; enqueue through `addJobs()`, 1,000 jobs a call")
add(f"- jobcoord {env['JC_VERSION']}: the coordinator with `ingest.batch_max_messages=10000` and "
    f"`kafka.fetch_wait_max_ms={env['FETCH_WAIT']}`, the mock Kafka cluster in its own process "
    "(8 partitions), signed messages, 20 no-op workers of 256 slots and 4 clients from "
    "`jobcoord-bench --scenarios compare`; enqueue is one signed `job.submit` per job")
add(f"- N = {n:,} no-op jobs; rate steps: {rate} jobs/s for {duration} s with the workers idle, "
    "every job counted; `VACUUM ANALYZE` before enqueue, drain and the step after the drain")
add("")
add("| figure | graphile-worker | jobcoord | jobcoord / graphile-worker |")
add("| --- | --- | --- | --- |")
for label, p, j, kind, want_ratio in figs:
    label = label.replace("N jobs", f"{n:,} jobs")
    r = span(ratio(j, p), "ratio") if want_ratio else ""
    add(f"| {label} | {span(p, kind)} | {span(j, kind)} | {r} |")
add("")
add("Of the coordinator alone (the process; PostgreSQL and Kafka are not in these):")
add("")
add("| figure | jobcoord |")
add("| --- | --- |")
add(f"| idle CPU, % of one core ({env['IDLE_S']} s after start), `kafka.fetch_wait_max_ms` at its default | {span(col(jc, 'idle_cpu_pct_default'), 'ms')} |")
add(f"| idle CPU, % of one core, `kafka.fetch_wait_max_ms=10` | {span(col(jc, 'idle_cpu_pct_10'), 'ms')} |")
add(f"| idle CPU, % of one core, as run here (`{env['FETCH_WAIT']}`) | {span(col(jc, 'idle_cpu_pct_run'), 'ms')} |")
add(f"| CPU time per job, enqueue / drain, ms | {span(col(jc, 'enqueue_cpu_ms_per_job'), 'ratio')} / {span(col(jc, 'drain_cpu_ms_per_job'), 'ratio')} |")
add(f"| peak RSS (VmHWM) at the end, MiB | {span(col(jc, 'peak_rss_kb', 1 / 1024), 'ms')} |")
add(f"| graphile-worker's worker process idle, % of one core (for reference) | {span(col(peer, 'idle_cpu_pct'), 'ms')} |")
add("")
add("Enqueue: graphile-worker's figure is N over the wall time of its `addJobs()` calls; "
    "jobcoord's is N over the time from the first `job.submit` produced to the coordinator's "
    "commit of the last. Drain: from the start of the workers (graphile-worker's `run()`, "
    "jobcoord's workers' first heartbeat) to the last completion committed (graphile-worker's "
    "jobs table empty; every jobcoord client told its job succeeded). Start: graphile-worker's "
    "task begins; jobcoord's worker holds the assign command. Row writes: rows inserted, "
    "updated and deleted in every table (`pg_stat_user_tables`) over the phase, divided by N.")
if env.get("FLAME_SVG"):
    add("")
    add(f"Where the coordinator's CPU time goes during the drain (`perf record --call-graph dwarf`, round 1; "
        "the wider a frame, the more samples it was on the stack of):")
    add("")
    add(f"![flame graph of the coordinator during the drain]({os.path.basename(env['FLAME_SVG'])})")
add("")
add(END)
block = "\n".join(lines) + "\n"
print(block)

out = env.get("OUT", "")
if out:
    try:
        with open(out) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Performance\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(out, "w") as f:
        f.write(text)
    print(f"compare: figures written to {out}", file=sys.stderr)
