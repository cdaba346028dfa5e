import { availableParallelism, totalmem } from 'node:os';
import type { Problems } from '@sovereign/server-kit/config';

/** What one run may use: enforced by the jail (memory, cpus, pids, /tmp) and by the data plane (logs, outputs). */
export interface RunLimits {
  memoryBytes: number;
  /** CPU time per wall second, in CPUs (1.5: one and a half cores' worth). */
  cpus: number;
  /** Processes and threads at once. */
  pids: number;
  /** The size of its private `/tmp` (memory: a tmpfs). */
  tmpBytes: number;
  /** Log bytes stored; past them the run is stopped (`log_limit`). */
  logBytes: number;
  /** Bytes of files in its output directory; past them the run is stopped (`output_limit`). */
  outputBytes: number;
}

export type LimitName = keyof RunLimits;

/** What a job's `limits:` may ask for: any of them, each checked against the data plane's maximum. */
export type RequestedLimits = Partial<RunLimits>;

/** A data plane's limits: what a run gets unless its job asks, and the most a job may ask. */
export interface LimitSettings {
  defaults: RunLimits;
  max: RunLimits;
}

/** How each limit is written in `sovereign.yaml` and named in SOV_RUN_* variables. */
export const limitKeys: Record<LimitName, { yaml: string; env: string; kind: 'bytes' | 'cpus' | 'count' }> = {
  memoryBytes: { yaml: 'memory', env: 'SOV_RUN_MEMORY', kind: 'bytes' },
  cpus: { yaml: 'cpus', env: 'SOV_RUN_CPUS', kind: 'cpus' },
  pids: { yaml: 'pids', env: 'SOV_RUN_PIDS', kind: 'count' },
  tmpBytes: { yaml: 'tmp', env: 'SOV_RUN_TMP', kind: 'bytes' },
  logBytes: { yaml: 'logs', env: 'SOV_RUN_LOG_BYTES', kind: 'bytes' },
  outputBytes: { yaml: 'outputs', env: 'SOV_RUN_OUTPUT_BYTES', kind: 'bytes' },
};

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Below these a run cannot start a shell: a smaller value is a typo, not a limit. */
const floors: RunLimits = {
  memoryBytes: 16 * MiB,
  cpus: 0.01,
  pids: 8,
  tmpBytes: 1 * MiB,
  logBytes: 1 * KiB,
  outputBytes: 0,
};

/** Beyond these no value makes sense on any machine (and cgroup files take them whole). */
const ceilings: RunLimits = {
  memoryBytes: 16 * 1024 * GiB,
  cpus: 1024,
  pids: 4_194_304,
  tmpBytes: 16 * 1024 * GiB,
  logBytes: 1024 * GiB,
  outputBytes: 1024 * 1024 * GiB,
};

export function builtInLimits(): LimitSettings {
  const memory = totalmem();
  return {
    defaults: {
      memoryBytes: Math.min(2 * GiB, memory),
      cpus: 1,
      pids: 512,
      tmpBytes: 512 * MiB,
      logBytes: 100 * MiB,
      outputBytes: 1 * GiB,
    },
    max: {
      memoryBytes: memory,
      cpus: availableParallelism(),
      pids: 32_768,
      tmpBytes: memory,
      logBytes: 10 * GiB,
      outputBytes: 100 * GiB,
    },
  };
}

const units: Record<string, number> = { '': 1, k: KiB, m: MiB, g: GiB, t: 1024 * GiB };

/**
 * `512m`, `512Mi`, `1.5g`, `2GiB` or a number of bytes: binary units all (as Docker reads
 * `512m`), so `m` and `Mi` mean the same. Undefined when it is none of these.
 */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,15}(?:\.\d{1,6})?)\s*([kmgt]?)i?b?$/i.exec(value.trim());
  if (match === null) return undefined;
  const bytes = Math.floor(Number(match[1]) * (units[(match[2] ?? '').toLowerCase()] ?? 1));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A limit's value read from text or a YAML number; undefined when it is not of its kind. */
