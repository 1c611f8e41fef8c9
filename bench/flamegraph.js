'use strict';
// flamegraph.js - turns `perf script` output (samples recorded with
// `perf record --call-graph`) into a flame graph in SVG, for bench/compare --flame:
// Debian packages perf but no flame graph renderer. Each sample's stack is
// folded root first (the thread name at the root), identical stacks are
// counted, and every frame is drawn as wide as the samples it was on the
// stack of, children above their caller, siblings in name order. Hovering
// a frame shows its name, samples and share (an SVG <title>).
//
//   perf script -i perf.data | node bench/flamegraph.js [--title T] > out.svg
const fs = require('fs');

const args = process.argv.slice(2);
const title = args[0] === '--title' && args[1] ? args[1] : 'flame graph';
const WIDTH = 1200, ROW = 16, PAD = 10, TOP = 34, FONT = 11, CHAR = 6.2;

// fold: perf script text -> Map("root;...;leaf" -> samples)
function fold(text) {
  const stacks = new Map();
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length < 2 || /^\s/.test(lines[0])) continue;
    const comm = lines[0].trim().split(/\s+/)[0];
    const frames = [];
    for (const l of lines.slice(1)) {
      const m = /^\s*[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$/.exec(l);
      if (!m) continue;
      let name = m[1].replace(/\+0x[0-9a-f]+$/, '');
      if (name === '[unknown]' && m[2] !== '[unknown]') name = `[${m[2].split('/').pop()}]`;
      frames.push(name.replace(/;/g, ':'));
    }
    frames.push(comm);
    const key = frames.reverse().join(';');
    stacks.set(key, (stacks.get(key) || 0) + 1);
  }
  return stacks;
}

// tree: folded stacks -> {name, n, kids: Map}
function tree(stacks) {
  const root = { name: 'all', n: 0, kids: new Map() };
  for (const [key, n] of stacks) {
    let node = root;
    root.n += n;
    for (const f of key.split(';')) {
      if (!node.kids.has(f)) node.kids.set(f, { name: f, n: 0, kids: new Map() });
      node = node.kids.get(f);
      node.n += n;
    }
  }
  return root;
}

function depth(node) {
  let d = 0;
  for (const k of node.kids.values()) d = Math.max(d, depth(k));
  return d + 1;
}

function color(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const r = 205 + (h % 50), g = 80 + ((h >> 8) % 130), b = (h >> 16) % 55;
  return `rgb(${r},${g},${b})`;
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function render(root) {
  const rows = depth(root);
  const height = TOP + rows * ROW + PAD * 2;
  const scale = (WIDTH - 2 * PAD) / Math.max(root.n, 1);
  const out = [];
  out.push(`<?xml version="1.0" standalone="no"?>`);
  out.push(`<svg version="1.1" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
    `xmlns="http://www.w3.org/2000/svg" font-family="Verdana, sans-serif" font-size="${FONT}">`);
  out.push(`<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#fdfdf5"/>`);
  out.push(`<text x="${WIDTH / 2}" y="16" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  out.push(`<text x="${PAD}" y="${TOP - 4}" font-size="10" fill="#555">${root.n} samples; ` +
    `width = share of samples, callers below their callees</text>`);
  (function draw(node, x, level) {
    const w = node.n * scale;
    if (w < 0.3) return;
    const y = height - PAD - (level + 1) * ROW;
    const pct = ((100 * node.n) / root.n).toFixed(2);
    out.push(`<g><title>${esc(node.name)} (${node.n} samples, ${pct}%)</title>` +
      `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${ROW - 1}" ` +
      `fill="${level === 0 ? '#ddd' : color(node.name)}" rx="2"/>`);
    const fit = Math.floor((w - 4) / CHAR);
    if (fit >= 3) {
      const label = node.name.length <= fit ? node.name : node.name.slice(0, fit - 2) + '..';
      out.push(`<text x="${(x + 2).toFixed(2)}" y="${y + ROW - 4}">${esc(label)}</text>`);
    }
    out.push('</g>');
    let cx = x;
    for (const k of [...node.kids.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      draw(k, cx, level + 1);
      cx += k.n * scale;
    }
  })(root, PAD, 0);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const stacks = fold(fs.readFileSync(0, 'utf8'));
if (stacks.size === 0) {
  console.error('flamegraph.js: no samples with call stacks in the input');
  process.exit(1);
}
process.stdout.write(render(tree(stacks)));
