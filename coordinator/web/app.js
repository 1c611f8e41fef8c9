/*
 * app.js - jobcoord's status dashboard (read-only). Plain JavaScript, no
 * framework, no build step, nothing loaded from anywhere but the
 * coordinator that served it.
 *
 * It speaks only the coordinator's HTTP API (docs/dashboard.md):
 *   POST /v1/token   password grant to sign in, refresh_token grant to renew
 *   GET  /v1/status, /v1/workers, /v1/jobs, /v1/jobs/{id}, /v1/jobs/{id}/events,
 *        /v1/jobs/stats, /v1/commands, /v1/audit (admins only: a 403 hides it)
 *   POST /v1/revoke  on logout
 *
 * Tokens: the access token lives only in this page's memory and is renewed
 * before it expires; the refresh token is also kept in sessionStorage (this
 * tab only, gone when the tab closes) so a reload keeps the session. A 401
 * from the API ends the session. Nothing is ever put in the page as markup:
 * every value from the API (job payloads, log lines, worker names) is
 * untrusted and goes in with textContent or as an attribute value.
 *
 * Refreshing: every 2 s while the tab is visible, one round at a time; the
 * throughput figures, the commands and the audit trail every 10 s. Loads run one after another (serial()),
 * so an answer never lands on a table whose filters changed meanwhile.
 *
 * One file of about 1040 lines on purpose: the page has no build step and no
 * module loader, and everything below is one closure whose state (session,
 * filters, the round in flight) every view reads; split into several
 * scripts it would have to live in a global. Its sections, in order: DOM
 * helpers (text only), formatting, tokens, the API, rendering, loading (the
 * refresh loop), the session.
 */
'use strict';

