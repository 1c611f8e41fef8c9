// check-docs.mjs - docs/http-api.md against schemas/openapi.yaml: every
// operation of the spec is named in the page as "METHOD /path" (in a code
// span), and every such route the page names exists in the spec.
//   node check-docs.mjs SPEC DOC
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const [specFile, docFile] = process.argv.slice(2);
if (!specFile || !docFile) {
  console.error('usage: check-docs.mjs SPEC DOC');
  process.exit(2);
}
const spec = parse(readFileSync(specFile, 'utf8'));
const doc = readFileSync(docFile, 'utf8');
const ops = [];
for (const [path, item] of Object.entries(spec.paths)) {
  for (const m of ['get', 'post', 'put', 'patch', 'delete']) {
    if (item[m]) ops.push(`${m.toUpperCase()} ${path}`);
  }
}
let failed = 0;
for (const op of ops) {
  const esc = op.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (new RegExp('`' + esc + '[`? ]').test(doc)) {
    console.log(`ok - ${docFile} documents ${op}`);
  } else {
    console.log(`not ok - ${docFile} does not document ${op}`);
    failed++;
  }
}
const named = [...doc.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`?\s]*)/g)].map((x) => `${x[1]} ${x[2]}`);
for (const op of new Set(named)) {
  if (ops.includes(op)) continue;
  console.log(`not ok - ${docFile} names ${op}, which the spec does not have`);
  failed++;
}
process.exit(failed ? 1 : 0);
