/** Prints a results file's figures as a Markdown table: `node bench/markdown.ts bench/results/latest.json`. */
import { readFile } from 'node:fs/promises';
import { markdownTable } from './lib/report.ts';

const path = process.argv[2] ?? new URL('./results/latest.json', import.meta.url).pathname;
const results = JSON.parse(await readFile(path, 'utf8'));
const { meta } = results;
console.log(
  `Run of ${meta.date} (${meta.mode}), ${meta.cpus} x ${meta.cpuModel}, ${meta.memoryGiB} GiB, Node ${meta.node}, ` +
    `load average ${meta.loadAverageAtStart.map((l: number) => l.toFixed(1)).join(' / ')} at start and ` +
    `${(meta.loadAverageAtEnd ?? []).map((l: number) => l.toFixed(1)).join(' / ')} at the end; PostgreSQL: ${
      meta.postgres === undefined
        ? 'none'
        : `${meta.postgres.server_version}, fsync=${meta.postgres.fsync} (${meta.postgres.source})`
    }.\n`,
);
for (const note of meta.notes) console.log(`Note: ${note}\n`);
console.log(markdownTable(results.figures));