(function () {
    const REFRESH_MS = 2000;
    const STATS_EVERY_TICKS = 5;
    const PAGE = 50;
    const MAX_SHOWN = 500; /* the API's largest page: refreshed in one request */
    const RENEW_BEFORE_MS = 60000;
    const SESSION_KEY = 'jobcoord.refresh_token';
    const STATES = ['pending', 'assigned', 'running', 'succeeded', 'failed', 'canceling', 'canceled'];
    const FINAL = new Set(['succeeded', 'failed', 'canceled']);
    const WORKER_STATES = ['online', 'draining', 'offline'];
    const COMMAND_STATUSES = ['pending', 'sent', 'acked', 'failed', 'done'];
    const OUTCOMES = ['ok', 'refused', 'error'];
    const TEXT_SHOWN_MAX = 65536;
    const HEX_SHOWN_MAX = 1024;

    const session = {
        access: null,
        accessExpiresAt: 0, /* ms, this browser's clock */
        lifetime: 0, /* ms, of the current access token */
        refresh: null,
        user: '',
        role: '',
        renewTimer: null,
        renewing: null,
        generation: 0, /* bumped when a session starts or ends: late answers are dropped */
    };
    const view = {
        timer: null,
        tick: 0,
        chain: Promise.resolve(),
        pending: false,
        jobsLimit: PAGE,
        jobsCursor: null,
        filterState: '',
        filterType: '',
        selected: null,
        selectedDone: false,
        stats60: null,
        stats3600: null,
        auditForbidden: false, /* a 403 from /v1/audit: not asked again this session */
        lastUpdate: null,
    };

    const $ = (id) => document.getElementById(id);

    /* ---- DOM helpers: text only ---- */

    // el builds an element: props sets className, text, title, dataset and
    // plain attributes; children are nodes or strings (as text nodes).
    function el(tag, props, ...children) {
        const e = document.createElement(tag);
        if (props) {
            for (const [k, v] of Object.entries(props)) {
                if (v === undefined || v === null) continue;
                if (k === 'className') e.className = v;
                else if (k === 'text') e.textContent = String(v);
                else if (k === 'title') e.title = String(v);
                else if (k === 'dataset') Object.assign(e.dataset, v);
                else e.setAttribute(k, String(v));
            }
        }
        for (const c of children) {
            if (c === null || c === undefined) continue;
            e.append(typeof c === 'string' ? document.createTextNode(c) : c);
        }
        return e;
    }

    function setText(node, s) {
        const t = s === null || s === undefined ? '' : String(s);
        if (node.textContent !== t) node.textContent = t;
    }

    function setTitle(node, s) {
        const t = s === null || s === undefined ? '' : String(s);
        if (node.title !== t) node.title = t;
    }

    function show(node, visible) {
        node.hidden = !visible;
    }

    // emptyRow is the single row a table shows when it has nothing to list.
    function emptyRow(cols, text) {
        return el('tr', { className: 'empty' }, el('td', { colspan: cols, text }));
    }

    // syncRows makes tbody list items in order, reusing the row of each key
    // (so focus, selection and hover survive a refresh) and moving a row only
    // when it is out of place.
    function syncRows(tbody, items, key, build, update, cols, emptyText) {
        const rows = new Map();
        for (const tr of Array.from(tbody.children)) {
            if (tr.dataset.key !== undefined) rows.set(tr.dataset.key, tr);
            else tr.remove();
        }
        let next = tbody.firstElementChild;
        for (const item of items) {
            const k = key(item);
            let tr = rows.get(k);
            if (!tr) {
                tr = build(item);
                tr.dataset.key = k;
            }
            rows.delete(k);
            update(tr, item);
            if (tr === next) next = next.nextElementSibling;
            else tbody.insertBefore(tr, next);
        }
        for (const tr of rows.values()) tr.remove();
        if (items.length === 0) tbody.append(emptyRow(cols, emptyText));
    }

    /* ---- formatting ---- */

    function parseTime(iso) {
        if (typeof iso !== 'string') return NaN;
        return Date.parse(iso);
    }

    function ago(iso) {
        const t = parseTime(iso);
        if (Number.isNaN(t)) return '—';
        const s = Math.floor((Date.now() - t) / 1000);
        if (s < 1) return 'just now';
        if (s < 60) return s + ' s ago';
        if (s < 3600) return Math.floor(s / 60) + ' min ago';
        if (s < 86400) return Math.floor(s / 3600) + ' h ago';
        return Math.floor(s / 86400) + ' d ago';
    }

    function localTime(iso) {
        const t = parseTime(iso);
        if (Number.isNaN(t)) return '—';
        const d = new Date(t);
        const pad = (n, w = 2) => String(n).padStart(w, '0');
        const time = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) +
            '.' + pad(d.getMilliseconds(), 3);
        const today = new Date();
        if (d.toDateString() === today.toDateString()) return time;
        return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + time;
    }

    function duration(seconds) {
        if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '—';
        const s = Math.floor(seconds);
        const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
        const m = Math.floor((s % 3600) / 60), r = s % 60;
        if (d) return d + ' d ' + h + ' h';
        if (h) return h + ' h ' + m + ' min';
        if (m) return m + ' min ' + r + ' s';
        return r + ' s';
    }

    function millis(ms) {
        if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
        if (ms < 1000) return Math.round(ms) + ' ms';
        if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
        return duration(ms / 1000);
    }

    function num(n) {
        return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : '—';
    }

    function orDash(v) {
        return v === null || v === undefined || v === '' ? '—' : String(v);
    }

    function stateClass(s) {
        return 'badge state-' + (STATES.includes(s) || WORKER_STATES.includes(s) ? s : 'unknown');
    }

    // bytesView shows decoded base64 as text when it is printable UTF-8,
    // else as a hex dump of its start.
    function bytesView(b64) {
        if (b64 === null || b64 === undefined) return { text: '(none)', note: '' };
        let bin;
        try {
            bin = atob(b64);
        } catch (e) {
            return { text: '(not valid base64)', note: '' };
        }
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        if (bytes.length === 0) return { text: '(empty)', note: '' };
        try {
            const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
            // eslint-disable-next-line no-control-regex
            if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s)) {
                if (s.length > TEXT_SHOWN_MAX)
                    return { text: s.slice(0, TEXT_SHOWN_MAX), note: 'text, first ' + num(TEXT_SHOWN_MAX) + ' characters shown' };
                return { text: s, note: 'text' };
            }
        } catch (e) {
            /* not UTF-8: hex below */
        }
        const n = Math.min(bytes.length, HEX_SHOWN_MAX);
        const lines = [];
        for (let off = 0; off < n; off += 16) {
            const chunk = Array.from(bytes.slice(off, Math.min(off + 16, n)));
            lines.push(off.toString(16).padStart(6, '0') + '  ' +
                chunk.map((b) => b.toString(16).padStart(2, '0')).join(' '));
        }
        return { text: lines.join('\n'), note: 'binary' + (n < bytes.length ? ', first ' + num(n) + ' bytes shown' : '') };
    }

    /* ---- tokens ---- */

    class ApiError extends Error {
        constructor(status, code, message) {
            super(message);
            this.status = status;
            this.code = code;
        }
    }

    function claimsOf(jwt) {
        try {
            const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
            return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
        } catch (e) {
            return {};
        }
    }

    async function readJson(res) {
        try {
            return await res.json();
        } catch (e) {
            return null;
        }
    }

    // form POSTs an application/x-www-form-urlencoded body to path.
    async function postForm(path, params) {
        try {
            return await fetch(path, {
                method: 'POST',
                body: new URLSearchParams(params),
                cache: 'no-store',
                credentials: 'omit',
                redirect: 'error',
            });
        } catch (e) {
            throw new ApiError(0, 'network', 'the coordinator cannot be reached');
        }
    }

    async function tokenRequest(params) {
        const res = await postForm('/v1/token', params);
        const body = await readJson(res);
        if (!res.ok || !body || typeof body.access_token !== 'string') {
            const code = (body && body.error) || 'http_' + res.status;
            const text = (body && (body.error_description || body.message || body.error)) || 'HTTP ' + res.status;
            throw new ApiError(res.status, code, text);
        }
        return body;
    }

    function takeTokens(t) {
        const lifetime = Math.max(10, Number(t.expires_in) || 300) * 1000;
        const claims = claimsOf(t.access_token); /* for display only: the server decides */
        session.access = t.access_token;
        session.accessExpiresAt = Date.now() + lifetime;
        session.lifetime = lifetime;
        session.user = typeof claims.sub === 'string' ? claims.sub : '';
        session.role = typeof claims.role === 'string' ? claims.role : '';
        if (typeof t.refresh_token === 'string') {
            session.refresh = t.refresh_token;
            try {
                sessionStorage.setItem(SESSION_KEY, t.refresh_token);
            } catch (e) {
                /* storage disabled: the session lasts as long as the page */
            }
        }
        clearTimeout(session.renewTimer);
        // a minute before it expires, or at 80% of a short lifetime
        const renewIn = Math.max(lifetime - RENEW_BEFORE_MS, lifetime * 0.8);
        session.renewTimer = setTimeout(() => renew().catch(() => {}), renewIn);
    }

    // renew trades the refresh token for a new access token (and a new
    // refresh token: they rotate). One at a time; a refusal ends the session,
    // a network error is retried by the next call.
    function renew() {
        if (session.renewing) return session.renewing;
        if (!session.refresh) {
            endSession('Your session has ended: sign in again.');
            return Promise.reject(new ApiError(401, 'no_session', 'not signed in'));
        }
        const gen = session.generation;
        session.renewing = tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refresh })
            .then((t) => {
                if (gen === session.generation) takeTokens(t);
            })
            .catch((e) => {
                if (gen === session.generation) {
                    if (e.status >= 400 && e.status < 500) endSession('Your session has ended: sign in again.');
                    else session.renewTimer = setTimeout(() => renew().catch(() => {}), 5000);
                }
                throw e;
            })
            .finally(() => {
                session.renewing = null;
            });
        return session.renewing;
    }

    async function revoke(token, hint) {
        try {
            await postForm('/v1/revoke', { token, token_type_hint: hint });
        } catch (e) {
            /* the access token expires on its own; nothing else to do */
        }
    }

    /* ---- the API ---- */

    async function api(path) {
        if (!session.access) throw new ApiError(401, 'no_session', 'not signed in');
        // the timer renews first; this covers a timer that slept (a laptop's lid)
        if (session.accessExpiresAt - Date.now() < Math.min(30000, session.lifetime / 4)) await renew();
        const gen = session.generation;
        let res;
        try {
            res = await fetch(path, {
                headers: { Authorization: 'Bearer ' + session.access, Accept: 'application/json' },
                cache: 'no-store',
                credentials: 'omit',
                redirect: 'error',
            });
        } catch (e) {
            throw new ApiError(0, 'network', 'the coordinator cannot be reached');
        }
        const body = await readJson(res);
        if (gen !== session.generation) throw new ApiError(0, 'stale', 'the session changed');
        if (res.status === 401) {
            endSession('Your session has ended: sign in again.');
            throw new ApiError(401, 'unauthorized', 'not signed in');
        }
        if (!res.ok || body === null) {
            throw new ApiError(res.status, (body && body.error) || 'http_' + res.status,
                (body && body.message) || 'HTTP ' + res.status);
        }
        return body;
    }

    function jobPath(id, suffix) {
        return '/v1/jobs/' + encodeURIComponent(id) + (suffix || '');
    }

    // filterKey names the job filters an answer was asked for, so an answer
    // to filters since changed is dropped.
    function filterKey() {
        return view.filterState + '\u0000' + view.filterType;
    }

    function jobsPath(limit, cursor) {
        const q = new URLSearchParams();
        if (view.filterState) q.set('state', view.filterState);
        if (view.filterType) q.set('type', view.filterType);
        q.set('limit', String(limit));
        if (cursor) q.set('cursor', cursor);
        return '/v1/jobs?' + q.toString();
    }

    // serial runs fn after every load queued before it.
    function serial(fn) {
        const run = view.chain.then(fn, fn);
        view.chain = run.catch(() => {});
        return run;
    }

    /* ---- rendering ---- */

    function renderStatus(s) {
        setText($('hdr-version'), s.version ? 'v' + s.version : '');
        setText($('sum-uptime'), duration(s.uptime_s));
        setText($('sum-instance'), s.instance ? 'instance ' + s.instance : '');
        const ing = s.ingest || {};
        setText($('sum-lag'), ing.lag === null || ing.lag === undefined ? '—' : num(ing.lag));
        const parts = [];
        parts.push(ing.caught_up ? 'caught up' : 'catching up');
        parts.push(num(ing.assigned_partitions) + ' partitions');
        parts.push(num(ing.applied_total) + ' applied');
        parts.push(num(ing.rejected_total) + ' rejected');
        setText($('sum-ingest'), parts.join(' · '));
        $('sum-lag').dataset.caughtUp = ing.caught_up ? 'true' : 'false';
        renderCounts($('sum-workers'), WORKER_STATES, s.workers || {}, 'workers');
        renderCounts($('sum-jobs'), STATES, s.jobs || {}, 'jobs');
        renderRejections(Array.isArray(s.rejections) ? s.rejections : []);
        /* what the operator should fix (e.g. a Kafka cluster without authentication) */
        const warnings = Array.isArray(s.warnings) ? s.warnings : [];
        setText($('warnings'), warnings.join(' '));
        $('warnings').hidden = warnings.length === 0;
    }

    function renderCounts(box, names, counts, what) {
        if (box.children.length !== names.length) {
            box.replaceChildren(...names.map((n) =>
                el('span', { className: 'count', dataset: { testid: what + '-' + n } },
                    el('span', { className: stateClass(n), text: n }), el('span', { className: 'n' }))));
        }
        names.forEach((n, i) => setText(box.children[i].lastChild, num(counts[n] || 0)));
    }

    function renderRejections(list) {
        syncRows($('rejections-body'), list, (r) => r.topic + '\u0000' + r.reason,
            () => el('tr', { 'data-testid': 'rejection-row' },
                el('td', { className: 'mono' }), el('td'), el('td', { className: 'num' }), el('td')),
            (tr, r) => {
                const c = tr.children;
                setText(c[0], r.topic);
                setText(c[1], r.reason);
                setText(c[2], num(r.count));
                setText(c[3], ago(r.last_at));
                setTitle(c[3], r.last_at);
            }, 4, 'No rejected messages.');
    }

    function renderWorkers(ws) {
        const list = Array.isArray(ws.workers) ? ws.workers : [];
        syncRows($('workers-body'), list, (w) => w.id,
            () => el('tr', { 'data-testid': 'worker-row' },
                el('td', { className: 'mono' }), el('td'), el('td'), el('td', { className: 'num' }),
                el('td'), el('td'), el('td')),
            (tr, w) => {
                const c = tr.children;
                tr.dataset.workerId = w.id;
                tr.dataset.status = w.status;
                setText(c[0], w.id);
                if (!c[1].firstChild) c[1].append(el('span'), el('span', { className: 'muted drain' }));
                c[1].firstChild.className = stateClass(w.status);
                setText(c[1].firstChild, w.status);
                setText(c[1].lastChild, w.drain_requested && w.status !== 'draining' ? ' drain requested' : '');
                setText(c[2], Array.isArray(w.capabilities) && w.capabilities.length ? w.capabilities.join(', ') : '—');
                setText(c[3], num(w.running_jobs) + ' / ' + num(w.slots));
                c[3].classList.toggle('full', w.slots > 0 && w.running_jobs >= w.slots);
                setText(c[4], ago(w.last_seen_at));
                setTitle(c[4], w.last_seen_at);
                setText(c[5], orDash(w.version));
                setText(c[6], orDash(w.host));
                setTitle(c[6], w.uptime_s !== undefined ? 'up ' + duration(w.uptime_s) : '');
            }, 7, 'No workers have reported yet.');
        // old offline records the API left out (GET /v1/workers, hidden_offline)
        const hidden = Number.isInteger(ws.hidden_offline) && ws.hidden_offline > 0 ? ws.hidden_offline : 0;
        setText($('workers-hidden'), hidden ? num(hidden) + ' offline worker' + (hidden === 1 ? '' : 's') +
            ' not seen for a day ' + (hidden === 1 ? 'is' : 'are') + ' not listed' : '');
        show($('workers-hidden'), hidden > 0);
    }

    function buildJobRow() {
        const tr = el('tr', { className: 'clickable', tabindex: '0', 'data-testid': 'job-row' },
            el('td', { className: 'mono' }), el('td'), el('td'), el('td', { className: 'mono' }),
            el('td', { className: 'num' }), el('td'), el('td'), el('td'));
        tr.children[1].append(el('span'));
        tr.children[2].append(el('span'));
        tr.children[5].append(el('progress', { max: '100' }), el('span', { className: 'pct' }));
        return tr;
    }

    function updateJobRow(tr, j) {
        const c = tr.children;
        tr.dataset.jobId = j.id;
        tr.dataset.state = j.state;
        tr.dataset.type = j.type;
        tr.classList.toggle('selected', j.id === view.selected);
        setText(c[0], String(j.id).slice(0, 8));
        setTitle(c[0], j.id);
        setText(c[1].firstChild, j.type);
        c[2].firstChild.className = stateClass(j.state);
        setText(c[2].firstChild, j.state);
        setTitle(c[2], j.waiting_reason || j.error || j.cancel_reason || '');
        tr.classList.toggle('waiting', Boolean(j.waiting_reason));
        setText(c[3], orDash(j.worker));
        setText(c[4], num(j.attempt) + ' / ' + num(j.max_attempts));
        const bar = c[5].firstChild;
        const hasProgress = typeof j.progress === 'number' && !FINAL.has(j.state);
        show(bar, hasProgress);
        if (hasProgress) bar.value = j.progress;
        setText(c[5].lastChild, hasProgress ? ' ' + j.progress + '%' : '—');
        setText(c[6], ago(j.created_at));
        setTitle(c[6], j.created_at);
        setText(c[7], ago(j.updated_at));
        setTitle(c[7], j.updated_at);
    }

    function renderJobs(list, nextCursor) {
        syncRows($('jobs-body'), list, (j) => j.id, buildJobRow, updateJobRow, 8,
            view.filterState || view.filterType ? 'No jobs match these filters.' : 'No jobs yet.');
        view.jobsCursor = nextCursor || null;
        const shown = $('jobs-body').querySelectorAll('tr[data-job-id]').length;
        setText($('jobs-shown'), shown ? 'newest ' + num(shown) + (nextCursor ? ', more available' : '') : '');
        show($('jobs-more'), Boolean(nextCursor) && shown < MAX_SHOWN);
    }

    function renderJob(j) {
        setText($('job-detail-id'), j.id);
        const fields = [
            ['State', j.state], ['Waiting', orDash(j.waiting_reason)], ['Type', j.type], ['Submitter', j.submitter], ['Worker', orDash(j.worker)],
            ['Attempt', num(j.attempt) + ' of ' + num(j.max_attempts)], ['Refusals', num(j.refusals)],
            ['Priority', num(j.priority)],
            ['Progress', typeof j.progress === 'number' ? j.progress + '%' : '—'],
            ['Error', orDash(j.error)], ['Cancel reason', orDash(j.cancel_reason)],
            ['Idempotency key', orDash(j.idempotency_key)], ['Timeout', millis(j.timeout_ms)],
            ['Created', localTime(j.created_at)], ['Run after', localTime(j.run_after)],
            ['Assigned', localTime(j.assigned_at)], ['Started', localTime(j.started_at)],
            ['Finished', localTime(j.finished_at)], ['Updated', localTime(j.updated_at)],
        ];
        const dl = $('job-fields');
        if (dl.children.length !== fields.length * 2) {
            dl.replaceChildren(...fields.flatMap(([k]) => [el('dt', { text: k }),
                el('dd', { dataset: { testid: 'job-field-' + k.toLowerCase().replace(/ /g, '-') } })]));
        }
        fields.forEach(([, v], i) => setText(dl.children[i * 2 + 1], v));
        const stateNode = dl.children[1];
        stateNode.className = stateClass(j.state);
        stateNode.dataset.state = j.state;

        const p = bytesView(j.payload_base64);
        setText($('job-payload'), p.text);
        setText($('job-payload-size'), '(' + num(j.payload_size) + ' bytes' + (p.note ? ', ' + p.note : '') + ')');
        const r = bytesView(j.result_base64);
        setText($('job-result'), j.result_base64 === null || j.result_base64 === undefined ? '(none)' : r.text);
        setText($('job-result-size'), j.result_size === null || j.result_size === undefined ? ''
            : '(' + num(j.result_size) + ' bytes' + (r.note ? ', ' + r.note : '') + ')');
    }

    function renderEvents(evs) {
        const list = Array.isArray(evs.events) ? evs.events : [];
        syncRows($('job-events-body'), list, (e) => String(e.id),
            () => el('tr', { 'data-testid': 'event-row' },
                el('td', { className: 'mono' }), el('td', { className: 'num' }), el('td'), el('td'),
                el('td', { className: 'mono' }), el('td', { className: 'text' })),
            (tr, e) => {
                const c = tr.children;
                tr.dataset.kind = e.kind;
                setText(c[0], localTime(e.at));
                setTitle(c[0], e.at);
                setText(c[1], num(e.attempt));
                setText(c[2], e.kind);
                let change = '';
                if (e.kind === 'state') change = (e.from || '∅') + ' → ' + (e.to || '∅');
                else if (e.kind === 'progress') change = typeof e.progress === 'number' ? e.progress + '%' : '';
                else if (e.kind === 'log') change = e.stream || '';
                setText(c[3], change);
                setText(c[4], orDash(e.worker));
                setText(c[5], e.text === null || e.text === undefined ? '' : e.text);
            }, 6, 'No events.');

        const logs = list.filter((e) => e.kind === 'log');
        const box = $('job-logs');
        if (logs.length === 0) {
            box.replaceChildren(el('p', { className: 'muted', text: 'No log lines.' }));
            return;
        }
        box.replaceChildren(...logs.map((e) => el('div', {
            className: 'log-line ' + (e.stream === 'stderr' ? 'stderr' : 'stdout'),
            dataset: { testid: 'log-line', stream: String(e.stream || '') },
        },
        el('span', { className: 'log-time', text: localTime(e.at) }),
        el('span', { className: 'log-stream', text: orDash(e.stream) }),
        el('span', { className: 'log-text', text: e.text === null || e.text === undefined ? '' : e.text }))));
    }

    function renderStats() {
        const byType = new Map();
        const add = (stats, key) => {
            for (const t of (stats && Array.isArray(stats.types) ? stats.types : [])) {
                if (!byType.has(t.type)) byType.set(t.type, { type: t.type });
                byType.get(t.type)[key] = t;
            }
        };
        add(view.stats60, 'm1');
        add(view.stats3600, 'h1');
        const rows = Array.from(byType.values()).sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
        syncRows($('stats-body'), rows, (r) => r.type,
            () => el('tr', { 'data-testid': 'stats-row' }, el('td'), ...Array.from({ length: 8 }, () => el('td', { className: 'num' }))),
            (tr, r) => {
                const c = tr.children;
                const h = r.h1 || {};
                tr.dataset.type = r.type;
                setText(c[0], r.type);
                setText(c[1], num(r.m1 ? r.m1.total : 0));
                setText(c[2], ((h.total || 0) / 60).toFixed(2));
                setText(c[3], num(h.succeeded || 0));
                setText(c[4], num(h.failed || 0));
                setText(c[5], num(h.canceled || 0));
                setText(c[6], typeof h.success_rate === 'number' ? (h.success_rate * 100).toFixed(1) + '%' : '—');
                setText(c[7], h.duration_ms ? millis(h.duration_ms.p50) : '—');
                setText(c[8], h.duration_ms ? millis(h.duration_ms.p99) : '—');
            }, 9, 'No jobs finished in the last hour.');
        const subs = view.stats3600 && Array.isArray(view.stats3600.submitters) ? view.stats3600.submitters : [];
        syncRows($('submitters-body'), subs, (s) => s.submitter,
            () => el('tr', { 'data-testid': 'submitter-row' }, el('td'), ...Array.from({ length: 6 }, () => el('td', { className: 'num' }))),
            (tr, s) => {
                const c = tr.children;
                tr.dataset.submitter = s.submitter;
                setText(c[0], s.submitter);
                setText(c[1], num(s.succeeded || 0));
                setText(c[2], num(s.failed || 0));
                setText(c[3], num(s.canceled || 0));
                setText(c[4], typeof s.success_rate === 'number' ? (s.success_rate * 100).toFixed(1) + '%' : '—');
                setText(c[5], s.duration_ms ? millis(s.duration_ms.p50) : '—');
                setText(c[6], s.duration_ms ? millis(s.duration_ms.p99) : '—');
            }, 7, 'No jobs finished in the last hour.');

        const total = (s) => (s && Array.isArray(s.types) ? s.types.reduce((n, t) => n + (t.total || 0), 0) : 0);
        setText($('sum-rate'), view.stats60 ? num(total(view.stats60)) : '–');
        setText($('sum-rate-sub'), view.stats3600 ? (total(view.stats3600) / 60).toFixed(2) + ' / min over the last hour' : '');
        const dl = $('known-types');
        const types = rows.map((r) => r.type);
        if (dl.children.length !== types.length || types.some((t, i) => dl.children[i].value !== t))
            dl.replaceChildren(...types.map((t) => el('option', { value: t })));
    }

    // renderCommands lists the outbox's newest commands (GET /v1/commands).
    function renderCommands(list) {
        syncRows($('commands-body'), list, (c) => c.id,
            () => el('tr', { 'data-testid': 'command-row' }, el('td', { className: 'mono' }), el('td'), el('td', { className: 'mono' }),
                el('td', {}, el('span')), el('td', { className: 'num' }), el('td'), el('td', { className: 'error-text' })),
            (tr, c) => {
                const td = tr.children;
                tr.dataset.commandId = c.id;
                tr.dataset.kind = c.kind;
                tr.dataset.status = c.status;
                setText(td[0], String(c.id).slice(0, 8));
                setTitle(td[0], c.id + (c.job_id ? ' (job ' + c.job_id + ')' : ''));
                setText(td[1], c.kind);
                setText(td[2], c.recipient);
                td[3].firstChild.className = 'badge state-' + (COMMAND_STATUSES.includes(c.status) ? c.status : 'unknown');
                setText(td[3].firstChild, c.status);
                setText(td[4], num(c.tries));
                setText(td[5], ago(c.created_at));
                setTitle(td[5], c.created_at);
                setText(td[6], orDash(c.error));
                setTitle(td[6], c.error || '');
            }, 7, 'No commands.');
    }

    // renderAudit lists the audit trail's newest entries (GET /v1/audit).
    function renderAudit(list) {
        syncRows($('audit-body'), list, (a) => String(a.id),
            () => el('tr', { 'data-testid': 'audit-row' }, el('td'), el('td'), el('td', { className: 'mono' }), el('td'), el('td', {}, el('span'))),
            (tr, a) => {
                const td = tr.children;
                tr.dataset.auditId = String(a.id);
                tr.dataset.action = a.action;
                tr.dataset.outcome = a.outcome;
                setText(td[0], localTime(a.at));
                setTitle(td[0], a.at);
                setText(td[1], a.actor);
                setTitle(td[1], a.actor_kind + (a.address ? ' from ' + a.address : ''));
                setText(td[2], a.action);
                setTitle(td[2], a.detail || '');
                setText(td[3], orDash(a.target));
                td[4].firstChild.className = 'badge state-' + (OUTCOMES.includes(a.outcome) ? a.outcome : 'unknown');
                setText(td[4].firstChild, a.outcome);
            }, 5, 'No audit entries.');
    }

    function setBanner(text) {
        setText($('banner'), text || '');
        show($('banner'), Boolean(text));
    }

    function setLive() {
        const live = $('live');
        const paused = document.hidden;
        live.classList.toggle('paused', paused);
        setText(live, paused ? 'paused' : 'live');
        const when = view.lastUpdate ? 'updated ' + localTime(view.lastUpdate.toISOString()) : 'not updated yet';
        setText($('footer'), when + (paused ? ' · paused while this tab is hidden' : ' · refreshing every 2 s'));
    }

    function explain(e) {
        if (e.status === 0) return 'The coordinator cannot be reached; retrying.';
        if (e.status === 503) return 'The coordinator cannot reach PostgreSQL; retrying.';
        if (e.status === 403) return 'Your role may not read this (' + e.message + ').';
        return 'Error ' + e.status + ': ' + e.message;
    }

    /* ---- loading ---- */

    async function loadSelected() {
        const id = view.selected;
        if (!id) return;
        const [job, events] = await Promise.all([api(jobPath(id)), api(jobPath(id, '/events'))]);
        if (view.selected !== id) return;
        renderJob(job);
        renderEvents(events);
        // a finished job changes no more: one last load after it ended
        view.selectedDone = FINAL.has(job.state);
        show($('job-detail'), true);
    }

    // refreshAll reloads what the page shows; the first error is thrown
    // after every part had its chance.
    async function refreshAll() {
        const withStats = view.tick % STATS_EVERY_TICKS === 0;
        view.tick++;
        const limit = Math.min(Math.max(view.jobsLimit, PAGE), MAX_SHOWN);
        const key = filterKey();
        const tasks = [
            api('/v1/status').then(renderStatus),
            api('/v1/workers').then(renderWorkers),
            api(jobsPath(limit)).then((a) => {
                if (key === filterKey()) renderJobs(Array.isArray(a.jobs) ? a.jobs : [], a.next_cursor);
            }),
        ];
        if (withStats) {
            tasks.push(Promise.all([api('/v1/jobs/stats?window=60'), api('/v1/jobs/stats?window=3600')])
                .then(([m1, h1]) => {
                    view.stats60 = m1;
                    view.stats3600 = h1;
                    renderStats();
                }));
            tasks.push(api('/v1/commands?limit=' + PAGE).then((a) => renderCommands(Array.isArray(a.commands) ? a.commands : [])));
            if (!view.auditForbidden) {
                // admins only: a reader's 403 hides the panel, and is no error
                tasks.push(api('/v1/audit?limit=' + PAGE).then((a) => {
                    renderAudit(Array.isArray(a.entries) ? a.entries : []);
                    show($('audit-panel'), true);
                }, (e) => {
                    if (e.status !== 403) throw e;
                    view.auditForbidden = true;
                    show($('audit-panel'), false);
                    $('audit-body').replaceChildren();
                }));
            }
        }
        if (view.selected && !view.selectedDone) tasks.push(loadSelected());
        const results = await Promise.allSettled(tasks);
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        view.lastUpdate = new Date();
    }

    function schedule(delay) {
        clearTimeout(view.timer);
        view.timer = null;
        if (!session.access || document.hidden) return;
        view.timer = setTimeout(tick, delay);
    }

    // tick runs one refresh round now (after any load in progress), then
    // schedules the next.
    function tick() {
        clearTimeout(view.timer);
        view.timer = null;
        if (view.pending) return view.chain;
        view.pending = true;
        const gen = session.generation;
        return serial(async () => {
            view.pending = false;
            if (gen !== session.generation || !session.access) return;
            try {
                await refreshAll();
                if (gen === session.generation) setBanner(null);
            } catch (e) {
                if (gen === session.generation && e.status !== 401 && e.code !== 'stale') setBanner(explain(e));
            } finally {
                if (gen === session.generation) {
                    setLive();
                    schedule(REFRESH_MS);
                }
            }
        });
    }

    function loadMore() {
        const gen = session.generation;
        return serial(async () => {
            if (!view.jobsCursor || gen !== session.generation) return;
            const shown = $('jobs-body').querySelectorAll('tr[data-job-id]').length;
            const key = filterKey();
            try {
                const a = await api(jobsPath(Math.min(PAGE, MAX_SHOWN - shown), view.jobsCursor));
                if (gen !== session.generation || key !== filterKey()) return;
                const current = Array.from($('jobs-body').querySelectorAll('tr[data-job-id]'));
                const byId = new Map(current.map((tr) => [tr.dataset.jobId, tr]));
                const more = (Array.isArray(a.jobs) ? a.jobs : []).filter((j) => !byId.has(j.id));
                const body = $('jobs-body');
                for (const j of more) {
                    const tr = buildJobRow();
                    tr.dataset.key = j.id;
                    updateJobRow(tr, j);
                    body.append(tr);
                }
                view.jobsLimit = shown + more.length;
                view.jobsCursor = a.next_cursor || null;
                const total = shown + more.length;
                setText($('jobs-shown'), 'newest ' + num(total) + (view.jobsCursor ? ', more available' : ''));
                show($('jobs-more'), Boolean(view.jobsCursor) && total < MAX_SHOWN);
            } catch (e) {
                if (e.status !== 401 && e.code !== 'stale') setBanner(explain(e));
            }
        });
    }

    function selectJob(id) {
        view.selected = id;
        view.selectedDone = false;
        for (const tr of $('jobs-body').querySelectorAll('tr[data-job-id]'))
            tr.classList.toggle('selected', tr.dataset.jobId === id);
        $('job-events-body').replaceChildren();
        $('job-logs').replaceChildren();
        $('job-fields').replaceChildren();
        setText($('job-detail-id'), id);
        const gen = session.generation;
        serial(async () => {
            if (gen !== session.generation) return;
            try {
                await loadSelected();
                $('job-detail').scrollIntoView({ block: 'nearest' });
            } catch (e) {
                if (e.status === 404) {
                    setBanner('That job is gone (pruned).');
                    closeJob();
                } else if (e.status !== 401 && e.code !== 'stale') {
                    setBanner(explain(e));
                }
            }
        });
    }

    function closeJob() {
        view.selected = null;
        view.selectedDone = false;
        show($('job-detail'), false);
        for (const tr of $('jobs-body').querySelectorAll('tr.selected')) tr.classList.remove('selected');
    }

    /* ---- session ---- */

    function resetView() {
        clearTimeout(view.timer);
        view.timer = null;
        view.tick = 0;
        view.jobsLimit = PAGE;
        view.jobsCursor = null;
        view.selected = null;
        view.selectedDone = false;
        view.stats60 = null;
        view.stats3600 = null;
        view.auditForbidden = false;
        view.lastUpdate = null;
        for (const id of ['workers-body', 'jobs-body', 'stats-body', 'submitters-body', 'rejections-body', 'commands-body', 'audit-body', 'job-events-body',
            'job-logs', 'job-fields', 'sum-workers', 'sum-jobs'])
            $(id).replaceChildren();
        show($('job-detail'), false);
        show($('jobs-more'), false);
        show($('workers-hidden'), false);
        show($('audit-panel'), false);
        setBanner(null);
    }

    function startDashboard() {
        resetView();
        setText($('session-user'), session.user + (session.role ? ' (' + session.role + ')' : ''));
        show($('login-view'), false);
        show($('session'), true);
        show($('dashboard'), true);
        tick();
    }

    // endSession forgets every token and shows the sign-in form with message.
    function endSession(message) {
        session.generation++;
        session.access = null;
        session.refresh = null;
        session.accessExpiresAt = 0;
        clearTimeout(session.renewTimer);
        try {
            sessionStorage.removeItem(SESSION_KEY);
        } catch (e) {
            /* nothing stored */
        }
        resetView();
        show($('dashboard'), false);
        show($('session'), false);
        show($('login-view'), true);
        loginError(message || null);
        $('login-password').value = '';
        $('login-totp').value = '';
        ($('login-username').value ? $('login-password') : $('login-username')).focus();
    }

    function loginError(text) {
        setText($('login-error'), text || '');
        show($('login-error'), Boolean(text));
    }

    async function onLogin(ev) {
        ev.preventDefault();
        const username = $('login-username').value.trim();
        const password = $('login-password').value;
        const code = $('login-totp').value.trim();
        if (!username || !password) {
            loginError('Enter your username and password.');
            return;
        }
        if (code && !/^[0-9]{6}$/.test(code)) {
            loginError('The TOTP code is 6 digits.');
            return;
        }
        const params = { grant_type: 'password', username, password };
        if (code) params.totp = code;
        const button = $('login-submit');
        button.disabled = true;
        loginError(null);
        try {
            const t = await tokenRequest(params);
            $('login-password').value = '';
            $('login-totp').value = '';
            session.generation++;
            takeTokens(t);
            startDashboard();
        } catch (e) {
            $('login-password').value = '';
            $('login-totp').value = '';
            loginError(e.status === 0 ? 'The coordinator cannot be reached.' : 'Sign-in failed: ' + e.message + '.');
            $('login-password').focus();
        } finally {
            button.disabled = false;
        }
    }

    async function onLogout() {
        const access = session.access;
        const refresh = session.refresh;
        $('logout').disabled = true;
        /* no more loads start, and none in flight lands */
        session.generation++;
        session.access = null;
        clearTimeout(view.timer);
        clearTimeout(session.renewTimer);
        await Promise.all([refresh && revoke(refresh, 'refresh_token'), access && revoke(access, 'access_token')]);
        $('logout').disabled = false;
        endSession('You are signed out.');
    }

    // resume reopens the session of this tab after a reload, from the
    // refresh token kept in sessionStorage.
    async function resume() {
        let stored = null;
        try {
            stored = sessionStorage.getItem(SESSION_KEY);
        } catch (e) {
            stored = null;
        }
        if (!stored) {
            endSession(null);
            return;
        }
        session.refresh = stored;
        show($('login-view'), false);
        try {
            await renew();
            startDashboard();
        } catch (e) {
            if (session.access === null && e.status === 0) endSession('The coordinator cannot be reached.');
            else if (!session.access) endSession('Your session has ended: sign in again.');
        }
    }

    function onJobsClick(ev) {
        const tr = ev.target.closest('tr[data-job-id]');
        if (tr) selectJob(tr.dataset.jobId);
    }

    function onJobsKey(ev) {
        if (ev.key !== 'Enter' && ev.key !== ' ') return;
        const tr = ev.target.closest('tr[data-job-id]');
        if (!tr) return;
        ev.preventDefault();
        selectJob(tr.dataset.jobId);
    }

    function onFilter(ev) {
        if (ev) ev.preventDefault();
        const st = $('filter-state').value;
        view.filterState = STATES.includes(st) ? st : '';
        view.filterType = $('filter-type').value.trim();
        view.jobsLimit = PAGE;
        view.jobsCursor = null;
        $('jobs-body').replaceChildren();
        setText($('jobs-shown'), '');
        show($('jobs-more'), false);
        tick();
    }

    function onVisibility() {
        if (!session.access) return;
        if (document.hidden) {
            clearTimeout(view.timer);
            view.timer = null;
            setLive();
        } else {
            tick();
        }
    }

    document.addEventListener('DOMContentLoaded', () => {
        $('login-form').addEventListener('submit', onLogin);
        $('logout').addEventListener('click', onLogout);
        $('jobs-filter').addEventListener('submit', onFilter);
        $('filter-state').addEventListener('change', onFilter);
        $('jobs-more').addEventListener('click', loadMore);
        $('jobs-body').addEventListener('click', onJobsClick);
        $('jobs-body').addEventListener('keydown', onJobsKey);
        $('job-detail-close').addEventListener('click', closeJob);
        document.addEventListener('visibilitychange', onVisibility);
        resume();
    });
})();
