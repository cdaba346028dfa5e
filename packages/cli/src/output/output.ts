import { type Column, colorEnabled, keyValues, type Palette, palette, printable, table } from './format.ts';

export interface OutputOptions {
  json: boolean;
  /** false when --no-color was given. */
  color: boolean;
  debug: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

/**
 * Where a command's results go. Data (tables, values, JSON) goes to stdout; prompts,
 * progress and notes meant for a person go to stderr, so `sov ... | jq` stays clean.
 * With --json, stdout carries exactly one JSON document (or one per line for streams).
 */
export class Output {
  readonly json: boolean;
  readonly debug: boolean;
  /** Colours for stdout and for stderr: each only on a terminal. */
  readonly out: Palette;
  readonly err: Palette;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;

  constructor(options: OutputOptions) {
    const env = options.env ?? process.env;
    this.json = options.json;
    this.debug = options.debug;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.out = palette(!options.json && colorEnabled(this.stdout, env, options.color));
    this.err = palette(colorEnabled(this.stderr, env, options.color));
  }

  /**
   * A line (or lines) of human output on stdout; nothing in --json mode. Control
   * characters in it are shown escaped (printable): it holds names and messages servers
   * and other people chose.
   */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${printable(text, { lines: true })}\n`);
  }

  /**
   * A line of a job's log on stdout, as the job wrote it: NOT escaped, unlike every other
   * line. It is the job's own output (the workspace's code, read by the people who run
   * it), and its colours and progress bars are what they expect to see, as with any
   * program's output in their terminal. Nothing in --json mode (lines are events there).
   */
  logLine(text: string): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** A note for a person on stderr (progress, hints); nothing in --json mode. Escaped as line() is. */
  note(text: string): void {
    if (!this.json) this.stderr.write(`${printable(text, { lines: true })}\n`);
  }

  /** The machine-readable result of a command, in --json mode only. */
  data(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One event of a stream (NDJSON), in --json mode only. */
  event(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Prints `value` as JSON, or runs `human` to print it for people. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.data(value);
    else human();
  }

  table<Row>(rows: readonly Row[], columns: ReadonlyArray<Column<Row>>, empty: string): void {
    if (rows.length === 0) this.line(this.out.dim(empty));
    else this.line(table(rows, columns, this.out));
  }

  keyValues(pairs: ReadonlyArray<[string, string | undefined]>): void {
    this.line(keyValues(pairs, this.out));
  }

  /** A trace of what the CLI does, with --debug only; never a token. */
  trace(text: string): void {
    if (this.debug) this.stderr.write(`${printable(this.err.dim(`debug: ${text}`), { lines: true })}\n`);
  }
}
