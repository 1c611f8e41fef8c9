#!/usr/bin/env node
// check-answer - checks saved HTTP answers against schemas/openapi.yaml.
//
// As a library (validate-openapi.mjs and later tests import it):
//   const spec = loadSpec('schemas/openapi.yaml');
//   const checker = new AnswerChecker(spec);
//   checker.check({method, path, status, contentType, body, headers})
//     -> {ok, label, errors: [string...]}
// As a command:
//   node check-answer.mjs --spec schemas/openapi.yaml --method GET \
//       --path /v1/jobs/{id} --status 200 --content-type application/json \
//       --body-file FILE [--headers-file FILE]
//   node check-answer.mjs --spec schemas/openapi.yaml --batch FILE
// A batch FILE has one JSON object a line: {"method", "path", "status",
// "contentType", "bodyFile", "headersFile"?, "name"?, "expectStatus"?};
// relative file names are relative to the batch file's folder; blank lines
// and lines starting with # are skipped. expectStatus: the status the asker
// wanted (the answer is then wrong when it has another, even a documented one). Each answer prints one line,
// "ok - ..." or "not ok - ..." followed by the errors (indented "# " lines).
// Exit status: 0 when every answer matched, 1 when one did not, 2 on a usage
// error.
//
// `path` may be the route's template (/v1/jobs/{id}) or the path that was
// asked (/v1/jobs/6f1a...); the query string is ignored. A path that is no
// route is checked against the spec's x-jobcoord-fallback-responses
// unknownRoute answer, a route asked with a method it does not serve against
// wrongMethod, and a status the operation does not list against anyRoute. `headersFile` holds the header block as curl -D writes it:
// the headers the answer declares (Cache-Control, WWW-Authenticate, Allow,
// ...) are then checked too, and its Content-Type is used when contentType
// is not given.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const addFormats = addFormatsModule.default || addFormatsModule;

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// The id under which the spec's component schemas are registered in ajv.
const SPEC_ID = 'urn:jobcoord:openapi';
// OpenAPI keywords that are no JSON Schema validation keywords (annotations).
const OPENAPI_SCHEMA_KEYWORDS = ['discriminator', 'xml', 'externalDocs', 'example'];

// loadSpec parses an OpenAPI document (YAML or JSON). Duplicate keys and
// anything else YAML 1.2 frowns on are errors.
export function loadSpec(file) {
    const text = readFileSync(file, 'utf8');
    return parseYaml(text, { prettyErrors: true, strict: true, uniqueKeys: true });
}

// jsonPointerGet resolves a local reference ("#/a/b") in doc; undefined if absent.
export function jsonPointerGet(doc, ref) {
    if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
    const parts = ref.slice(1).split('/').slice(1)
        .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'));
    let cur = doc;
    for (const p of parts) {
        if (cur === null || typeof cur !== 'object' || !(p in cur)) return undefined;
        cur = cur[p];
    }
    return cur;
}

// deref follows $ref (of responses, parameters, headers: not schemas) until
// an object without $ref.
export function deref(doc, obj) {
    const seen = new Set();
    while (obj && typeof obj === 'object' && typeof obj.$ref === 'string') {
        if (seen.has(obj.$ref)) throw new Error(`reference loop at ${obj.$ref}`);
        seen.add(obj.$ref);
        const next = jsonPointerGet(doc, obj.$ref);
        if (next === undefined) throw new Error(`unresolved reference ${obj.$ref}`);
        obj = next;
    }
    return obj;
}

// schemaForAjv copies a schema of the spec, pointing its references to
// component schemas at SPEC_ID, where newAjv registered them.
export function schemaForAjv(schema) {
    if (Array.isArray(schema)) return schema.map(schemaForAjv);
    if (schema === null || typeof schema !== 'object') return schema;
    const out = {};
    for (const [k, v] of Object.entries(schema)) {
        if (k === '$ref' && typeof v === 'string') {
            if (!v.startsWith('#/components/schemas/'))
                throw new Error(`schema reference ${v} is not to #/components/schemas/`);
            out.$ref = SPEC_ID + '#/$defs/' + v.slice('#/components/schemas/'.length);
        } else if (k.startsWith('x-')) {
            // specification extensions are no schema keywords
        } else {
            out[k] = schemaForAjv(v);
        }
    }
    return out;
}

