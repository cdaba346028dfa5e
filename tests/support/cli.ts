import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '@sovereign/server-kit/testing';

export const sovBin = fileURLToPath(new URL('../../packages/cli/src/bin/sov.ts', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Variables a developer's shell may set that would make a test depend on it. */
const leaking = ['SOV_TOKEN', 'SOV_PROFILE', 'SOV_WORKSPACE', 'SOV_API_URL', 'SOV_EMAIL', 'SOV_PASSWORD', 'NO_COLOR'];

export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of leaking) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export interface SovResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `sov` as a subprocess (pipes, not a terminal) with its own config directory. */
export async function sov(
  configDir: string,
  args: string[],
  options: { input?: string; env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<SovResult> {
  const child = spawn(process.execPath, [sovBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: cleanEnv({ SOV_CONFIG_DIR: configDir, ...options.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? -1, stdout, stderr };
}

/** Like sov(), but fails the test with everything printed when the exit code is not 0. */
export async function sovOk(
  configDir: string,
  args: string[],
  options: Parameters<typeof sov>[2] = {},
): Promise<SovResult> {
  const result = await sov(configDir, args, options);
  if (result.code !== 0) {
    throw new Error(
      `sov ${args.join(' ')} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  return result;
}

/** `sov dev` (what `npm start` runs) as a real process, started in a given home on given ports. */
export class DevPlatform {
  readonly process: ChildProcess;
  readonly port: number;
  #printed = '';

  private constructor(child: ChildProcess, port: number) {
    this.process = child;
    this.port = port;
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#printed += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#printed += chunk.toString();
    });
  }

  static async start(home: string, port: number, env: Record<string, string> = {}): Promise<DevPlatform> {
    const child = spawn(process.execPath, [sovBin, 'dev'], {
      cwd: repoRoot,
      env: cleanEnv({ SOV_HOME: home, SOV_PORT: String(port), SOV_PASSWORD_COST_LOG2: '12', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const dev = new DevPlatform(child, port);
    const deadline = Date.now() + 120_000;
    while (!dev.printed().includes('Stop with Ctrl-C') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!dev.printed().includes('Stop with Ctrl-C')) {
      await dev.stop('SIGKILL');
      throw new Error(`sov dev did not start; it printed:\n${dev.printed()}`);
    }
    return dev;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  printed(): string {
    return this.#printed;
  }

  /** Resolves with the exit code (or signal) once `sov dev` has exited by itself. */
  async exited(): Promise<number | string> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) {
      return this.process.exitCode ?? this.process.signalCode ?? 'unknown';
    }
    const [code, signal] = (await once(this.process, 'exit')) as [number | null, string | null];
    return code ?? signal ?? 'unknown';
  }

  /** Sends a signal (Ctrl-C by default) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | string> {
    const exited = this.exited();
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
    return exited;
  }

  /** The pids of its children, with their command lines. */
  async children(): Promise<Array<{ pid: number; args: string }>> {
    const ps = spawn('ps', ['-o', 'pid=,args=', '--ppid', String(this.process.pid)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    ps.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    await once(ps, 'close');
    return text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line) => ({ pid: Number(line.split(/\s+/)[0]), args: line.slice(line.indexOf(' ') + 1) }));
  }
}

/** Nothing answers on these ports any more. */
export async function assertAllDown(ports: number[]): Promise<void> {
  for (const port of ports) {
    const answered = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => true,
      () => false,
    );
    if (answered) throw new Error(`a service still answers on port ${port}`);
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: an ANSI escape is what is looked for
export const ansiEscape = /\u001b\[/;

/** A word for `sh -c`, whatever it holds. */
export function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * `sov` on a pseudo-terminal (util-linux `script`), as a person types into it: waitFor
 * a prompt, type an answer, then the exit code and everything on the screen.
 */
export function onTerminal(args: string[], env: Record<string, string>) {
  const child = spawn('script', ['-qfec', [process.execPath, sovBin, ...args].map(quote).join(' '), '/dev/null'], {
    cwd: repoRoot,
    env: cleanEnv({ TERM: 'xterm', ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  const take = (chunk: Buffer) => {
    screen += chunk.toString();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const closed = once(child, 'close');
  return {
    screen: () => screen,
    async waitFor(text: string): Promise<void> {
      const deadline = Date.now() + 60_000;
      while (!screen.includes(text)) {
        if (Date.now() > deadline || child.exitCode !== null)
          assert.fail(`never saw "${text}"; the screen:\n${screen}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    type(text: string): void {
      child.stdin.write(text);
    },
    async exitCode(): Promise<number | null> {
      const [code] = (await closed) as [number | null];
      return code;
    },
  };
}

/** Neither stream of a run that is not on a terminal carries a colour code. */
export function assertPlain(result: SovResult, what: string): void {
  assert.doesNotMatch(result.stdout, ansiEscape, `${what}: no escape codes on stdout`);
  assert.doesNotMatch(result.stderr, ansiEscape, `${what}: no escape codes on stderr`);
}

/** Parses the one JSON document a --json command prints. */
export function parsed(result: SovResult): any {
  assert.doesNotMatch(result.stdout, ansiEscape);
  return JSON.parse(result.stdout);
}

/** A `sov dev` for a CLI suite, with a scratch directory for its users' configurations. */
export interface CliDev {
  home: string;
  scratch: string;
  dev: DevPlatform;
  /** The administrator's generated password. */
  password: string;
}

/** Starts a `sov dev` on free ports, its state in a directory of its own. */
export async function startCliDev(): Promise<CliDev> {
  const home = await mkdtemp(join(tmpdir(), 'sov-cli-home-'));
  const scratch = await mkdtemp(join(tmpdir(), 'sov-cli-'));
  const dev = await DevPlatform.start(home, await freePorts(3));
  const password = (await readFile(join(home, 'admin-password'), 'utf8')).trim();
  return { home, scratch, dev, password };
}

/** Stops it and removes what it and its users left. */
export async function stopCliDev(cli: Partial<CliDev>): Promise<void> {
  await cli.dev?.stop();
  for (const dir of [cli.home, cli.scratch]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}
