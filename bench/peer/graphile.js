'use strict';
// graphile.js - the peer half of bench/compare: graphile-worker (the
// version package-lock.json pins) measured with the same phases as
// jobcoord's compare scenario, on the same PostgreSQL (DATABASE_URL):
//
//   fresh:   a producer process adds one job per call (one transaction
//            each) at RATE jobs/s for SECONDS s while the workers idle;
//            latency = task start - the moment before the add call;
//   enqueue: N no-op jobs through addJobs() (graphile's bulk call), 1,000
//            per call, no worker running; figure = N / wall time;
//   drain:   run() starts the workers (batched mode: localQueue SIZE,
//            concurrency C); figure = N / time from run() until the jobs
//            table is empty (every completion committed);
//   after:   the fresh step again.
// VACUUM ANALYZE before enqueue, drain and after. Row writes of every
// table (pg_stat_user_tables) are counted over enqueue and drain, as for
// jobcoord. Figures are printed as "peer.KEY=VALUE" lines.
//
//   node graphile.js            run the phases
//   node graphile.js produce    (internal) the producer process
const { fork } = require('child_process');
const { run, runMigrations, makeWorkerUtils, Logger } = require('graphile-worker');
const { Pool } = require('pg');

const VERSION = require('graphile-worker/package.json').version;
const DB = process.env.DATABASE_URL;
const N = int('N', 100000);
const RATE = int('RATE', 500);
const SECONDS = int('SECONDS', 10);
const C = int('CONCURRENCY', 10);
const SIZE = int('LOCAL_QUEUE_SIZE', 200);
const CHUNK = 1000;
const STATS_SETTLE_MS = 11000; // an idle backend sends its table counters after 10 s
const IDLE_MS = 10000;