// newAjv returns an ajv (JSON Schema 2020-12, formats checked) holding the
// spec's component schemas. strict: also refuse unknown keywords, required
// properties that are not defined, and types that do not fit the keywords.
export function newAjv(spec, { strict = false } = {}) {
    const ajv = new Ajv2020({
        allErrors: true,
        strict: strict ? true : false,
        strictTypes: strict ? true : false,
        strictRequired: strict ? true : false,
        allowUnionTypes: true,
        validateFormats: true,
    });
    addFormats(ajv);
    for (const k of OPENAPI_SCHEMA_KEYWORDS) if (!ajv.getKeyword(k)) ajv.addKeyword(k);
    ajv.addSchema({ $id: SPEC_ID, $defs: schemaForAjv(spec.components?.schemas || {}) });
    return ajv;
}

// templateRegex turns "/v1/jobs/{id}/events" into a regex matching one
// non-empty path segment per parameter.
function templateRegex(template) {
    const re = template.split(/(\{[^}]+\})/).map((part) =>
        part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return new RegExp('^' + re.join('') + '$');
}

// parseHeaders reads a header block as curl -D writes it (the last block, if
// several) into a Map of lowercase name -> value.
export function parseHeaders(text) {
    const blocks = text.replace(/\r/g, '').split(/\n(?=HTTP\/)/);
    const headers = new Map();
    for (const line of blocks[blocks.length - 1].split('\n')) {
        const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
        if (m) {
            const name = m[1].toLowerCase();
            headers.set(name, headers.has(name) ? headers.get(name) + ', ' + m[2] : m[2]);
        }
    }
    return headers;
}

