import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { databaseTargets } from '@sovereign/server-kit/testing';
import pg from 'pg';
import { appUrlOf } from '../support/apps.ts';
import { dropIntoRun, runPids } from '../support/inside.ts';
import { call, dataScopes, expectStatus, Platform } from '../support/platform.ts';

/**
 * R9, tried as an attacker would: two organizations share data plane eu-1; a job of B
 * holds its secret in every place a run keeps things (its environment, working copy,
 * /tmp, output directory, state file) and serves an app; a job of A, told every path,
 * pid, port and socket an attacker could learn, tries to reach them all
 * (support/hostile/attack.mjs). Each attempt must fail, and B's run must end untouched.
 * With SOV_TEST_SANDBOX=off (data planes started with SOV_SANDBOX=off) this suite fails:
 * that is how it was seen to test the jail and not its own setup.
 */

const hostile = join(import.meta.dirname, '../support/hostile/attack.mjs');
const reach = join(import.meta.dirname, '../support/hostile/reach.mjs');

const victimProject = {
  'sovereign.yaml': `jobs:
  - name: victim
    run: sh victim.sh
    timeout: 10m
  - name: shop
    kind: interactive
    run: node shop.mjs
`,
  'victim.sh': `echo "$B_SECRET" > secret.txt
echo "$B_SECRET" > /tmp/victim-secret.txt
echo "$B_SECRET" > "$SOV_OUTPUT_DIR/secret.txt"
printf '{"cursor":"%s"}' "$B_SECRET" > "$SOV_STATE_FILE"
touch "$HOME/victim-here"
echo "victim ready"
i=0
while [ ! -f "$HOME/finish" ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done
[ -f "$HOME/finish" ] || exit 3
cat secret.txt /tmp/victim-secret.txt "$SOV_OUTPUT_DIR/secret.txt" | grep -c -F "$B_SECRET"
`,
  'shop.mjs': `import { createServer } from 'node:http';
createServer((req, res) => res.end('shop of ' + process.env.B_SECRET)).listen(Number(process.env.PORT), '127.0.0.1');
`,
};

/** This machine's addresses other than loopback: where a service listening beyond loopback is reached. */
function externalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => (a as { address: string }).address);
}

/** The pids of a process's children whose command line holds `match`. */
async function childrenOf(pid: number, match: string): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,args=', '--ppid', String(pid)]);
  return stdout
    .split('\n')
    .filter((line) => line.includes(match))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** Where PostgreSQL keeps its files and sockets, when the suite runs on it. */
async function postgresPlaces(): Promise<{ dataDir?: string; socketDirs: string[]; port?: number }> {
  const url = process.env.SOV_TEST_DATABASE_URL;
  if (url === undefined || url === '') return { socketDirs: [] };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const dataDir = (await client.query('SHOW data_directory')).rows[0]?.data_directory as string | undefined;
    const sockets = (await client.query('SHOW unix_socket_directories')).rows[0]?.unix_socket_directories as string;
    return {
      ...(dataDir === undefined ? {} : { dataDir }),
      socketDirs: (sockets ?? '').split(',').map((s) => s.trim()),
      port: Number(new URL(url).port || 5432),
    };
  } finally {
    await client.end();
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.map((e) => join(e.parentPath, e.name));
}

