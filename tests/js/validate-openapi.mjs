#!/usr/bin/env node
// validate-openapi - checks schemas/openapi.yaml.
//
//   node validate-openapi.mjs [FILE]     (default: the repository's schemas/openapi.yaml)
//
// 1. It is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator:
//    the official 3.1 schema, and every $ref resolves).
// 2. Every route of the HTTP API contract (CONTRACT below, kept in step with
//    the contract by hand) is there with its method, authentication, roles,
//    parameters, request body, answer schema and the statuses it can give;
//    and nothing else is.
// 3. Every schema compiles with ajv (JSON Schema 2020-12) in strict mode,
//    our objects allow no other properties, detail objects agree with the
//    objects they extend, every JSON answer declares Cache-Control, 401
//    WWW-Authenticate, 405 Allow, OAuth errors Pragma, and the examples
//    given in schemas are valid.
// Prints "ok - openapi.yaml is a valid OpenAPI 3.1 document", or one
// "not ok - ..." line per problem; exits 0 or 1.
import { dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import { loadSpec, deref, newAjv, schemaForAjv, jsonPointerGet, METHODS } from './check-answer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const specFile = resolve(process.argv[2] || resolve(here, '../../schemas/openapi.yaml'));

const ALL_ROLES = ['admin', 'reader', 'client', 'worker'];
// The contract (docs: the HTTP API contract v1): method, path, auth, the
// statuses the route must document, the 200 answer's schema, the query
// parameters, the roles served (bearer routes).
const CONTRACT = [
    { method: 'get', path: '/', auth: 'none', statuses: [200], schema: 'Html',
      contentType: 'text/html; charset=utf-8' },
    { method: 'get', path: '/ui/{id}', auth: 'none', statuses: [200, 404], schema: 'Asset',
      contentType: 'text/css; charset=utf-8', pathParams: ['id'] },
    { method: 'get', path: '/healthz', auth: 'none', statuses: [200], schema: 'Health' },
    { method: 'get', path: '/readyz', auth: 'none', statuses: [200, 503], schema: 'Ready' },
    { method: 'get', path: '/metrics', auth: 'none', statuses: [200], schema: 'Metrics',
      contentType: 'text/plain; version=0.0.4' },
    { method: 'get', path: '/.well-known/jwks.json', auth: 'none', statuses: [200], schema: 'Jwks' },
    { method: 'get', path: '/v1/jwks', auth: 'none', statuses: [200], schema: 'Jwks' },
    { method: 'get', path: '/.well-known/oauth-authorization-server', auth: 'none', statuses: [200],
      schema: 'OAuthMetadata' },
    { method: 'post', path: '/v1/token', auth: 'none', statuses: [200, 400, 401, 413], schema: 'TokenResponse',
      form: 'TokenRequest' },
    { method: 'post', path: '/v1/revoke', auth: 'none', statuses: [200, 400], schema: 'Empty',
      form: 'RevokeRequest' },
    { method: 'get', path: '/v1/status', auth: 'bearer', statuses: [200, 400, 401, 403], schema: 'Status',
      roles: ['admin', 'reader'] },
    { method: 'get', path: '/v1/workers', auth: 'bearer', statuses: [200, 400, 401, 403], schema: 'WorkerList',
      roles: ['admin', 'reader', 'worker'], query: ['all'] },
    { method: 'get', path: '/v1/workers/{id}', auth: 'bearer', statuses: [200, 400, 401, 403, 404],
      schema: 'WorkerDetail', roles: ['admin', 'reader', 'worker'], pathParams: ['id'] },
    { method: 'get', path: '/v1/jobs', auth: 'bearer', statuses: [200, 400, 401], schema: 'JobList',
      roles: ALL_ROLES, query: ['state', 'type', 'worker', 'submitter', 'since', 'limit', 'cursor'] },
    { method: 'get', path: '/v1/jobs/{id}', auth: 'bearer', statuses: [200, 400, 401, 404], schema: 'JobDetail',
      roles: ALL_ROLES, pathParams: ['id'] },
    { method: 'get', path: '/v1/jobs/{id}/events', auth: 'bearer', statuses: [200, 400, 401, 404],
      schema: 'JobEventList', roles: ALL_ROLES, pathParams: ['id'] },
    { method: 'get', path: '/v1/jobs/stats', auth: 'bearer', statuses: [200, 400, 401, 403], schema: 'JobStats',
      roles: ['admin', 'reader'], query: ['window'] },
    { method: 'get', path: '/v1/me', auth: 'bearer', statuses: [200, 400, 401], schema: 'Me',
      roles: ALL_ROLES },
    { method: 'post', path: '/v1/me/password', auth: 'bearer', statuses: [200, 400, 401, 403, 413],
      schema: 'PasswordChanged', roles: ['admin', 'reader'], form: 'PasswordChange' },
    { method: 'post', path: '/v1/me/totp', auth: 'bearer', statuses: [200, 400, 401, 403, 409],
      schema: 'TotpConfirmed', roles: ['admin', 'reader'], form: 'TotpConfirm' },
    { method: 'get', path: '/v1/audit', auth: 'bearer', statuses: [200, 400, 401, 403], schema: 'AuditList',
      roles: ['admin'], query: ['actor', 'target', 'action', 'since', 'limit', 'cursor'] },
    { method: 'get', path: '/v1/commands', auth: 'bearer', statuses: [200, 400, 401, 403],
      schema: 'CommandList', roles: ['admin', 'reader'], query: ['worker', 'status', 'kind', 'limit'] },
    { method: 'get', path: '/v1/commands/{id}', auth: 'bearer', statuses: [200, 400, 401, 403, 404],
      schema: 'CommandDetail', roles: ['admin', 'reader'], pathParams: ['id'] },
];
// Objects whose other properties are allowed: the OAuth forms, where
// RFC 6749 section 3.2 says unknown parameters are ignored.
const OPEN_OBJECTS = new Set(['ClientCredentialsGrant', 'PasswordGrant', 'RefreshTokenGrant', 'RevokeRequest']);
// Objects that repeat another's properties and add their own.
const EXTENDS = [
    { schema: 'WorkerDetail', base: 'Worker', relation: 'superset' },
    { schema: 'CommandDetail', base: 'Command', relation: 'superset' },
    { schema: 'JobDetail', base: 'Job', relation: 'superset' },
];

const errors = [];
const fail = (msg) => errors.push(msg);

// refsTo collects the component schema names a schema refers to directly or
// through allOf/anyOf/oneOf.
function refsTo(schema, out = new Set()) {
    if (!schema || typeof schema !== 'object') return out;
    if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#/components/schemas/'))
        out.add(schema.$ref.slice('#/components/schemas/'.length).split('/')[0]);
    for (const k of ['allOf', 'anyOf', 'oneOf']) for (const s of schema[k] || []) refsTo(s, out);
    return out;
}

// walkSchemas calls fn(schema, where) for a schema and every schema inside it.
function walkSchemas(schema, where, fn) {
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return;
    fn(schema, where);
    for (const k of ['properties', 'patternProperties', '$defs', 'dependentSchemas'])
        for (const [n, s] of Object.entries(schema[k] || {})) walkSchemas(s, `${where}/${k}/${n}`, fn);
    for (const k of ['allOf', 'anyOf', 'oneOf', 'prefixItems'])
        (schema[k] || []).forEach((s, i) => walkSchemas(s, `${where}/${k}/${i}`, fn));
    for (const k of ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames'])
        if (schema[k] && typeof schema[k] === 'object') walkSchemas(schema[k], `${where}/${k}`, fn);
}

function types(schema) {
    return Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
}

async function main() {
    let spec;
    try {
        spec = loadSpec(specFile);
    } catch (e) {
        console.log(`not ok - cannot parse ${specFile}: ${e.message}`);
        process.exit(1);
    }

    // 1. the OpenAPI 3.1 schema, and references
    if (spec.openapi !== '3.1.0') fail(`openapi is ${JSON.stringify(spec.openapi)}, not "3.1.0"`);
    const validator = new Validator();
    const res = await validator.validate(structuredClone(spec));
    if (!res.valid) {
        const list = Array.isArray(res.errors) ? res.errors : [res.errors];
        for (const e of list.slice(0, 30))
            fail(typeof e === 'string' ? e : `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params || {})}`);
    }
    const refErrors = [];
    walkAll(spec, '#', (node, where) => {
        if (typeof node.$ref === 'string' && jsonPointerGet(spec, node.$ref) === undefined)
            refErrors.push(`${where}: $ref ${node.$ref} does not resolve`);
    });
    refErrors.forEach(fail);
    if (refErrors.length) return;

    // 2. the contract's routes, and nothing else
    const operationIds = new Map();
    for (const [path, item] of Object.entries(spec.paths || {}))
        for (const m of METHODS) {
            if (!item[m]) continue;
            const op = item[m];
            if (!CONTRACT.some((c) => c.method === m && c.path === path))
                fail(`${m.toUpperCase()} ${path} is not in the contract`);
            if (!op.operationId) fail(`${m.toUpperCase()} ${path} has no operationId`);
            else if (operationIds.has(op.operationId)) fail(`operationId ${op.operationId} is used twice`);
            else operationIds.set(op.operationId, path);
            if (!op.summary || !op.description) fail(`${m.toUpperCase()} ${path} needs a summary and a description`);
        }
    for (const c of CONTRACT) {
        const name = `${c.method.toUpperCase()} ${c.path}`;
        const op = spec.paths?.[c.path]?.[c.method];
        if (!op) {
            fail(`${name} (in the contract) is missing`);
            continue;
        }
        // authentication
        const security = op.security ?? spec.security ?? [];
        if (c.auth === 'none' && security.length !== 0) fail(`${name} must have security: [] (no authentication)`);
        if (c.auth === 'bearer' && !isDeepStrictEqual(security, [{ bearerAuth: [] }]))
            fail(`${name} must have security: [{bearerAuth: []}]`);
        if (c.roles && !isDeepStrictEqual([...(op['x-jobcoord-roles'] || [])].sort(), [...c.roles].sort()))
            fail(`${name}: x-jobcoord-roles is ${JSON.stringify(op['x-jobcoord-roles'])}, the contract says ${JSON.stringify(c.roles)}`);
        if (c.auth === 'bearer' && c.roles.length < ALL_ROLES.length && !op.responses?.['403'])
            fail(`${name} refuses some roles: it must document 403`);
        // statuses
        const statuses = Object.keys(op.responses || {});
        for (const s of c.statuses) if (!statuses.includes(String(s))) fail(`${name} does not document status ${s}`);
        // the answer's schema
        const ok = deref(spec, op.responses?.['200'] || {});
        const ct = c.contentType || 'application/json';
        const media = ok.content?.[ct];
        if (!media) fail(`${name} 200 is not ${ct}`);
        else if (!refsTo(media.schema).has(c.schema)) fail(`${name} 200 is not a ${c.schema}`);
        // parameters
        const params = [...(spec.paths[c.path].parameters || []), ...(op.parameters || [])].map((p) => deref(spec, p));
        const q = params.filter((p) => p.in === 'query').map((p) => p.name).sort();
        if (!isDeepStrictEqual(q, [...(c.query || [])].sort()))
            fail(`${name}: query parameters are ${JSON.stringify(q)}, the contract says ${JSON.stringify(c.query || [])}`);
        const pp = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
        if (!isDeepStrictEqual(pp, [...(c.pathParams || [])].sort()))
            fail(`${name}: path parameters are ${JSON.stringify(pp)}`);
        // request body
        if (c.form) {
            const form = deref(spec, op.requestBody || {}).content?.['application/x-www-form-urlencoded'];
            if (!form) fail(`${name} must take an application/x-www-form-urlencoded body`);
            else if (!refsTo(form.schema).has(c.form)) fail(`${name}: the form is not a ${c.form}`);
        } else if (op.requestBody) fail(`${name} takes no body`);
    }

    // 3. schemas and answers
    let ajv;
    try {
        ajv = newAjv(spec, { strict: true });
        ajv.getSchema('urn:jobcoord:openapi');
    } catch (e) {
        fail(`the component schemas do not compile: ${e.message}`);
        return;
    }
    for (const [name, schema] of Object.entries(spec.components?.schemas || {})) {
        let validate;
        try {
            validate = ajv.compile(schemaForAjv(schema));
        } catch (e) {
            fail(`#/components/schemas/${name} does not compile: ${e.message}`);
            continue;
        }
        for (const [i, ex] of (schema.examples || []).entries())
            if (!validate(ex)) fail(`#/components/schemas/${name} example ${i} is not valid: ${ajv.errorsText(validate.errors)}`);
        if (!OPEN_OBJECTS.has(name))
            walkSchemas(schema, `#/components/schemas/${name}`, (s, where) => {
                if (types(s).includes('object') && s.additionalProperties !== false)
                    fail(`${where} is an object without additionalProperties: false`);
            });
    }
    for (const { schema, base, relation } of EXTENDS) {
        const s = spec.components.schemas[schema];
        const b = spec.components.schemas[base];
        const sp = Object.keys(s?.properties || {});
        const bp = Object.keys(b?.properties || {});
        const shared = relation === 'superset' ? bp : sp;
        for (const p of shared) {
            if (!sp.includes(p) || !bp.includes(p)) {
                fail(`${schema} lacks ${base}'s property ${p}`);
                continue;
            }
            const ps = s.properties[p];
            const same = ps.$ref === `#/components/schemas/${base}/properties/${p}` ||
                isDeepStrictEqual(ps, b.properties[p]);
            if (!same) fail(`${schema}.${p} differs from ${base}.${p}`);
            if ((b.required || []).includes(p) !== (s.required || []).includes(p))
                fail(`${schema}.${p} and ${base}.${p} differ in being required`);
        }
    }
    // every schema of answers, parameters and bodies compiles; headers
    const seen = new Set();
    const responses = [];
    for (const [path, item] of Object.entries(spec.paths || {}))
        for (const m of METHODS) {
            const op = item[m];
            if (!op) continue;
            const where = `${m.toUpperCase()} ${path}`;
            for (const p of [...(item.parameters || []), ...(op.parameters || [])]) {
                const param = deref(spec, p);
                try {
                    ajv.compile(schemaForAjv(param.schema || {}));
                } catch (e) {
                    fail(`${where} parameter ${param.name}: ${e.message}`);
                }
            }
            for (const [mt, media] of Object.entries(deref(spec, op.requestBody || {}).content || {}))
                try {
                    ajv.compile(schemaForAjv(media.schema || {}));
                } catch (e) {
                    fail(`${where} body ${mt}: ${e.message}`);
                }
            for (const [status, r] of Object.entries(op.responses || {})) responses.push({ where: `${where} ${status}`, status, r });
        }
    for (const [group, rs] of Object.entries(spec['x-jobcoord-fallback-responses'] || {}))
        for (const [status, r] of Object.entries(rs)) responses.push({ where: `fallback ${group} ${status}`, status, r });
    if (!spec['x-jobcoord-fallback-responses']?.unknownRoute?.['404'])
        fail('x-jobcoord-fallback-responses.unknownRoute must describe the 404 of a path that is no route');
    if (!spec['x-jobcoord-fallback-responses']?.wrongMethod?.['405'])
        fail('x-jobcoord-fallback-responses.wrongMethod must describe the 405 of a method a route does not serve');
    if (!spec['x-jobcoord-fallback-responses']?.anyRoute?.['413'])
        fail('x-jobcoord-fallback-responses.anyRoute must describe the 413 any route gives to a body too large');
    for (const { where, status, r } of responses) {
        const resp = deref(spec, r);
        const headers = Object.fromEntries(Object.entries(resp.headers || {}).map(([k, v]) => [k.toLowerCase(), deref(spec, v)]));
        const key = r.$ref || where;
        if (!resp.description) fail(`${where} has no description`);
        for (const [mt, media] of Object.entries(resp.content || {})) {
            if (!seen.has(key + mt)) {
                seen.add(key + mt);
                try {
                    ajv.compile(schemaForAjv(media.schema || {}));
                } catch (e) {
                    fail(`${where} ${mt}: ${e.message}`);
                }
            }
            if (!headers['cache-control']?.required) fail(`${where} must declare Cache-Control`);
            if (status !== '200' && mt === 'application/json') {
                const r2 = refsTo(media.schema);
                if (!r2.has('Error') && !r2.has('OAuthError') && !r2.has('Ready'))
                    fail(`${where} is an error but not an Error or OAuthError`);
                if (r2.has('OAuthError') && !headers.pragma?.required) fail(`${where} must declare Pragma`);
            }
        }
        if (status === '401' && !headers['www-authenticate'] && !refsTo(resp.content?.['application/json']?.schema).has('OAuthError'))
            fail(`${where} must declare WWW-Authenticate`);
        if (status === '405' && !headers.allow) fail(`${where} must declare Allow`);
    }
    if (errors.length === 0)
        console.log(`ok - all ${CONTRACT.length} routes of the contract are described`);
}

// walkAll calls fn(node, pointer) for every object in the document.
function walkAll(node, where, fn) {
    if (!node || typeof node !== 'object') return;
    if (!Array.isArray(node)) fn(node, where);
    for (const [k, v] of Object.entries(node))
        walkAll(v, `${where}/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`, fn);
}

main().then(() => {
    const name = basename(specFile);
    if (errors.length) {
        for (const e of errors) console.log(`not ok - ${e}`);
        console.log(`not ok - ${name} is not a valid OpenAPI 3.1 document (${errors.length} problem${errors.length > 1 ? 's' : ''})`);
        process.exit(1);
    }
    console.log(`ok - ${name} is a valid OpenAPI 3.1 document`);
}, (e) => {
    console.log(`not ok - ${e.stack || e}`);
    process.exit(1);
});
