import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@sovereign/server-kit/testing';
import pg from 'pg';

/** A PostgreSQL server the benches (and the peer) share, and how it came to be. */
export interface BenchPostgres {
  url: string;
  source: string;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

/** Newest PostgreSQL binaries Debian installed, as .ci/run finds them. */
function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  return newest === undefined ? undefined : join(root, newest, 'bin');
}

async function settingsOf(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: Record<string, string> = {};
    for (const name of ['server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections']) {
      const { rows } = await client.query(`SHOW ${name}`);
      out[name] = String(Object.values(rows[0] ?? {})[0]);
    }
    return out;
  } finally {
    await client.end();
  }
}

/**
 * SOV_BENCH_DATABASE_URL or SOV_TEST_DATABASE_URL when set (the server is left running);
 * otherwise a throwaway cluster from Debian's binaries with the server's defaults
 * (fsync on), owned by the postgres user because initdb refuses root; otherwise none.
 */
export async function benchPostgres(allowThrowaway: boolean): Promise<BenchPostgres | undefined> {
  const url = process.env.SOV_BENCH_DATABASE_URL || process.env.SOV_TEST_DATABASE_URL;
  if (url) {
    const source = process.env.SOV_BENCH_DATABASE_URL ? 'SOV_BENCH_DATABASE_URL' : 'SOV_TEST_DATABASE_URL';
    return { url, source, settings: await settingsOf(url), stop: async () => {} };
  }
  const bin = allowThrowaway ? pgBin() : undefined;
  if (bin === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sov-bench-pg-'));
  const root = process.getuid?.() === 0;
  const asPg = (command: string, args: string[]) => {
    const result = root
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' })
      : spawnSync(command, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
  };
  if (root) {
    const known = spawnSync('id', ['-u', 'postgres']);
    if (known.status !== 0) execFileSync('useradd', ['--system', '--home', dir, 'postgres']);
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, -1);
  }
  const port = await freePort();
  asPg(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', 'sov', '--auth=trust', '--encoding=UTF8']);
  asPg(join(bin, 'pg_ctl'), [
    '-D',
    join(dir, 'data'),
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-o',
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=300`,
    'start',
  ]);
  const throwaway = `postgres://sov@127.0.0.1:${port}/postgres`;
  return {
    url: throwaway,
    source: `throwaway cluster from ${bin} (server defaults, fsync on)`,
    settings: await settingsOf(throwaway),
    async stop() {
      try {
        asPg(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