for (const target of databaseTargets()) {
  describe(`a run touches nothing but its own: a hostile job in a real jail [${target.name}]`, () => {
    let platform: Platform;
    let a: Awaited<ReturnType<Platform['tenant']>>;
    let b: Awaited<ReturnType<Platform['tenant']>>;
    let outside: Server;
    let outsideSeen = 0;
    const canary = `B-SECRET-${randomBytes(8).toString('hex')}`;
    const ownSecret = `A-SECRET-${randomBytes(8).toString('hex')}`;
    const runs: Record<string, string> = {};

    const status = async (token: string, runId: string) =>
      expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token });
    const ended = async (token: string, runId: string) => {
      let run: { status: string } = { status: '' };
      await platform.waitFor(
        async () => {
          run = await status(token, runId);
          return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(run.status);
        },
        `run ${runId} to end`,
        120_000,
      );
      return run as { status: string; exitCode: number | null; reasonCode: string | null };
    };
    const logs = async (tenant: typeof a, runId: string) => {
      const { token, dataplane } = await platform.scopedToken(tenant.token, tenant.workspace.workspaceId, [
        'runs:logs',
      ]);
      const answer = await expectStatus(200, 'GET', `${dataplane.url}/api/v1/runs/${runId}/logs`, { token });
      return answer.data.map((l: { line: string }) => l.line) as string[];
    };
    const setSecret = async (tenant: typeof a, name: string, value: string) => {
      const { token, dataplane } = await platform.scopedToken(tenant.token, tenant.workspace.workspaceId, [
        'variables:write',
      ]);
      await platform.waitUntilHosted(tenant.token, tenant.workspace.workspaceId);
      await expectStatus(
        200,
        'PUT',
        `${dataplane.url}/api/v1/workspaces/${tenant.workspace.workspaceId}/variables/${name}`,
        { token, body: { value, secret: true } },
      );
    };

    before(async () => {
      // A server on this machine's own address, as any host of the outside world would be.
      outside = createServer((socket) => {
        outsideSeen += 1;
        socket.end('hello from outside\n');
      });
      await new Promise<void>((resolve) => outside.listen(0, '0.0.0.0', resolve));
      platform = await Platform.start(target);
      a = await platform.tenant('eu', 'attacker');
      b = await platform.tenant('eu', 'victim');
      assert.equal(a.plane.name, b.plane.name, 'both tenants share one data plane');
      assert.notEqual(a.organizationId, b.organizationId);
      await setSecret(b, 'B_SECRET', canary);
      await setSecret(a, 'A_SECRET', ownSecret);
      const victim = await platform.deploy(b.token, b.workspace.workspaceId, victimProject);
      runs.victim = (
        await expectStatus(200, 'POST', `${platform.cp}/jobs/${victim.jobs.victim}/runs`, { token: b.token })
      ).runId;
      runs.shop = (
        await expectStatus(200, 'POST', `${platform.cp}/jobs/${victim.jobs.shop}/runs`, { token: b.token })
      ).runId;
      await platform.waitFor(
        async () => {
          const shop = await status(b.token, runs.shop as string);
          // Said at once, with why: an app that ended will never be running.
          assert.ok(
            !['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(shop.status),
            JSON.stringify(shop),
          );
          return shop.status === 'running';
        },
        'the victim’s app',
        60_000,
      );
      await platform.waitFor(
        async () => (await logs(b, runs.victim as string)).includes('victim ready'),
        'the victim to hold its secret everywhere',
        60_000,
      );
    });
    after(async () => {
      await platform?.stop();
      await new Promise((resolve) => outside?.close(resolve));
    });

    it('a job of another organization reaches nothing of the victim, the data planes or the machine', async () => {
      const eu = platform.dp('eu-1');
      const us = platform.dp('us-1');
      const victimPids = await runPids(runs.victim as string);
      const appPids = await runPids(runs.shop as string);
      assert.ok(victimPids.length > 0 && appPids.length > 0, 'the victim’s processes are found');
      // Where the victim's run lives on this machine, jailed or not: the directory with its mark.
      const homes = [
        ...(await filesUnder(platform.sandboxDir(eu))),
        ...(await filesUnder(join(eu.dataDir, 'work', '.runs'))),
      ].filter((p) => p.endsWith('/victim-here'));
      assert.equal(homes.length, 1, 'the victim’s run directory is found on this machine');
      const victimHome = (homes[0] as string).slice(0, -'/victim-here'.length);
      const appPort = Number(
        (await readFile(`/proc/${appPids[0]}/environ`, 'utf8'))
          .split('\0')
          .find((e) => e.startsWith('PORT='))
          ?.slice(5),
      );
      const postgres = await postgresPlaces();
      const dataPlanePid = eu.service.process.pid as number;
      const health = await expectStatus(200, 'GET', `${platform.cp}/dataplanes/${eu.dataplaneId}/health`, {
        token: platform.adminToken,
      });
      const plan = {
        canaries: [canary, eu.clientSecret, us.clientSecret],
        ids: [
          eu.clientId,
          us.clientId,
          eu.dataplaneId,
          ...health.instances.map((i: { instanceId: string }) => i.instanceId),
        ],
        ownSecret,
        paths: [
          eu.dataDir,
          join(eu.dataDir, 'db'),
          join(eu.dataDir, 'artifacts'),
          join(eu.dataDir, 'work'),
          join(eu.dataDir, 'work', '.deployments'),
          us.dataDir,
          platform.home,
          join(platform.home, 'cp'),
          platform.jails,
          platform.sandboxDir(eu),
          victimHome,
          join(victimHome, 'app', 'secret.txt'),
          join(victimHome, 'state.json'),
          join(victimHome, 'outputs', 'secret.txt'),
          '/tmp/victim-secret.txt',
          '/root',
          '/home',
          '/var/lib/postgresql',
          ...(postgres.dataDir === undefined ? [] : [postgres.dataDir]),
        ],
        pids: [
          ...victimPids,
          ...appPids,
          dataPlanePid,
          us.service.process.pid as number,
          platform.controlPlane.process.pid as number,
          ...(await childrenOf(dataPlanePid, 'spawner-main.ts')),
        ],
        hosts: ['127.0.0.1', '10.0.2.2', ...externalAddresses()],
        ports: [
          Number(new URL(eu.url).port),
          Number(new URL(us.url).port),
          Number(new URL(platform.controlPlane.url).port),
          appPort,
          ...(postgres.port === undefined ? [] : [postgres.port]),
        ],
        sockets: [
          ...(await filesUnder(join(platform.jails, 's'))).filter((path) => path.endsWith('/app')),
          ...postgres.socketDirs.map((dir) => join(dir, `.s.PGSQL.${postgres.port}`)),
        ],
      };
      const attacker = await platform.deploy(a.token, a.workspace.workspaceId, {
        'sovereign.yaml': 'jobs:\n  - name: attacker\n    run: node attack.mjs\n    timeout: 5m\n',
        'attack.mjs': await readFile(hostile, 'utf8'),
        'plan.json': JSON.stringify(plan),
        'own.txt': 'mine\n',
      });
      const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${attacker.jobs.attacker}/runs`, {
        token: a.token,
      });
      const end = await ended(a.token, run.runId);
      const lines = await logs(a, run.runId);
      assert.equal(end.status, 'succeeded', `the attacker ran to its end: ${lines.slice(-5).join(' | ')}`);
      const attempts = lines
        .filter((l) => l.startsWith('ATTEMPT '))
        .map((l) => JSON.parse(l.slice(8)) as { name: string; reached: boolean; detail: string });
      const expected =
        plan.paths.length + plan.pids.length * 6 + plan.hosts.length * plan.ports.length + plan.sockets.length + 22;
      assert.equal(attempts.length, expected, 'every attempt was made');
      const reached = attempts.filter((x) => x.reached);
      assert.deepEqual(reached, [], 'nothing outside its own run is within reach');
      const controls = JSON.parse(lines.find((l) => l.startsWith('CONTROLS '))?.slice(9) ?? '{}');
      assert.deepEqual(
        controls,
        { ownSecret: true, ownFile: true, ownTmp: true, ownOutput: true, uid: controls.uid, ownPtrace: true },
        'the attacker’s own places work: its failures are the jail’s doing',
      );
      assert.notEqual(controls.uid, 0, 'the job is not root');
      for (const line of lines) assert.ok(!line.includes(canary), 'the victim’s secret never shows');
    });

    it('the data plane’s helpers (its spawner, the jails’ network, the apps’ bridges) hold none of its credentials', async () => {
      const eu = platform.dp('eu-1');
      const credentials = {
        SOV_CLIENT_SECRET: eu.clientSecret,
        SOV_MASTER_KEY: eu.env.SOV_MASTER_KEY as string,
      };
      const tree = await descendantsOf(eu.service.process.pid as number);
      const commands = tree.map((p) => p.args).join('\n');
      // Not vacuous: a job and an app run, so the spawner, slirp4netns and an app's bridge are among them.
      for (const helper of ['spawner-main', 'slirp4netns', 'socat']) {
        assert.ok(commands.includes(helper), `${helper} runs under the data plane:\n${commands}`);
      }
      for (const { pid, args } of tree) {
        const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
        for (const [name, value] of Object.entries(credentials)) {
          assert.ok(!environ.includes(value), `${args} (pid ${pid}) holds the data plane's ${name}`);
          assert.ok(!environ.split('\0').some((e) => e.startsWith(`${name}=`)), `${args} (pid ${pid}) has ${name}`);
        }
      }
    });

    it('the victim’s run ends untouched: its secret, working copy, /tmp, outputs, state and app as it left them', async () => {
      await dropIntoRun(runs.victim as string, 'finish');
      const end = await ended(b.token, runs.victim as string);
      assert.deepEqual([end.status, end.reasonCode], ['succeeded', 'exit_zero']);
      assert.deepEqual(await logs(b, runs.victim as string), ['victim ready', '3']);
      const { token, dataplane } = await platform.scopedToken(b.token, b.workspace.workspaceId, dataScopes);
      const output = await call('GET', `${dataplane.url}/api/v1/runs/${runs.victim}/outputs/secret.txt`, { token });
      assert.equal(output.body, `${canary}\n`);
      const state = await expectStatus(
        200,
        'GET',
        `${dataplane.url}/api/v1/workspaces/${b.workspace.workspaceId}/jobs/victim/state`,
        { token },
      );
      assert.deepEqual(state.state, { cursor: canary });
      const app = await platform.scopedToken(b.token, b.workspace.workspaceId, ['interactive']);
      const shop = await call('GET', await appUrlOf(`${dataplane.url}/api/v1/interactive/${runs.shop}/`), {
        token: app.token,
      });
      assert.deepEqual([shop.status, shop.body], [200, `shop of ${canary}`]);
    });

    it('what a job can reach: the world outside and names (unless network: none), its own loopback, nothing of this machine', async () => {
      const [host] = externalAddresses();
      assert.ok(host !== undefined, 'this machine has an address beyond loopback');
      const port = (outside.address() as { port: number }).port;
      const job = (network: string) => `  - name: net_${network}
    run: node reach.mjs ${host} ${port}
${network === 'none' ? '    network: none\n' : ''}`;
      const deployed = await platform.deploy(a.token, a.workspace.workspaceId, {
        'sovereign.yaml': `jobs:\n${job('outside')}${job('none')}`,
        'reach.mjs': await readFile(reach, 'utf8'),
      });
      const results: Record<string, string[]> = {};
      for (const network of ['outside', 'none']) {
        const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${deployed.jobs[`net_${network}`]}/runs`, {
          token: a.token,
        });
        const end = await ended(a.token, run.runId);
        results[network] = await logs(a, run.runId);
        const said = platform
          .dp('eu-1')
          .service.output()
          .split('\n')
          .filter((line) => line.includes(run.runId) || /"level":(40|50)|Error|error/.test(line));
        assert.equal(end.status, 'succeeded', `${end.reasonCode}: ${results[network]?.join(' | ')} ${said.join('\n')}`);
      }
      // Names: slirp4netns's resolver asks this machine's own, so the job hears what this machine would.
      const ownNameserver = /^nameserver\s+(\S+)/m.exec(await readFile('/etc/resolv.conf', 'utf8'))?.[1];
      assert.ok(ownNameserver !== undefined, 'this machine names a resolver');
      const { stdout } = await promisify(execFile)(process.execPath, [reach, 'resolver', ownNameserver]);
      const ownAnswer = stdout.trim();
      assert.match(ownAnswer, /^resolver answered rcode \d+$/, 'this machine’s resolver answers');
      assert.deepEqual(results.outside, [
        'reached hello from outside',
        'nameserver 10.0.2.3',
        ownAnswer,
        'own loopback',
      ]);
      assert.equal(results.none?.[0]?.startsWith('refused '), true, `no network at all: ${results.none?.[0]}`);
      assert.deepEqual(results.none?.slice(1, 2), ['no-resolver']);
      assert.match(results.none?.[2] ?? '', /^no resolver answer /);
      assert.deepEqual(results.none?.slice(3), ['own loopback']);
      assert.equal(outsideSeen, 1, 'only the job with a network reached the outside');
    });
  });
}

/** Every process under `root` (not itself), with its command line, read from ps. */
async function descendantsOf(root: number): Promise<Array<{ pid: number; args: string }>> {
  const { stdout } = await promisify(execFile)('ps', ['-e', '-o', 'pid=,ppid=,args=']);
  const rows = stdout
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m) => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] as string }));
  const found: Array<{ pid: number; args: string }> = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const row of rows) {
      if (parents.has(row.ppid) && !parents.has(row.pid)) {
        parents.add(row.pid);
        found.push({ pid: row.pid, args: row.args });
        grew = true;
      }
    }
  }
  return found;
}
