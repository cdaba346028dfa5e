// Incremental sync of orders, by (updatedAt, id) cursor: the pattern of most data
// loaders. The cursor lives in $SOV_STATE_FILE, which the data plane saves only when
// the run succeeds, so a failed run is simply retried from the same place.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const batchSize = Number(process.env.BATCH_SIZE ?? 5);
const state = JSON.parse(readFileSync(process.env.SOV_STATE_FILE, 'utf8'));
const cursor = state.cursor ?? { updatedAt: '', id: '' };

async function source() {
  if (process.env.SOURCE_URL) {
    const response = await fetch(process.env.SOURCE_URL);
    if (!response.ok) throw new Error(`the source answered ${response.status}`);
    return response.text();
  }
  return readFileSync(new URL('./data/orders.jsonl', import.meta.url), 'utf8');
}

const after = (row) => row.updatedAt > cursor.updatedAt || (row.updatedAt === cursor.updatedAt && row.id > cursor.id);
const rows = (await source())
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line))
  .filter(after)
  .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt) || a.id.localeCompare(b.id));

const batch = rows.slice(0, batchSize);
console.log(`Cursor: ${cursor.updatedAt === '' ? 'none (first run)' : `${cursor.updatedAt} / ${cursor.id}`}`);
if (batch.length === 0) {
  console.log('Up to date: no orders changed since the cursor.');
  process.exit(0);
}

const last = batch.at(-1);
writeFileSync(join(process.env.SOV_OUTPUT_DIR, 'orders.jsonl'), `${batch.map((r) => JSON.stringify(r)).join('\n')}\n`);
const total = batch.reduce((sum, r) => sum + r.amount, 0);
writeFileSync(
  join(process.env.SOV_OUTPUT_DIR, 'summary.json'),
  `${JSON.stringify({ rows: batch.length, amount: total, from: batch[0].updatedAt, to: last.updatedAt }, null, 2)}\n`,
);
writeFileSync(
  process.env.SOV_STATE_FILE,
  JSON.stringify({ cursor: { updatedAt: last.updatedAt, id: last.id }, synced: (state.synced ?? 0) + batch.length }),
);
console.log(
  `Synced ${batch.length} order(s), ${rows.length - batch.length} left; cursor now ${last.updatedAt} / ${last.id}.`,
);
