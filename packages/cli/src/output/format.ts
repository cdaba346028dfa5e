/** Pure formatting for human output: colours, tables, times, sizes. */

import { statusWord } from '@sovereign/client';

export interface Palette {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/** Each colour's SGR codes, on and off: the only escape sequences sov writes (see printable). */
const styles: Record<keyof Palette, readonly [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};
const sgr = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string) => text;

export function palette(enabled: boolean): Palette {
  const paint = (name: keyof Palette) => (enabled ? sgr(...styles[name]) : plain);
  return {
    bold: paint('bold'),
    dim: paint('dim'),
    red: paint('red'),
    green: paint('green'),
    yellow: paint('yellow'),
    cyan: paint('cyan'),
  };
}

/** The palette's own sequences, or one control character: C0, DEL or C1. */
const controls = new RegExp(
  `\u001b\\[(?:${[...new Set(Object.values(styles).flat())].join('|')})m|[\u0000-\u001f\u007f-\u009f]`,
  'g',
);
const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text as human output may show it. Names, messages and values come from servers and
 * other people (the admin of an organization you were added to names it), and a control
 * character in them is an order to the terminal: an ESC sequence can write the clipboard
 * (OSC 52), move the cursor, or with a CR rewrite what the line seemed to say. Each one is
 * shown instead, escaped as a person can read it (`\x1b`, `\r`); the palette's colours
 * (the only sequences sov writes) are let through, and line breaks only in `lines` (a
 * table cell or a value is one line). Every human printer goes through this; --json is
 * exact (JSON escapes control characters itself), and job logs are the job's own (see
 * Output.logLine).
 */
export function printable(text: string, { lines = false }: { lines?: boolean } = {}): string {
  return text.replace(controls, (found) => {
    if (found.length > 1 || (lines && found === '\n')) return found;
    return named[found] ?? `\\x${found.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * Colour only on a terminal, never when NO_COLOR is set to anything non-empty
 * (https://no-color.org) or --no-color was given.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag: boolean): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ansi = /\u001b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ansi, '');
}

export function visibleLength(text: string): number {
  return [...stripAnsi(text)].length;
}

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  align?: 'left' | 'right';
}

/** Aligned columns, headers in capitals, two spaces between; the last column is not padded. */
export function table<Row>(rows: readonly Row[], columns: ReadonlyArray<Column<Row>>, colors: Palette): string {
  const cells = rows.map((row) => columns.map((column) => printable(column.value(row))));
  const headers = columns.map((column) => column.header.toUpperCase());
  const widths = columns.map((_, i) =>
    Math.max(visibleLength(headers[i] ?? ''), ...cells.map((r) => visibleLength(r[i] ?? ''))),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - visibleLength(value));
        if (columns[i]?.align === 'right') return pad + value;
        return i === values.length - 1 ? value : value + pad;
      })
      .join('  ')
      .trimEnd();
  return [colors.bold(line(headers)), ...cells.map(line)].join('\n');
}

/** `label  value` pairs, labels aligned. Undefined values are left out. */
export function keyValues(pairs: ReadonlyArray<[string, string | undefined]>, colors: Palette): string {
  const shown = pairs.filter((pair): pair is [string, string] => pair[1] !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${colors.dim(label.padEnd(width))}  ${printable(value)}`).join('\n');
}

/** "just now", "5m ago", "3h ago", "in 2d"; past a month, the date. */
export function relativeTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (iso === null || iso === undefined) return '-';
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return iso;
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return 'just now';
  const units: Array<[number, string]> = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  if (abs >= 30 * 86400) return then.toISOString().slice(0, 10);
  for (const [size, unit] of units) {
    if (abs >= size) {
      const amount = Math.floor(abs / size);
      return seconds >= 0 ? `${amount}${unit} ago` : `in ${amount}${unit}`;
    }
  }
  return 'just now';
}

/** 512 B, 1.2 kB, 3.4 MB (powers of 1000, as tools that show sizes to people do). */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 'B';
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** The first 8 characters of a UUID: enough to tell runs apart in a table, and accepted back. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A status as people read it (the clients' one rule): --json keeps the code. */
export { statusWord };

/** How a run's status looks: green when it worked, red when it did not, yellow while it runs. */
export function runStatus(status: string, colors: Palette): string {
  const word = statusWord(status);
  if (status === 'succeeded') return colors.green(word);
  if (status === 'failed' || status === 'timed_out' || status === 'lost') return colors.red(word);
  if (status === 'cancelled') return colors.dim(word);
  return colors.yellow(word);
}

/** A job's trigger in a word or three. */
export function trigger(value: { type: string; [key: string]: unknown }): string {
  switch (value.type) {
    case 'cron':
      return `cron ${String(value.cron)}`;
    case 'every':
      return `every ${compactSeconds(Number(value.everySeconds))}`;
    case 'once':
      return `once ${String(value.at)}`;
    case 'after':
      return `after ${String(value.job)} (${String(value.on)})`;
    default:
      return 'manual';
  }
}

/** 90 -> 1m30s, 900 -> 15m, 86400 -> 1d: the manifest's own duration syntax. */
export function compactSeconds(total: number): string {
  if (!Number.isFinite(total) || total <= 0) return `${total}s`;
  let rest = Math.round(total);
  let text = '';
  for (const [size, unit] of [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
    [1, 's'],
  ] as const) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

/**
 * The interval a run covers, as short as it reads clearly: dates when both ends are at
 * midnight UTC ("2026-11-01 → 2026-11-02"), else times to the minute, in UTC.
 */
export function intervalText(start: string | null, end: string | null): string | undefined {
  if (start === null || end === null) return undefined;
  const midnight = (iso: string) => new Date(iso).toISOString().endsWith('T00:00:00.000Z');
  const show = (iso: string) =>
    midnight(start) && midnight(end)
      ? new Date(iso).toISOString().slice(0, 10)
      : `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')}Z`;
  return `${show(start)} → ${show(end)}`;
}