function int(name, dflt) {
  const v = process.env[name] === undefined ? dflt : Number(process.env[name]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer`);
  return v;
}

const clock = () => performance.timeOrigin + performance.now(); // ms, shared by processes
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const put = (k, v) => console.log(`peer.${k}=${Number(v).toFixed(3)}`);
const logger = new Logger(() => (level, msg) => {
  if (level === 'error' || level === 'warning') console.error(`graphile-worker ${level}: ${msg}`);
});

function quantile(sorted, q) {
  if (!sorted.length) return -1;
  return sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
}

function options(taskList) {
  return {
    connectionString: DB,
    concurrency: C,
    maxPoolSize: C + 2,
    noHandleSignals: true,
    logger,
    taskList,
    preset: { worker: { localQueue: { size: SIZE }, completeJobBatchDelay: 0 } },
  };
}

async function scalar(pool, sql) {
  const { rows } = await pool.query(sql);
  return Number(rows[0].v);
}

const pending = (pool) => scalar(pool, 'SELECT count(*) AS v FROM graphile_worker._private_jobs');

async function rowWrites(pool) {
  await sleep(STATS_SETTLE_MS);
  await pool.query('SELECT pg_stat_clear_snapshot()');
  return scalar(pool, 'SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS v FROM pg_stat_user_tables');
}

async function vacuum(pool) {
  const t = clock();
  await pool.query('VACUUM ANALYZE');
  console.error(`  (vacuum analyze: ${(clock() - t).toFixed(0)} ms)`);
}

async function waitUntil(fn, timeoutMs) {
  const until = clock() + timeoutMs;
  while (!(await fn())) {
    if (clock() > until) throw new Error('timed out');
    await sleep(10);
  }
}

// rateStep: the workers run and idle; a separate process adds RATE jobs/s.
async function rateStep(name, pool) {
  const total = RATE * SECONDS;
  const lat = [];
  let done;
  const all = new Promise((r) => (done = r));
  const runner = await run(options({
    lat: async (payload) => {
      lat.push(clock() - payload.t);
      if (lat.length === total) done();
    },
  }));
  await sleep(500); // LISTEN set up, first poll done
  const child = fork(__filename, ['produce'], { env: process.env });
  const produced = new Promise((resolve, reject) => {
    child.on('message', resolve);
    child.on('exit', (code) => code && reject(new Error(`producer exited ${code}`)));
  });
  const limit = sleep(SECONDS * 1000 + 60000).then(() => 'timeout');
  const outcome = await Promise.race([all, limit]);
  const p = await produced;
  await waitUntil(async () => (await pending(pool)) === 0, 30000).catch(() => {});
  await runner.stop();
  lat.sort((a, b) => a - b);
  const s = { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
  console.log(`${name}: offered ${RATE}/s, added ${p.added} (${p.rate.toFixed(0)}/s, errors ${p.errors}), ` +
    `started ${lat.length}${outcome === 'timeout' ? ' (timed out)' : ''}; add->start p50 ${s.p50.toFixed(1)} ms ` +
    `p99 ${s.p99.toFixed(1)} ms; add call p50 ${p.p50.toFixed(1)} ms p99 ${p.p99.toFixed(1)} ms`);
  put(`${name}_rate`, RATE);
  put(`${name}_started_p50_ms`, s.p50);
  put(`${name}_started_p99_ms`, s.p99);
  put(`${name}_incomplete`, total - lat.length);
}

// produce: the producer process of a rate step (open loop, one job per call).
async function produce() {
  const utils = await makeWorkerUtils({ connectionString: DB, logger });
  const total = RATE * SECONDS;
  const calls = [];
  const start = clock() + 20;
  let errors = 0;
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - clock();
    if (wait > 1) await sleep(wait);
    const t = clock();
    calls.push(utils.addJob('lat', { t }).then(() => clock() - t, () => { errors++; return -1; }));
  }
  const span = clock() - start;
  const rt = (await Promise.all(calls)).filter((x) => x >= 0).sort((a, b) => a - b);
  await utils.release();
  process.send({ added: total - errors, rate: total / (span / 1000), errors,
    p50: quantile(rt, 0.5), p99: quantile(rt, 0.99) }, () => process.exit(0));
}

async function main() {
  console.log(`graphile-worker ${VERSION} (node ${process.version}): batched, concurrency ${C}, ` +
    `localQueue.size ${SIZE}, completeJobBatchDelay 0; N=${N}, ${RATE} jobs/s x ${SECONDS} s`);
  await runMigrations({ connectionString: DB, logger });
  const pool = new Pool({ connectionString: DB, max: 2 });
  const utils = await makeWorkerUtils({ connectionString: DB, logger });

  // idle: a started runner with nothing to do
  const idle = await run(options({ noop: async () => {} }));
  await sleep(1000);
  const c0 = process.cpuUsage();
  await sleep(IDLE_MS);
  const c1 = process.cpuUsage(c0);
  await idle.stop();
  put('idle_cpu_pct', ((c1.user + c1.system) / 1000 / IDLE_MS) * 100);

  await rateStep('fresh', pool);

  await vacuum(pool);
  const w0 = await rowWrites(pool);
  let t = clock();
  for (let i = 0; i < N; i += CHUNK) {
    const specs = [];
    for (let k = i; k < Math.min(N, i + CHUNK); k++) specs.push({ identifier: 'noop', payload: {} });
    await utils.addJobs(specs);
  }
  const enqS = (clock() - t) / 1000;
  console.log(`enqueue: ${N} jobs in ${enqS.toFixed(2)} s = ${(N / enqS).toFixed(0)} jobs/s (addJobs, ${CHUNK} a call)`);
  const w1 = await rowWrites(pool);
  await vacuum(pool);

  let count = 0;
  let first = 0;
  t = clock();
  const runner = await run(options({
    noop: async () => {
      if (count++ === 0) first = clock() - t;
    },
  }));
  await waitUntil(async () => count >= N && (await pending(pool)) === 0, Math.max(120000, N * 5));
  const drainS = (clock() - t) / 1000;
  await runner.stop();
  console.log(`drain: ${N} jobs in ${drainS.toFixed(2)} s = ${(N / drainS).toFixed(0)} jobs/s to an empty jobs table ` +
    `(first task ${first.toFixed(0)} ms after run(); ${count} task runs)`);
  const w2 = await rowWrites(pool);

  put('n', N);
  put('enqueue_s', enqS);
  put('enqueue_rate', N / enqS);
  put('drain_s', drainS);
  put('drain_rate', N / drainS);
  put('drain_first_start_ms', first);
  put('drain_duplicates', count - N);
  put('enqueue_writes_per_job', (w1 - w0) / N);
  put('drain_writes_per_job', (w2 - w1) / N);

  await vacuum(pool);
  await rateStep('after', pool);
  put('peak_rss_kb', process.resourceUsage().maxRSS);
  await utils.release();
  await pool.end();
}

(process.argv[2] === 'produce' ? produce() : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
