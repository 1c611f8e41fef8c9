// dashboard.mjs - drives the coordinator's status dashboard in Debian's
// chromium (playwright-core, no downloaded browser) the way an operator
// would: sign in (a wrong password first), see an old offline worker left
// out of the workers table and counted under it, watch a worker come online, jobs
// run and finish, open a job's details, events and logs, filter, page, read
// the commands and the audit trail, and sign out; then sign in as a reader,
// who sees the commands but not the audit trail. Checks that the page talks only to its own origin and only to
// the documented API, that data is rendered as text (a job payload holding
// markup stays text, and so do commands and audit entries holding it), that the access token is renewed before it expires,
// that a 401 sends the page back to the sign-in form, that refreshing
// pauses while the tab is hidden, and that logging out revokes the tokens.
//
// The bash side (tests/integration/dashboard.sh) owns the processes; at
// each step that needs one, this script writes HOOKS/<name>.ready and waits
// for HOOKS/<name>.done (whose text is the step's answer, e.g. job ids).
//
//   node dashboard.mjs --url URL --user U --password P --hooks DIR
//        --screenshot FILE [--chromium /usr/bin/chromium] [--worker ID]
//        [--wrong-password P] [--access-ttl S] [--reader U --reader-password P]
//
// Prints "ok - ..." / "not ok - ..." lines; exit 0 when every check passed,
// 1 when one failed, 3 when the browser cannot start.
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

function parseArgs(argv) {
    const a = {
        chromium: '/usr/bin/chromium', worker: 'dash-w1', 'wrong-password': 'not-the-password-123',
        'access-ttl': '0',
    };
    for (let i = 2; i < argv.length; i += 2) {
        if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
            console.error('usage: node dashboard.mjs --url URL --user U --password P --hooks DIR --screenshot FILE');
            process.exit(100);
        }
        a[argv[i].slice(2)] = argv[i + 1];
    }
    for (const k of ['url', 'user', 'password', 'hooks', 'screenshot']) {
        if (!a[k]) {
            console.error(`dashboard.mjs: --${k} is required`);
            process.exit(100);
        }
    }
    return a;
}

const args = parseArgs(process.argv);
const BASE = args.url.replace(/\/+$/, '');
const ORIGIN = new URL(BASE).origin;
let passed = 0;
let failed = 0;

function ok(cond, what, detail) {
    if (cond) {
        passed++;
        console.log(`ok - ${what}`);
    } else {
        failed++;
        console.log(`not ok - ${what}${detail !== undefined ? ` (${detail})` : ''}`);
    }
    return Boolean(cond);
}

// poll calls fn until it returns something truthy, or timeoutMs passes
// (then returns the last value).
async function poll(fn, timeoutMs = 20000, everyMs = 150) {
    const end = Date.now() + timeoutMs;
    let v;
    for (;;) {
        try {
            v = await fn();
        } catch (e) {
            v = undefined;
        }
        if (v || Date.now() > end) return v;
        await sleep(everyMs);
    }
}

// hook hands a step to the bash side and returns its answer.
async function hook(name, timeoutMs = 120000) {
    const done = join(args.hooks, `${name}.done`);
    writeFileSync(join(args.hooks, `${name}.tmp`), String(Date.now()));
    renameSync(join(args.hooks, `${name}.tmp`), join(args.hooks, `${name}.ready`));
    const end = Date.now() + timeoutMs;
    while (!existsSync(done)) {
        if (Date.now() > end) throw new Error(`the test script did not finish step '${name}'`);
        await sleep(100);
    }
    return readFileSync(done, 'utf8').trim();
}

async function postForm(path, params) {
    const res = await fetch(BASE + path, { method: 'POST', body: new URLSearchParams(params) });
    let body = null;
    try {
        body = await res.json();
    } catch (e) {
        body = null;
    }
    return { status: res.status, body };
}