// mediaType splits "text/plain; version=0.0.4" into its type and parameters.
function mediaType(s) {
    const [type, ...params] = String(s).split(';').map((x) => x.trim());
    const p = new Map();
    for (const kv of params) {
        const i = kv.indexOf('=');
        if (i > 0) p.set(kv.slice(0, i).trim().toLowerCase(), kv.slice(i + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    return { type: type.toLowerCase(), params: p };
}

// matchContent finds the documented media type that an answer's
// Content-Type satisfies: the same type, and every parameter the document
// names (version=0.0.4) with the same value; other parameters (charset) are
// allowed.
function matchContent(content, contentType) {
    const actual = mediaType(contentType);
    for (const key of Object.keys(content)) {
        const want = mediaType(key);
        if (want.type !== actual.type && want.type !== '*/*' &&
            !(want.type.endsWith('/*') && actual.type.startsWith(want.type.slice(0, -1))))
            continue;
        let ok = true;
        for (const [k, v] of want.params) if (actual.params.get(k) !== v) ok = false;
        if (ok) return key;
    }
    return undefined;
}

// paramsText: an ajv error's parameters, when they add something short.
function paramsText(e) {
    if (!e.params || e.keyword === 'pattern' || Object.keys(e.params).length === 0) return '';
    const t = JSON.stringify(e.params);
    return ' ' + (t.length > 200 ? t.slice(0, 200) + '...' : t);
}

function isJson(type) {
    const t = mediaType(type).type;
    return t === 'application/json' || t.endsWith('+json');
}

export class AnswerChecker {
    constructor(spec) {
        this.spec = spec;
        this.ajv = newAjv(spec);
        this.validators = new Map(); // "pointer|mediaType" -> compiled schema
        this.routes = Object.keys(spec.paths || {}).map((t) => ({ template: t, re: templateRegex(t) }));
    }

    // findRoute returns the path template for a template or a concrete path:
    // an exact key first (so /v1/jobs/stats beats /v1/jobs/{id}), then the
    // template with the fewest parameters that matches.
    findRoute(path) {
        const p = String(path).split('?')[0];
        if (this.spec.paths?.[p]) return p;
        const hits = this.routes.filter((r) => r.re.test(p));
        hits.sort((a, b) => (a.template.match(/\{/g) || []).length - (b.template.match(/\{/g) || []).length);
        return hits.length ? hits[0].template : undefined;
    }

    // responseFor finds the response object that describes this answer, or
    // throws with the reason it cannot be found.
    responseFor(method, path, status) {
        const fallbacks = this.spec['x-jobcoord-fallback-responses'] || {};
        const template = this.findRoute(path);
        const m = String(method).toLowerCase();
        let where;
        let responses;
        let base;
        if (!template) {
            if (!fallbacks.unknownRoute) throw new Error(`no route matches ${path}`);
            where = `${path}, which is no route,`;
            responses = fallbacks.unknownRoute;
            base = '#/x-jobcoord-fallback-responses/unknownRoute';
        } else if (!this.spec.paths[template][m]) {
            if (!fallbacks.wrongMethod) throw new Error(`${template} has no ${method} operation`);
            where = `${template}, asked with ${String(method).toUpperCase()} which it does not serve,`;
            responses = fallbacks.wrongMethod;
            base = '#/x-jobcoord-fallback-responses/wrongMethod';
        } else {
            where = `${String(method).toUpperCase()} ${template}`;
            responses = this.spec.paths[template][m].responses || {};
            base = `#/paths/${template.replace(/~/g, '~0').replace(/\//g, '~1')}/${m}/responses`;
        }
        const s = String(status);
        let key = [s, s[0] + 'XX', 'default'].find((k) => k in responses);
        // what any route answers to a body too large
        if (!key && fallbacks.anyRoute && s in fallbacks.anyRoute) {
            responses = fallbacks.anyRoute;
            base = '#/x-jobcoord-fallback-responses/anyRoute';
            key = s;
        }
        if (!key)
            throw new Error(`${where} answered ${s}: the contract says ${Object.keys(responses).join(', ')}`);
        const pointer = responses[key].$ref || `${base}/${key}`;
        return { template, pointer, response: deref(this.spec, responses[key]) };
    }

    validatorFor(pointer, mt, schema) {
        const k = pointer + '|' + mt;
        if (!this.validators.has(k)) this.validators.set(k, this.ajv.compile(schemaForAjv(schema || {})));
        return this.validators.get(k);
    }

    // check validates one answer. body is the raw text; headers a Map (or
    // undefined: headers are not checked).
    check({ method, path, status, contentType, body, headers }) {
        if (!contentType && headers?.has('content-type')) contentType = headers.get('content-type');
        const label = `${String(method).toUpperCase()} ${path} ${status} ${contentType || ''}`.trim();
        const errors = [];
        let found;
        try {
            found = this.responseFor(method, path, status);
        } catch (e) {
            return { ok: false, label, errors: [e.message] };
        }
        const { pointer, response } = found;
        const content = response.content || {};
        if (Object.keys(content).length === 0) {
            if (body && body.length) errors.push(`an empty answer was expected, got ${body.length} bytes`);
        } else if (!contentType) {
            errors.push(`no Content-Type (the contract says ${Object.keys(content).join(' or ')})`);
        } else {
            const mt = matchContent(content, contentType);
            if (!mt) {
                errors.push(`Content-Type ${contentType} is not ${Object.keys(content).join(' or ')}`);
            } else {
                let value = body ?? '';
                let parsed = true;
                if (isJson(mt)) {
                    try {
                        value = JSON.parse(value);
                    } catch (e) {
                        errors.push(`the body is not JSON: ${e.message}`);
                        parsed = false;
                    }
                }
                if (parsed) {
                    const validate = this.validatorFor(pointer, mt, content[mt].schema);
                    if (!validate(value))
                        for (const e of validate.errors)
                            errors.push(`body${e.instancePath || ''} ${e.message}` + paramsText(e) + ` (${e.schemaPath})`);
                }
            }
        }
        if (headers) {
            for (const [name, h0] of Object.entries(response.headers || {})) {
                const h = deref(this.spec, h0);
                const v = headers.get(name.toLowerCase());
                if (v === undefined) {
                    if (h.required) errors.push(`header ${name} is missing`);
                    continue;
                }
                const validate = this.validatorFor(`${pointer}/headers/${name}`, 'header', h.schema);
                if (!validate(v)) errors.push(`header ${name}: ${JSON.stringify(v)} ${validate.errors.map((e) => e.message).join('; ')}`);
            }
        }
        return { ok: errors.length === 0, label, errors };
    }
}

function usage(msg) {
    if (msg) process.stderr.write(`check-answer: ${msg}\n`);
    process.stderr.write(
        'usage: check-answer.mjs --spec FILE (--method M --path P --status N [--content-type T]\n' +
        '                        --body-file FILE [--headers-file FILE] | --batch FILE)\n');
    process.exit(2);
}

function parseArgs(argv) {
    const names = ['spec', 'method', 'path', 'status', 'content-type', 'body-file', 'headers-file', 'batch'];
    const out = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--help' || a === '-h') usage();
        const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
        if (!m || !names.includes(m[1])) usage(`unknown argument ${a}`);
        let v = m[2];
        if (v === undefined) {
            if (i + 1 >= argv.length) usage(`--${m[1]} needs a value`);
            v = argv[++i];
        }
        out[m[1]] = v;
    }
    return out;
}

function printResult(r) {
    console.log(`${r.ok ? 'ok' : 'not ok'} - ${r.label}`);
    for (const e of r.errors) console.log(`#   ${e}`);
}

function readOrError(file, what, errors) {
    try {
        return readFileSync(file, 'utf8');
    } catch (e) {
        errors.push(`cannot read ${what} ${file}: ${e.message}`);
        return undefined;
    }
}

function checkOne(checker, a, baseDir) {
    if (Number(a.status) === 0) // curl's 000
        return { ok: false, label: `${a.name ? a.name + ' ' : ''}(${String(a.method).toUpperCase()} ${a.path})`,
                 errors: ['no answer: the connection was closed without a response (status 0)'] };
    const errors = [];
    const body = a.bodyFile === undefined ? '' : readOrError(resolve(baseDir, a.bodyFile), 'body file', errors);
    const headersText = a.headersFile === undefined ? undefined : readOrError(resolve(baseDir, a.headersFile), 'headers file', errors);
    const label = a.name || `${String(a.method).toUpperCase()} ${a.path} ${a.status}`;
    if (errors.length) return { ok: false, label, errors };
    const r = checker.check({
        method: a.method, path: a.path, status: a.status, contentType: a.contentType, body,
        headers: headersText === undefined ? undefined : parseHeaders(headersText),
    });
    if (a.expectStatus !== undefined && String(a.expectStatus) !== String(a.status)) {
        r.ok = false;
        r.errors.unshift(`status ${a.status}, but ${a.expectStatus} was expected`);
    }
    if (a.name) r.label = `${a.name} (${r.label})`;
    return r;
}

function main() {
    const args = parseArgs(process.argv.slice(2));
    if (!args.spec) usage('--spec is required');
    let checker;
    try {
        checker = new AnswerChecker(loadSpec(args.spec));
    } catch (e) {
        console.log(`not ok - cannot load ${args.spec}: ${e.message}`);
        process.exit(1);
    }
    let failed = 0;
    if (args.batch) {
        let lines;
        try {
            lines = readFileSync(args.batch, 'utf8').split('\n');
        } catch (e) {
            usage(`cannot read ${args.batch}: ${e.message}`);
        }
        const baseDir = dirname(resolve(args.batch));
        let n = 0;
        for (const [i, line] of lines.entries()) {
            if (!line.trim() || line.trim().startsWith('#')) continue;
            let a;
            try {
                a = JSON.parse(line);
            } catch (e) {
                printResult({ ok: false, label: `${args.batch} line ${i + 1}`, errors: [`not JSON: ${e.message}`] });
                failed++;
                continue;
            }
            const r = checkOne(checker, a, baseDir);
            printResult(r);
            if (!r.ok) failed++;
            n++;
        }
        if (n === 0) {
            console.log(`not ok - ${args.batch} holds no answer to check`);
            failed++;
        }
    } else {
        for (const k of ['method', 'path', 'status', 'body-file']) if (!args[k]) usage(`--${k} is required`);
        const r = checkOne(checker, {
            method: args.method, path: args.path, status: args.status, contentType: args['content-type'],
            bodyFile: args['body-file'], headersFile: args['headers-file'],
        }, process.cwd());
        printResult(r);
        if (!r.ok) failed++;
    }
    process.exit(failed ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
