import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';

export type Target = 'pglite' | 'postgres';
/** Where the data planes keep their files: their own disks, or object storage. */
export type Storage = 'fs' | 's3';

/** One measured figure, with the peer's figure from the same run when there is one. */
export interface Figure {
  bench: string;
  /** What is measured, e.g. "p50 trigger -> process start". */
  name: string;
  /** The database the platform (or the peer) ran on. */
  target: Target;
  /** Set by the runner: the data planes' storage while it was measured. */
  storage?: Storage;
  value: number;
  unit: string;
  /** Which way is better: the ratio ours / peer reads accordingly. */
  better: 'lower' | 'higher';
  peer?: { name: string; value: number } | undefined;
  /** The issue's goal, when it gives one. */
  goal?: { op: '<' | '>'; value: number } | undefined;
  /** What limits it, or how it was taken. */
  note?: string | undefined;
}

export function ratio(figure: Figure): number | undefined {
  return figure.peer === undefined || figure.peer.value === 0 ? undefined : figure.value / figure.peer.value;
}

export function meetsGoal(figure: Figure): boolean | undefined {
  if (figure.goal === undefined) return undefined;
  return figure.goal.op === '<' ? figure.value < figure.goal.value : figure.value > figure.goal.value;
}

/** The database, and the object storage when the data planes used one. */
function where(figure: Figure): string {
  return figure.storage === 's3' ? `${figure.target}, s3` : figure.target;
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** The figures as a fixed-width table: ours, the peer's, the ratio ours / peer, the goal. */
export function table(figures: readonly Figure[]): string {
  const rows = [['bench', 'figure', 'db', 'ours', 'peer', 'ours/peer', 'goal']];
  for (const f of figures) {
    const r = ratio(f);
    const goal = meetsGoal(f);
    rows.push([
      f.bench,
      f.name,
      where(f),
      `${format(f.value)} ${f.unit}`,
      f.peer === undefined ? '-' : `${format(f.peer.value)} ${f.unit} (${f.peer.name})`,
      r === undefined ? '-' : `${r.toFixed(2)}x`,
      f.goal === undefined ? '-' : `${f.goal.op} ${format(f.goal.value)} ${goal ? 'met' : 'MISSED'}`,
    ]);
  }
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row, index) => {
      const line = row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
      return index === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/** The figures as a Markdown table, for docs/performance.md (`node bench/markdown.ts <results.json>`). */
export function markdownTable(figures: readonly Figure[]): string {
  const lines = [
    '| bench | figure | db | ours | peer | ours / peer | goal |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const f of figures) {
    const r = ratio(f);
    const goal = meetsGoal(f);
    lines.push(
      `| ${f.bench} | ${f.name} | ${where(f)} | ${format(f.value)} ${f.unit} | ${
        f.peer === undefined ? '-' : `${format(f.peer.value)} ${f.unit} (${f.peer.name})`
      } | ${r === undefined ? '-' : `${r.toFixed(2)}x`} | ${
        f.goal === undefined ? '-' : `${f.goal.op} ${format(f.goal.value)} ${f.unit}: ${goal ? 'met' : '**missed**'}`
      } |`,
    );
  }
  return lines.join('\n');
}

export interface RunMeta {
  date: string;
  mode: 'full' | 'smoke';
  host: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
  postgres?: Record<string, string> | undefined;
  notes: string[];
}

export function runMeta(mode: 'full' | 'smoke'): RunMeta {
  return {
    date: new Date().toISOString(),
    mode,
    host: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: loadavg(),
    notes: [],
  };
}

/** Writes the run as `<date>.json` and `latest.json` under `dir`; returns the dated path. */
export async function writeResults(
  dir: string,
  meta: RunMeta,
  figures: readonly Figure[],
  details: Record<string, unknown>,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  meta.loadAverageAtEnd = loadavg();
  const body = `${JSON.stringify(
    { meta, figures: figures.map((f) => ({ ...f, ratio: ratio(f) ?? null, goalMet: meetsGoal(f) ?? null })), details },
    null,
    2,
  )}\n`;
  const path = join(dir, `${meta.date.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}-${meta.mode}.json`);
  await writeFile(path, body);
  await writeFile(join(dir, 'latest.json'), body);
  return path;
}
