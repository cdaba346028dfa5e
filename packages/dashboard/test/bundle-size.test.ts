import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = fileURLToPath(new URL('../dist', import.meta.url));

/**
 * What a first visit downloads, gzipped, must stay small. React and react-dom alone are
 * about 60 KiB of it; everything of ours (pages, CSS, API clients) shares the rest. No UI
 * kit, no router or data library: a budget that fails says one crept in.
 */
const budget = { scriptKiB: 90, styleKiB: 8, totalKiB: 100 };

const kib = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;

describe('the dashboard build', () => {
  it('exists: npm install builds it (the root prepare script), npm run build rebuilds it', () => {
    assert.ok(existsSync(join(dist, 'index.html')), `${dist}/index.html is missing: run npm install or npm run build`);
  });

  it('loads only hashed assets, which the control plane caches for good', async () => {
    const html = await readFile(join(dist, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    const assets = refs.filter((ref) => ref.endsWith('.js') || ref.endsWith('.css'));
    assert.ok(assets.length >= 2, `a script and a stylesheet: ${refs.join(', ')}`);
    for (const ref of assets) assert.match(ref, /^\/assets\/[\w-]+-[\w-]{8}\.(js|css)$/, ref);
    const files = await readdir(join(dist, 'assets'));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.map')),
      [],
      'no source maps are shipped',
    );
  });

  it(`stays within ${budget.totalKiB} KiB gzipped on a first visit`, async (t) => {
    const html = await readFile(join(dist, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
    let script = 0;
    let style = 0;
    for (const ref of refs) {
      const size = gzipSync(await readFile(join(dist, ref))).length;
      t.diagnostic(`${ref}: ${kib(size)} KiB gzipped`);
      if (ref.endsWith('.js')) script += size;
      if (ref.endsWith('.css')) style += size;
    }
    const page = gzipSync(html).length;
    const total = script + style + page;
    t.diagnostic(`first visit: ${kib(total)} KiB gzipped (scripts ${kib(script)}, styles ${kib(style)})`);
    assert.ok(script > 0 && style > 0);
    assert.ok(kib(script) <= budget.scriptKiB, `scripts are ${kib(script)} KiB gzipped, over ${budget.scriptKiB}`);
    assert.ok(kib(style) <= budget.styleKiB, `styles are ${kib(style)} KiB gzipped, over ${budget.styleKiB}`);
    assert.ok(kib(total) <= budget.totalKiB, `a first visit is ${kib(total)} KiB gzipped, over ${budget.totalKiB}`);
  });
});