export function parseLimit(name: LimitName, value: unknown): number | undefined {
  const kind = limitKeys[name].kind;
  if (kind === 'bytes') return parseBytes(value);
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) return undefined;
  if (kind === 'count') return Number.isSafeInteger(number) ? number : undefined;
  // CPUs in hundredths: a cgroup's quota is counted in periods of 100 ms, 1 ms at least.
  return Math.round(number * 100) === number * 100 ? number : undefined;
}

/** Why `value` cannot be this limit (a phrase to follow its name), or undefined when it can. */
export function limitProblem(name: LimitName, value: number, max?: number): string | undefined {
  if (value < floors[name]) return `is below the least a run can work with (${formatLimit(name, floors[name])})`;
  const top = Math.min(max ?? ceilings[name], ceilings[name]);
  if (value > top) {
    return max === undefined
      ? `is over ${formatLimit(name, top)}`
      : `is over this data plane's maximum (${formatLimit(name, top)})`;
  }
  return undefined;
}

/** The limits a run of a job gets: what it asked for, else the data plane's defaults, never above its maximum. */
export function resolveLimits(requested: RequestedLimits | undefined, settings: LimitSettings): RunLimits {
  const out = { ...settings.defaults };
  for (const name of Object.keys(limitKeys) as LimitName[]) {
    const asked = requested?.[name];
    if (asked !== undefined) out[name] = asked;
    out[name] = Math.min(out[name], settings.max[name]);
  }
  return out;
}

/** A limit as people write it: `512 MiB`, `1.5 CPUs`, `512`. */
export function formatLimit(name: LimitName, value: number): string {
  const kind = limitKeys[name].kind;
  if (kind === 'count') return String(value);
  if (kind === 'cpus') return `${value} CPU${value === 1 ? '' : 's'}`;
  for (const [unit, size] of [
    ['GiB', GiB],
    ['MiB', MiB],
    ['KiB', KiB],
  ] as const) {
    if (value >= size && value % (size / 16) === 0) return `${value / size} ${unit}`;
  }
  return `${value} bytes`;
}

/**
 * SOV_RUN_<LIMIT> and SOV_RUN_<LIMIT>_MAX over the built-in settings. A value refused is
 * said to `problems`, naming its variable, and the built-in one stands in.
 */
export function limitSettingsFromEnv(
  variables: { readonly [name: string]: unknown },
  problems: Problems,
): LimitSettings {
  const settings = builtInLimits();
  for (const name of Object.keys(limitKeys) as LimitName[]) {
    const given = { max: false, defaults: false };
    for (const [variable, into] of [
      [`${limitKeys[name].env}_MAX`, 'max'],
      [limitKeys[name].env, 'defaults'],
    ] as const) {
      const raw = variables[variable];
      if (typeof raw !== 'string' || raw === '') continue;
      const value = parseLimit(name, raw);
      const problem =
        value === undefined ? `"${raw}" is not ${describeKind(name)}` : limitProblem(name, value, undefined);
      if (problem !== undefined || value === undefined) {
        problems.add(variable, `${variable} ${problem}`);
        continue;
      }
      settings[into][name] = value;
      given[into] = true;
    }
    if (settings.defaults[name] > settings.max[name]) {
      // An explicit default above the maximum is a contradiction; the built-in one gives way.
      if (given.defaults) {
        problems.add(
          limitKeys[name].env,
          `${limitKeys[name].env} is over ${limitKeys[name].env}_MAX (${formatLimit(name, settings.max[name])})`,
        );
      }
      settings.defaults[name] = settings.max[name];
    }
  }
  return settings;
}

export function describeKind(name: LimitName): string {
  const kind = limitKeys[name].kind;
  if (kind === 'bytes') return 'a size such as 512m or 2g';
  if (kind === 'cpus') return 'a number of CPUs such as 0.5 or 2';
  return 'a whole number';
}
