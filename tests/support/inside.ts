import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A test's way into a running job, as the machine's root sees it: jobs run in jails that
 * reach no directory of the test's, so a test finds a run's processes by the environment
 * the data plane gave them (SOV_RUN_ID), and their files through /proc/<pid>/root. Needs
 * root, as jails do.
 */

interface JobProcess {
  pid: number;
  env: Map<string, string>;
}

async function jobProcesses(): Promise<JobProcess[]> {
  const out: JobProcess[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const raw = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    if (!raw.includes('SOV_RUN_ID=')) continue;
    const env = new Map<string, string>();
    for (const entry of raw.split('\0')) {
      const at = entry.indexOf('=');
      if (at > 0) env.set(entry.slice(0, at), entry.slice(at + 1));
    }
    out.push({ pid: Number(name), env });
  }
  return out;
}

/** Host pids of the processes of a run (of one attempt, when given), right now. */
export async function runPids(runId: string, attempt?: number): Promise<number[]> {
  return (await jobProcesses())
    .filter((p) => p.env.get('SOV_RUN_ID') === runId)
    .filter((p) => attempt === undefined || p.env.get('SOV_ATTEMPT') === String(attempt))
    .map((p) => p.pid);
}

/**
 * Writes a file into a running job's home directory (its $HOME, in its jail), as if the
 * job's author dropped it there: the word a gated job waits for. Retries while the run's
 * processes come and go, for up to `timeoutMs`. Only a process started (exec'd) once the
 * run's environment was set carries SOV_RUN_ID in /proc/<pid>/environ: a command the
 * jail's shell runs itself (a bare `while` loop) is a fork of that shell and carries none,
 * and its `sleep`s live a tenth of a second each. A gated job runs a program of its own
 * (`sh gate.sh`, `node wait.js`). `explain` adds
 * what the suite knows of the run (its status, its data plane's words) to a failure.
 */
export async function dropIntoRun(
  runId: string,
  name: string,
  content = '',
  timeoutMs = 30_000,
  explain: () => Promise<string> = async () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let seen = 'none';
  while (Date.now() < deadline) {
    const processes = (await jobProcesses()).filter((p) => p.env.get('SOV_RUN_ID') === runId);
    if (processes.length > 0) seen = (await Promise.all(processes.map(described))).join('; ');
    for (const process of processes) {
      try {
        await writeFile(join(`/proc/${process.pid}/root`, process.env.get('HOME') ?? '/', name), content);
        return;
      } catch (error) {
        last = error; // that process ended meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // What was there, so a failure says whether the run never started or ended early.
  throw new Error(
    `no process of run ${runId} to drop ${name} into (${String(last)}); last seen: ${seen}${await explain().catch(String)}`,
  );
}

/** A process as a failure describes it: its pid, command line and HOME. */
async function described(process: JobProcess): Promise<string> {
  const command = await readFile(`/proc/${process.pid}/cmdline`, 'utf8').catch(() => '(gone)');
  return `${process.pid} ${command.replaceAll('\0', ' ').trim().slice(0, 120)} HOME=${process.env.get('HOME')}`;
}

/**
 * Whether a process of this machine still runs. A zombie does not: it has ended, and
 * only waits for a parent we do not control (an orphan's, pid 1) to read its status.
 */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command's name, in parentheses that may hold anything.
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}