// The routes the page may use (docs/dashboard.md); anything else is a bug.
const ALLOWED = [
    ['GET', /^\/$/], ['GET', /^\/ui\/(index\.html|app\.js|app\.css)$/],
    ['POST', /^\/v1\/token$/], ['POST', /^\/v1\/revoke$/],
    ['GET', /^\/v1\/status$/], ['GET', /^\/v1\/workers$/], ['GET', /^\/v1\/workers\/[^/]+$/],
    ['GET', /^\/v1\/jobs$/], ['GET', /^\/v1\/jobs\/stats$/], ['GET', /^\/v1\/jobs\/[0-9a-f-]{36}$/],
    ['GET', /^\/v1\/jobs\/[0-9a-f-]{36}\/events$/],
    ['GET', /^\/v1\/commands$/], ['GET', /^\/v1\/audit$/],
];

async function main() {
    let browser;
    try {
        browser = await chromium.launch({
            executablePath: args.chromium,
            args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
            timeout: 60000,
        });
    } catch (e) {
        console.log(`not ok - chromium starts (${args.chromium})`);
        // the error's first line and what the browser wrote on stderr, not its command line
        // eslint-disable-next-line no-control-regex
        const lines = String(e.message).replace(/\u001b\[[0-9;]*m/g, '').split('\n');
        const said = [...new Set(lines.filter((l) => /\[err\]/.test(l)).map((l) => l.replace(/^.*\[err\]\s*/, '')))].slice(0, 8);
        console.log(`# the browser could not start: ${lines[0]}`);
        for (const l of said) console.log(`#   chromium: ${l}`);
        console.log('# scripts/bootstrap --test installs Debian\'s chromium; check that it runs: chromium --headless=new --no-sandbox --dump-dom about:blank');
        process.exit(3);
    }
    ok(true, `chromium ${browser.version()} starts`);
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, colorScheme: 'light' });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);

    // what the page does on the network
    const requests = [];
    const problems = [];
    const unauthorized = [];
    const forbidden = [];
    page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), post: r.postData() || '', t: Date.now() }));
    page.on('response', (r) => {
        if (r.status() === 401) unauthorized.push(r.url());
        if (r.status() === 403) forbidden.push({ url: r.url(), t: Date.now() });
    });
    page.on('console', (m) => {
        const t = m.text();
        if (/Content Security Policy|Refused to/i.test(t)) problems.push(`console: ${t}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await context.addInitScript(() => {
        window.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
    });
    const apiCalls = (path, since = 0) =>
        requests.filter((r) => r.t >= since && new URL(r.url).pathname === path).length;

    try {
        await run(page, requests, apiCalls, unauthorized, forbidden);
    } catch (e) {
        ok(false, 'the browser checks ran to the end', e.message.split('\n')[0]);
        try {
            await page.screenshot({ path: args.screenshot.replace(/\.png$/, '-failure.png'), fullPage: true });
            console.log(`# failure screenshot: ${args.screenshot.replace(/\.png$/, '-failure.png')}`);
        } catch (e2) {
            /* nothing more to show */
        }
    }

    // ---- whole-session checks ----
    const foreign = requests.filter((r) => !r.url.startsWith(ORIGIN + '/') && !r.url.startsWith('data:'));
    ok(foreign.length === 0, `every request (${requests.length}) went to the coordinator's origin ${ORIGIN}`,
        foreign.slice(0, 3).map((r) => r.url).join(', '));
    const undocumented = requests.filter((r) => !r.url.startsWith('data:') &&
        !ALLOWED.some(([m, re]) => m === r.method && re.test(new URL(r.url).pathname)));
    ok(undocumented.length === 0, 'the page used only the documented API routes',
        undocumented.slice(0, 3).map((r) => `${r.method} ${new URL(r.url).pathname}`).join(', '));
    let csp = [];
    try {
        csp = await page.evaluate(() => window.__csp || []);
    } catch (e) {
        csp = [];
    }
    ok(problems.length === 0 && csp.length === 0, 'no script errors and no Content-Security-Policy violations',
        problems.concat(csp).slice(0, 3).join(' | '));

    await browser.close();
    console.log(`# browser: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

async function run(page, requests, apiCalls, unauthorized, forbidden) {
    const q = (sel) => page.locator(sel);
    const text = async (sel) => ((await q(sel).first().textContent()) || '').trim();
    const count = (sel) => q(sel).count();
    const visible = (sel) => q(sel).first().isVisible();
    const jobRow = (id) => `tr[data-testid="job-row"][data-job-id="${id}"]`;
    const workerRow = `tr[data-testid="worker-row"][data-worker-id="${args.worker}"]`;

    // ---- the page and its headers ----
    const resp = await page.goto(BASE + '/');
    ok(resp && resp.status() === 200, 'GET / answers 200');
    const h = resp ? resp.headers() : {};
    ok(/script-src 'self'/.test(h['content-security-policy'] || '') &&
        /frame-ancestors 'none'/.test(h['content-security-policy'] || ''), 'the page is served with its CSP');
    ok((await page.title()) === 'jobcoord', 'the page title is jobcoord');

    // ---- sign in ----
    await q('#login-form').waitFor({ state: 'visible' });
    ok(await visible('#login-username') && await visible('#login-password') && await visible('#login-totp'),
        'the sign-in form shows username, password and TOTP fields');
    ok((await q('#login-password').getAttribute('type')) === 'password', 'the password field hides its text');
    ok(!(await visible('#dashboard')), 'nothing of the dashboard shows before signing in');

    await q('#login-username').fill(args.user);
    await q('#login-password').fill(args['wrong-password']);
    await q('#login-submit').click();
    await q('#login-error').waitFor({ state: 'visible' });
    const err = await text('#login-error');
    ok(/invalid username or password/.test(err), 'a wrong password shows the error', err);
    ok(!(await visible('#dashboard')), 'and the dashboard stays hidden');
    ok((await q('#login-password').inputValue()) === '', 'the password field is cleared after a failure');

    await q('#login-password').fill(args.password);
    await q('#login-submit').click();
    await q('#dashboard').waitFor({ state: 'visible' });
    ok(true, 'the right password opens the dashboard');
    ok((await text('#session-user')).startsWith(args.user), 'the header names the signed-in user', await text('#session-user'));
    const store = await page.evaluate(() => ({
        session: Object.keys(sessionStorage), local: localStorage.length, cookie: document.cookie,
        rt: sessionStorage.getItem('jobcoord.refresh_token') || '',
    }));
    ok(store.session.length === 1 && store.rt.length > 10 && store.local === 0 && store.cookie === '',
        'only the refresh token is stored, in sessionStorage (no cookie, no localStorage)', JSON.stringify(store.session));
    const loginAt = Date.now();

    // ---- the header, with no worker yet ----
    const readyz = await (await fetch(BASE + '/readyz')).json();
    ok(await poll(async () => (await text('#hdr-version')) === 'v' + readyz.version), 'the header shows the version', await text('#hdr-version'));
    ok(await poll(async () => /\d+ s|min|h/.test(await text('#sum-uptime'))), 'the header shows the uptime', await text('#sum-uptime'));
    ok(await poll(async () => /^\d+$|^—$/.test(await text('#sum-lag')) && /partitions/.test(await text('#sum-ingest'))),
        'the header shows the ingest lag', `${await text('#sum-lag')} ${await text('#sum-ingest')}`);
    ok(await poll(async () => (await text('[data-testid="workers-online"] .n')) === '0'), 'zero workers online');
    ok(await poll(async () => (await count('tr[data-testid="worker-row"]')) === 0 &&
        /No workers/.test(await text('#workers-body'))), 'the workers table is empty and says so');
    ok(await poll(async () => await q('[data-testid="workers-hidden"]').isVisible() &&
        (await text('[data-testid="workers-hidden"]')) === '1 offline worker not seen for a day is not listed'),
        'the offline worker not seen for two days is left out, and the line under the table counts it',
        await text('[data-testid="workers-hidden"]'));
    ok(await poll(async () => (await text('[data-testid="jobs-succeeded"] .n')) === '0'), 'zero jobs succeeded');

    // ---- a worker comes online ----
    await hook('start-worker');
    ok(await poll(async () => (await count(`${workerRow}[data-status="online"]`)) === 1, 30000),
        `worker ${args.worker} appears online in the table without a reload`);
    const wcells = await q(`${workerRow} td`).allTextContents();
    ok(/echo/.test(wcells[2]) && /fail/.test(wcells[2]), 'its capabilities are listed', wcells[2]);
    ok(/^\d+ \/ 2$/.test(wcells[3]), 'slots in use are shown as running/slots', wcells[3]);
    ok(/s ago|just now/.test(wcells[4]), 'the last heartbeat is shown as a time ago', wcells[4]);
    ok(await poll(async () => (await text('[data-testid="workers-online"] .n')) === '1'), 'the header counts one worker online');

    // ---- jobs ----
    const ids = JSON.parse(await hook('submit'));
    ok(await poll(async () => (await count(`${jobRow(ids.echo)}[data-state="succeeded"]`)) === 1, 30000),
        'the echo job reaches succeeded in the jobs table');
    ok(await poll(async () => (await count(`${jobRow(ids.fail)}[data-state="failed"]`)) === 1, 30000),
        'the failing job reaches failed');
    ok(await poll(async () => (await count(`${jobRow(ids.sleep)}[data-state="running"]`)) === 1, 30000),
        'the long job shows running');
    ok(await poll(async () => (await q(`${jobRow(ids.sleep)} progress`).isVisible()), 10000),
        'a running job shows its progress bar');
    ok(await poll(async () => Number(await text('[data-testid="jobs-succeeded"] .n')) >= 2), 'the header counts the succeeded jobs');

    await q(jobRow(ids.echo)).click();
    await q('#job-detail').waitFor({ state: 'visible' });
    ok((await text('#job-detail-id')) === ids.echo, 'clicking a job opens its details');
    ok(await poll(async () => (await text('[data-testid="job-field-state"]')) === 'succeeded'), 'the details show its state');
    ok(await poll(async () => (await text('#job-payload')) === 'hello from the dashboard test'), 'and its payload as text', await text('#job-payload'));
    ok(await poll(async () => (await text('#job-result')) === 'hello from the dashboard test'), 'and its result');
    ok(await poll(async () => (await count('tr[data-testid="event-row"][data-kind="state"]')) >= 3),
        'its events are listed', String(await count('tr[data-testid="event-row"]')));
    const changes = (await q('tr[data-testid="event-row"][data-kind="state"] td:nth-child(4)').allTextContents()).join(' | ');
    ok(/→ succeeded/.test(changes) && /→ running/.test(changes), 'the state changes read from → to', changes);
    ok(await q(`${jobRow(ids.echo)}.selected`).count() === 1, 'the selected job is highlighted');

    await q(jobRow(ids.fail)).click();
    ok(await poll(async () => (await text('#job-detail-id')) === ids.fail &&
        (await text('[data-testid="job-field-error"]')) === 'failed on request'), 'a failed job shows its error');
    ok(await poll(async () => (await count('[data-testid="log-line"][data-stream="stderr"]')) >= 1), 'and its log lines');
    const logText = await text('[data-testid="log-line"]');
    ok(/stderr/.test(logText) && /failing on request/.test(logText), 'a log line shows its stream and text', logText);

    // markup in a payload stays text
    await q(jobRow(ids.markup)).click();
    ok(await poll(async () => (await text('#job-detail-id')) === ids.markup &&
        (await text('#job-payload')) === ids.markupPayload), 'a payload holding markup is shown as text, as is', await text('#job-payload'));
    const injected = await page.evaluate(() => ({
        imgs: document.querySelectorAll('img, script:not([src]), iframe').length, pwned: window.__pwned === 1,
    }));
    ok(injected.imgs === 0 && !injected.pwned, 'and nothing of it became an element or ran', JSON.stringify(injected));

    // throughput and rejections
    // (the figures are read every 10 s)
    const statsRow = 'tr[data-testid="stats-row"][data-type="echo"]';
    ok(await poll(async () => (await count(statsRow)) === 1, 25000), 'throughput lists the echo type');
    const statsOk = (c) => Number(c[1]) >= 2 && /^\d+\.\d\d$/.test(c[2]) && Number(c[3]) >= 2 &&
        c[6] === '100.0%' && /\d+ ms|\d s/.test(c[7]) && /\d+ ms|\d s/.test(c[8]);
    ok(await poll(async () => statsOk(await q(`${statsRow} td`).allTextContents()), 25000),
        'with jobs finished in the last minute, per minute, success rate, p50 and p99',
        (await q(`${statsRow} td`).allTextContents()).join(' | '));
    const subRow = 'tr[data-testid="submitter-row"][data-submitter="dash-client"]';
    ok(await poll(async () => (await count(subRow)) === 1, 25000), 'the submitters table lists the client');
    ok(await poll(async () => {
        const c = await q(`${subRow} td`).allTextContents();
        return Number(c[1]) >= 2 && Number(c[2]) >= 1;
    }, 25000), 'with its succeeded and failed jobs of the last hour', (await q(`${subRow} td`).allTextContents()).join(' | '));
    ok(await poll(async () => Number(await text('#sum-rate')) >= 3, 25000),
        'the header shows the jobs finished in the last minute', await text('#sum-rate'));
    ok(await poll(async () => (await count('tr[data-testid="rejection-row"]')) >= 1, 15000), 'a rejected message is counted');
    const rej = await q('tr[data-testid="rejection-row"] td').allTextContents();
    ok(/heartbeats/.test(rej[0]) && Number(rej[2]) >= 1, 'with its topic, reason and count', rej.join(' | '));

    // the screenshot for the docs: the failed job open, with its log
    await q(jobRow(ids.fail)).click();
    await poll(async () => (await count('[data-testid="log-line"]')) >= 1);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: args.screenshot, fullPage: true });
    ok(existsSync(args.screenshot), `the screenshot is saved (${args.screenshot})`);
    await q('#job-detail-close').click();
    ok(!(await visible('#job-detail')), 'the details close');

    // ---- filters ----
    await q('#filter-state').selectOption('failed');
    ok(await poll(async () => {
        const states = await q('tr[data-testid="job-row"]').evaluateAll((rs) => rs.map((r) => r.dataset.state));
        return states.length >= 1 && states.every((s) => s === 'failed');
    }), 'filtering by state failed lists only failed jobs');
    ok(await count(jobRow(ids.fail)) === 1 && await count(jobRow(ids.echo)) === 0, 'the failed job is there, the echo job is not');
    await q('#filter-state').selectOption('');
    await q('#filter-type').fill('echo');
    await q('#filter-type').press('Enter');
    ok(await poll(async () => {
        const types = await q('tr[data-testid="job-row"]').evaluateAll((rs) => rs.map((r) => r.dataset.type));
        return types.length >= 2 && types.every((t) => t === 'echo');
    }), 'filtering by type echo lists only echo jobs');
    const since = Date.now();
    await sleep(2500);
    ok(requests.some((r) => r.t >= since && /\/v1\/jobs\?/.test(r.url) && /type=echo/.test(r.url)),
        'the filters stay applied when the table refreshes');
    await q('#filter-type').fill('');
    await q('#filter-type').press('Enter');
    ok(await poll(async () => (await count('tr[data-testid="job-row"]')) >= 4), 'clearing the filters lists every job again');
    await q('#filter-state').selectOption('canceled');
    ok(await poll(async () => /No jobs match/.test(await text('#jobs-body'))), 'a filter matching nothing says so');
    await q('#filter-state').selectOption('');

    // ---- pagination: more than one page of jobs ----
    const many = Number(await hook('submit-many'));
    ok(await poll(async () => (await count('tr[data-testid="job-row"]')) === 50 && await visible('#jobs-more'), 20000),
        'the jobs table shows the newest 50 and a More button', String(await count('tr[data-testid="job-row"]')));
    const total = 4 + many;
    await q('#jobs-more').click();
    ok(await poll(async () => (await count('tr[data-testid="job-row"]')) === total && !(await visible('#jobs-more'))),
        `More loads the next page through next_cursor (${total} jobs, no More after the last)`,
        String(await count('tr[data-testid="job-row"]')));
    ok(requests.some((r) => /\/v1\/jobs\?.*cursor=/.test(r.url)), 'the next page was asked for with the cursor');
    await sleep(2500);
    ok((await count('tr[data-testid="job-row"]')) === total, 'the loaded pages stay after a refresh');
    const dups = await q('tr[data-testid="job-row"]').evaluateAll((rs) => rs.length - new Set(rs.map((r) => r.dataset.jobId)).size);
    ok(dups === 0, 'no job is listed twice');

    // ---- commands and the audit trail (read every 10 s) ----
    await hook('commands');
    const cmdRow = (kind) => `tr[data-testid="command-row"][data-kind="${kind}"]`;
    ok(await poll(async () => (await count(cmdRow('drain'))) >= 1 && (await count(cmdRow('undrain'))) >= 1, 25000),
        'the commands panel lists the drain and undrain commands without a reload');
    const dc = await q(cmdRow('drain')).first().locator('td').allTextContents();
    ok(/^[0-9a-f]{8}$/.test(dc[0]) && dc[1] === 'drain' && dc[2] === args.worker &&
        ['pending', 'sent', 'acked', 'done'].includes(dc[3]) && /^\d+$/.test(dc[4]) && /s ago|just now|min ago/.test(dc[5]) &&
        dc[6] === '—', 'a command shows its short id, kind, recipient, status, tries, age and no error', dc.join(' | '));
    ok(await count(`${cmdRow('assign')} td:nth-child(3)`) >= 1 &&
        (await q(`${cmdRow('assign')} td:nth-child(3)`).allTextContents()).every((w) => w === args.worker),
        'the jobs\' assign commands are listed, to the worker');
    const nCmd = await count('tr[data-testid="command-row"]');
    ok(nCmd === 50, 'the newest 50 commands are shown', String(nCmd));
    ok(await poll(async () => await visible('#audit-panel'), 15000), 'an admin sees the audit panel');
    const auditRow = (action, outcome) => `tr[data-testid="audit-row"][data-action="${action}"][data-outcome="${outcome}"]`;
    ok(await poll(async () => (await count(auditRow('worker.drain', 'ok'))) >= 1, 25000), 'the audit panel lists the drain');
    const ac = await q(auditRow('worker.drain', 'ok')).first().locator('td').allTextContents();
    ok(/^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d\.\d{3}$/.test(ac[0]) && /@/.test(ac[1]) && ac[2] === 'worker.drain' &&
        ac[3] === args.worker && ac[4] === 'ok', 'with when, actor (user@host of the CLI), action, target and outcome', ac.join(' | '));
    ok(await count(auditRow('auth.login.password', 'refused')) >= 1, 'and the refused sign-in with the wrong password');
    const slow = apiCalls('/v1/commands', loginAt);
    const fast = apiCalls('/v1/status', loginAt);
    ok(slow >= 1 && slow <= Math.ceil(fast / 5) + 1 && Math.abs(apiCalls('/v1/audit', loginAt) - slow) <= 1,
        `commands and audit are read every 10 s, not every 2 s (${slow} reads each, ${fast} status reads)`);

    // hostile content in commands and audit entries stays text
    const CMDS = /\/v1\/commands\?/;
    const AUDIT = /\/v1\/audit\?/;
    const MARK = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    const now = new Date().toISOString();
    await page.route(CMDS, (route) => route.fulfill({
        status: 200, contentType: 'application/json', body: JSON.stringify({
            commands: [{
                id: '00000000-0000-4000-8000-000000000001', kind: MARK, recipient: MARK, job_id: null, attempt: null,
                status: MARK, tries: 1, created_at: now, sent_at: null, acked_at: null, next_send_at: now, error: MARK,
                resent_from: null,
            }],
        }),
    }));
    await page.route(AUDIT, (route) => route.fulfill({
        status: 200, contentType: 'application/json', body: JSON.stringify({
            entries: [{
                id: 1, at: now, actor_kind: 'principal', actor: MARK, action: MARK, target: MARK, outcome: MARK,
                address: MARK, detail: MARK,
            }], next_cursor: null,
        }),
    }));
    ok(await poll(async () => {
        const c = await q('tr[data-testid="command-row"] td').allTextContents();
        const a = await q('tr[data-testid="audit-row"] td').allTextContents();
        return c.length === 7 && c[1] === MARK && c[2] === MARK && c[3] === MARK && c[6] === MARK &&
            a.length === 5 && a[1] === MARK && a[2] === MARK && a[3] === MARK && a[4] === MARK;
    }, 25000), 'a command and an audit entry holding markup are shown as text, as is');
    const injected2 = await page.evaluate(() => ({
        els: document.querySelectorAll('img, b, script:not([src]), iframe').length, pwned: window.__pwned === 1,
    }));
    ok(injected2.els === 0 && !injected2.pwned, 'and nothing of them became an element or ran', JSON.stringify(injected2));
    await page.unroute(CMDS);
    await page.unroute(AUDIT);
    ok(await poll(async () => (await count(cmdRow('drain'))) >= 1 && (await count('tr[data-testid="audit-row"]')) > 1, 25000),
        'the real rows come back on the next read');

    // ---- refreshing on its own, and pausing when hidden ----
    let t0 = Date.now();
    await sleep(6200);
    const n = apiCalls('/v1/status', t0);
    ok(n >= 2 && n <= 5, `the page refreshes every 2 s (${n} status reads in 6 s)`);
    await page.evaluate(() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        document.dispatchEvent(new Event('visibilitychange'));
    });
    await sleep(700); /* a round in flight ends */
    t0 = Date.now();
    await sleep(4500);
    const hiddenCalls = requests.filter((r) => r.t >= t0 && new URL(r.url).pathname.startsWith('/v1/') &&
        new URL(r.url).pathname !== '/v1/token').length;
    ok(hiddenCalls === 0, 'no refresh while the tab is hidden', String(hiddenCalls));
    ok((await text('#live')) === 'paused', 'the page says it is paused');
    t0 = Date.now();
    await page.evaluate(() => {
        delete document.hidden;
        delete document.visibilityState;
        document.dispatchEvent(new Event('visibilitychange'));
    });
    ok(await poll(async () => apiCalls('/v1/status', t0) >= 1, 3000), 'refreshing resumes when the tab shows again');
    ok(await poll(async () => (await text('#live')) === 'live', 3000), 'and the page says it is live');

    // ---- the access token is renewed before it expires ----
    const ttl = Number(args['access-ttl']);
    if (ttl > 0) {
        const waitMs = Math.max(0, loginAt + ttl * 1000 * 1.3 - Date.now());
        await sleep(waitMs);
        const renewals = requests.filter((r) => r.t >= loginAt && r.url.endsWith('/v1/token') && /grant_type=refresh_token/.test(r.post)).length;
        ok(renewals >= 1 && unauthorized.length === 0,
            `the access token (${ttl} s) is renewed before it expires: ${renewals} renewals, no 401`,
            unauthorized.slice(0, 2).join(', '));
        ok(await visible('#dashboard'), 'and the session goes on');
    }

    // ---- a reload keeps the session ----
    const rtBefore = await page.evaluate(() => sessionStorage.getItem('jobcoord.refresh_token'));
    await page.reload();
    ok(await poll(async () => await visible('#dashboard') && !(await visible('#login-view')), 10000),
        'a reload keeps the session (refresh token from sessionStorage)');
    const rtAfter = await page.evaluate(() => sessionStorage.getItem('jobcoord.refresh_token'));
    ok(rtAfter && rtAfter !== rtBefore, 'and the refresh token rotated');

    // ---- a 401 goes back to the sign-in form ----
    await page.route('**/v1/status', (route) => route.fulfill({
        status: 401, contentType: 'application/json', body: '{"error":"unauthorized","message":"test"}',
        headers: { 'WWW-Authenticate': 'Bearer realm="jobcoord", error="invalid_token"' },
    }));
    ok(await poll(async () => await visible('#login-view') && !(await visible('#dashboard')), 8000), 'a 401 from the API shows the sign-in form');
    ok(/session has ended/.test(await text('#login-error')), 'saying the session ended', await text('#login-error'));
    ok(await page.evaluate(() => sessionStorage.length === 0), 'and forgets the stored refresh token');
    await page.unroute('**/v1/status');
    // the API itself was not at fault: the refresh token left behind is still valid; revoke it
    await postForm('/v1/revoke', { token: rtAfter, token_type_hint: 'refresh_token' });

    // ---- log out ----
    await q('#login-username').fill(args.user);
    await q('#login-password').fill(args.password);
    await q('#login-submit').click();
    await q('#dashboard').waitFor({ state: 'visible' });
    await poll(async () => (await count('tr[data-testid="job-row"]')) > 0);
    const rt = await page.evaluate(() => sessionStorage.getItem('jobcoord.refresh_token'));
    await q('#logout').click();
    ok(await poll(async () => await visible('#login-view') && !(await visible('#dashboard')), 8000), 'logging out shows the sign-in form');
    ok(/signed out/.test(await text('#login-error')), 'saying so', await text('#login-error'));
    ok(await page.evaluate(() => sessionStorage.length === 0), 'no token is left in the tab');
    ok(requests.some((r) => r.url.endsWith('/v1/revoke') && r.t > loginAt), 'logging out called /v1/revoke');
    const after = await postForm('/v1/token', { grant_type: 'refresh_token', refresh_token: rt });
    ok(after.status === 400 && after.body && after.body.error === 'invalid_grant', 'the refresh token was revoked',
        `${after.status} ${JSON.stringify(after.body)}`);

    // ---- a reader: the commands, not the audit trail ----
    if (args.reader) {
        await q('#login-username').fill(args.reader);
        await q('#login-password').fill(args['reader-password']);
        const readerAt = Date.now();
        await q('#login-submit').click();
        await q('#dashboard').waitFor({ state: 'visible' });
        ok(await poll(async () => (await count('tr[data-testid="command-row"]')) >= 1, 15000), 'a reader sees the commands panel with its rows');
        ok(await poll(async () => forbidden.some((f) => f.t >= readerAt && new URL(f.url).pathname === '/v1/audit'), 15000),
            'the audit trail answers a reader 403');
        await sleep(2500); /* the next rounds */
        ok(!(await visible('#audit-panel')) && (await count('tr[data-testid="audit-row"]')) === 0, 'and the reader does not see the audit panel');
        ok(!(await visible('#banner')), 'with no error banner', await text('#banner'));
        await q('#logout').click();
        ok(await poll(async () => await visible('#login-view'), 8000), 'the reader logs out');
    }
    t0 = Date.now();
    await sleep(3000);
    ok(requests.filter((r) => r.t >= t0).length === 0, 'nothing is read after logging out');
}

main().catch((e) => {
    console.log(`not ok - dashboard.mjs: ${e.stack || e}`);
    process.exit(1);
});
