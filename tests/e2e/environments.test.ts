import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { sov, sovOk } from '../support/cli.ts';
import { call, expectStatus, Platform } from '../support/platform.ts';
import { packProject } from '../support/projects.ts';
import { buildWheel } from '../support/wheels.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const target = flowTarget();

/** An example's files, as `sov deploy` packs them. */
async function example(name: string, files: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of files) out[file] = await readFile(join(repoRoot, 'examples', name, file), 'utf8');
  return out;
}

/**
 * Environments built in the region from a project's own lock files, in a jail, once per
 * set of pins: a Python pipeline from requirements.txt (a local wheelhouse stands in for
 * the region's mirror) and a Node job from package-lock.json.
 */
describe(`environments built in the region from lock files, real processes [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let wheelhouse: string;
  let deployUrl: string;
  let token: string;

  const deploy = async (files: Record<string, string>, dryRun = false) =>
    call('POST', `${deployUrl}${dryRun ? '?dryRun=true' : ''}`, {
      token,
      raw: new Uint8Array(await packProject(files)),
      headers: { 'content-type': 'application/gzip' },
    });
  const runToEnd = async (jobId: string) => {
    const run = await platform.runToEnd(t.token, jobId);
    const issued = await platform.scopedToken(t.token, t.workspace.workspaceId, ['runs:logs']);
    const logs = await expectStatus(200, 'GET', `${issued.dataplane.url}/api/v1/runs/${run.runId}/logs`, {
      token: issued.token,
    });
    return { status: run.status, lines: logs.data.map((line: { line: string }) => line.line) as string[] };
  };

  before(async () => {
    wheelhouse = await mkdtemp(join(tmpdir(), 'sov-wheels-'));
    buildWheel(wheelhouse, 'sovereign-demo-extra', '2.0.0', { 'sovereign_demo_extra.py': 'NAME = "extra"\n' });
    // A newer version than the locks pin: a lock must win over "the newest there is".
    buildWheel(wheelhouse, 'sovereign-demo-transform', '2.0.0', {
      'sovereign_demo_transform/__init__.py': 'def normalise(row):\n    return row\n',
    });
    buildWheel(wheelhouse, 'sovereign-demo-transform', '1.0.0', {
      'sovereign_demo_transform/__init__.py':
        'def normalise(row):\n    return {key.lower(): value.strip() for key, value in row.items()}\n',
    });
    // A cache of one byte keeps only the environment built last: every other build sweeps the rest.
    platform = await Platform.start(target, {
      dataplaneEnv: { SOV_PIP_FIND_LINKS: wheelhouse, SOV_ENVIRONMENT_CACHE_BYTES: '1' },
    });
    t = await platform.tenant('eu', 'envs');
    await platform.waitUntilHosted(t.token, t.workspace.workspaceId);
    const issued = await platform.scopedToken(t.token, t.workspace.workspaceId, [
      'deployments:write',
      'deployments:read',
    ]);
    token = issued.token;
    deployUrl = `${issued.dataplane.url}/api/v1/workspaces/${t.workspace.workspaceId}/deployments`;
  });
  after(async () => {
    await platform?.stop();
    await rm(wheelhouse, { recursive: true, force: true });
  });

  it('builds a Python job’s environment from requirements.txt, runs it, and builds nothing for the same pins again', async () => {
    const files = await example('python-pipeline', ['sovereign.yaml', 'requirements.txt', 'pipeline.py']);
    const dry = await expectStatus(200, 'POST', `${deployUrl}?dryRun=true`, {
      token,
      raw: new Uint8Array(await packProject(files)),
      headers: { 'content-type': 'application/gzip' },
    });
    assert.deepEqual(dry.environments, [{ kind: 'python', built: true }], 'the dry run says one must be built');

    const first = await deploy(files);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body.environments, [{ kind: 'python', built: true }]);
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, files);
    const run = await runToEnd(jobs.pipeline as string);
    assert.equal(run.status, 'succeeded', run.lines.join('\n'));
    assert.ok(run.lines.includes('transformed 2 rows: [{"name": "Ada"}, {"name": "Grace"}]'), run.lines.join('\n'));
    assert.match(
      run.lines.join('\n'),
      /in \/run\/sovereign\/environments\/python/,
      'its Python is the built environment’s',
    );

    const again = await deploy({ ...files, 'pipeline.py': `${files['pipeline.py']}\n# changed code, same pins\n` });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.environments, [{ kind: 'python', built: false }], 'the same pins build nothing');
  });

  it('refuses a deployment whose environment cannot be built, with the build’s log, and keeps the current one', async () => {
    const before = await expectStatus(200, 'GET', deployUrl, { token });
    const files = await example('python-pipeline', ['sovereign.yaml', 'pipeline.py']);
    const refused = await deploy({ ...files, 'requirements.txt': 'no-such-package-anywhere==9.9\n' });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'environment_build_failed');
    assert.equal(refused.body.environment, 'python');
    assert.match(refused.body.buildLog.join('\n'), /no-such-package-anywhere/);
    const now = await expectStatus(200, 'GET', deployUrl, { token });
    assert.equal(now.data[0].deploymentId, before.data[0].deploymentId, 'the current deployment stays');
    // ...and goes on running: its job runs in the environment built for it.
    const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${t.workspace.workspaceId}/jobs`, {
      token: t.token,
    });
    const pipeline = jobs.data.find((j: { name: string }) => j.name === 'pipeline');
    assert.equal(pipeline.deploymentId, before.data[0].deploymentId);
    const run = await runToEnd(pipeline.jobId);
    assert.equal(run.status, 'succeeded', run.lines.join('\n'));
    assert.ok(run.lines.includes('transformed 2 rows: [{"name": "Ada"}, {"name": "Grace"}]'), run.lines.join('\n'));
  });

  it('builds in a jail: an install script reads none of the data plane’s files, other environments or runs, and cannot reach this machine', async () => {
    const eu = platform.dp('eu-1');
    const places = [
      eu.dataDir,
      join(eu.dataDir, 'db'),
      platform.sandboxDir(eu),
      join(platform.jails, 'env'),
      // Where a run of the Python job finds its environment: mounted for that job's runs only.
      '/run/sovereign/environments/python',
    ];
    const probe = [
      ...places.map(
        (place) =>
          `if ls ${JSON.stringify(place)} >/dev/null 2>&1; then echo "READ ${place}"; else echo "denied ${place}"; fi`,
      ),
      `node -e "fetch('${platform.controlPlaneUrl}/readyz').then(() => console.log('REACHED the control plane'), () => console.log('unreachable: the control plane'))"`,
      'exit 1',
    ].join('; ');
    const pkg = { name: 'hostile', private: true, scripts: { preinstall: probe } };
    const lock = { name: 'hostile', lockfileVersion: 3, requires: true, packages: { '': { name: 'hostile' } } };
    const refused = await deploy({
      'sovereign.yaml': 'jobs:\n  - name: noop\n    run: "true"\n',
      'package.json': JSON.stringify(pkg),
      'package-lock.json': JSON.stringify(lock),
    });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    const log = (refused.body.buildLog as string[]).join('\n');
    // Lines of the script's own output (npm echoes the script first, with every word of it).
    const said = new Set(log.split('\n'));
    for (const place of places) assert.ok(said.has(`denied ${place}`), `${place} is out of the build's reach:\n${log}`);
    assert.doesNotMatch(log, /^(READ |REACHED)/m);
    assert.ok(said.has('unreachable: the control plane'), log);
  });

  it('sov deploy shows the build’s output as the data plane streams it, and a refusal with the end of its log', async () => {
    const project = await mkdtemp(join(tmpdir(), 'sov-env-project-'));
    const config = await mkdtemp(join(tmpdir(), 'sov-env-cli-'));
    try {
      const files = await example('python-pipeline', ['sovereign.yaml', 'requirements.txt', 'pipeline.py']);
      // Another set of pins (a comment is enough): a build of its own.
      files['requirements.txt'] = `# pinned for the CLI test\n${files['requirements.txt']}`;
      for (const [name, text] of Object.entries(files)) await writeFile(join(project, name), text);
      const env = { SOV_API_URL: platform.controlPlaneUrl, SOV_TOKEN: t.token, NO_COLOR: '1' };
      const args = ['-w', t.workspace.workspaceId, 'deploy', project, '--yes'];
      const deployed = await sovOk(config, args, { env });
      assert.match(deployed.stderr, /^Building the environment in the region:$/m);
      assert.match(deployed.stderr, /^ {2}│ Successfully installed sovereign-demo-transform-1\.0\.0$/m);
      assert.match(deployed.stdout, /python environment: built in the region/);
      const cached = await sovOk(config, args, { env });
      assert.doesNotMatch(cached.stderr, /Building the environment/);
      assert.match(cached.stdout, /python environment: up to date \(built before\)/);

      await writeFile(join(project, 'requirements.txt'), 'no-such-package-anywhere==9.9\n');
      const refused = await sov(config, args, { env });
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /The python environment could not be built: it ended with exit code 1\. \[environment_build_failed\]/,
      );
      assert.match(refused.stderr, /no-such-package-anywhere/);
      assert.match(refused.stderr, /the current deployment goes on running/);
    } finally {
      await rm(project, { recursive: true, force: true });
      await rm(config, { recursive: true, force: true });
    }
  });

  it('builds a Node job’s environment from package-lock.json with npm ci, and the job imports its dependency', async () => {
    const files = await example('node-dependency', [
      'sovereign.yaml',
      'package.json',
      'package-lock.json',
      'check.mjs',
    ]);
    const deployed = await deploy(files);
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    assert.deepEqual(deployed.body.environments, [{ kind: 'node', built: true }]);
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, files);
    const run = await runToEnd(jobs.check as string);
    assert.equal(run.status, 'succeeded', run.lines.join('\n'));
    assert.deepEqual(run.lines, ['"42" is a number', '"forty-two" is not a number', '7 is a number']);
  });

  it('gives a job the environment of its own directory (environment:), apart from the project’s', async () => {
    const probe = (name: string) =>
      `python3 -c "import importlib.util as u; print('${name}:', *(m for m in ('sovereign_demo_transform', 'sovereign_demo_extra') if u.find_spec(m)))"`;
    const files = {
      'sovereign.yaml': `jobs:\n  - name: main\n    run: ${JSON.stringify(probe('main'))}\n  - name: reporting\n    environment: envs/reporting\n    run: ${JSON.stringify(probe('reporting'))}\n`,
      'requirements.txt': 'sovereign-demo-transform==1.0.0\n',
      'envs/reporting/requirements.txt': 'sovereign-demo-extra==2.0.0\n',
    };
    const deployed = await deploy(files);
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    assert.equal(deployed.body.environments.length, 2, 'two environments, one per directory');
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, files);
    const main = await runToEnd(jobs.main as string);
    assert.deepEqual(main.lines, ['main: sovereign_demo_transform']);
    const reporting = await runToEnd(jobs.reporting as string);
    assert.deepEqual(reporting.lines, ['reporting: sovereign_demo_extra'], 'its own packages, not the project’s');

    const refused = await deploy({
      ...files,
      'sovereign.yaml': files['sovereign.yaml'].replace('envs/reporting', 'envs/nowhere'),
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'manifest_invalid');
    assert.deepEqual(refused.body.errors, [
      {
        path: 'jobs[1].environment',
        message: 'envs/nowhere holds no requirements.txt, nor a package.json with its package-lock.json',
      },
    ]);
  });

  it('builds from a pyproject.toml with its uv.lock, taking the locked versions; refuses one without a lock, or another Python', async () => {
    const pyproject =
      '[project]\nname = "pipeline"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ["sovereign-demo-transform"]\n';
    const uvLock = [
      'version = 1',
      'requires-python = ">=3.11"',
      '',
      '[[package]]',
      'name = "pipeline"',
      'version = "0.1.0"',
      'source = { virtual = "." }',
      'dependencies = [{ name = "sovereign-demo-transform" }]',
      '',
      '[[package]]',
      'name = "sovereign-demo-transform"',
      'version = "1.0.0"',
      'source = { registry = "https://pypi.org/simple" }',
      '',
    ].join('\n');
    const manifest = `jobs:\n  - name: locked\n    run: ${JSON.stringify("python3 -c \"import importlib.metadata as m; print('transform', m.version('sovereign-demo-transform'))\"")}\n`;
    const files = {
      'sovereign.yaml': manifest,
      'pyproject.toml': pyproject,
      'uv.lock': uvLock,
      '.python-version': '3.11\n',
    };
    const deployed = await deploy(files);
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    assert.deepEqual(deployed.body.environments, [{ kind: 'python', built: true }]);
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, files);
    const run = await runToEnd(jobs.locked as string);
    assert.deepEqual(run.lines, ['transform 1.0.0'], 'the locked version, though 2.0.0 is in the wheelhouse');

    const unlocked = await deploy({ 'sovereign.yaml': manifest, 'pyproject.toml': pyproject });
    assert.equal(unlocked.status, 422, JSON.stringify(unlocked.body));
    assert.match(
      unlocked.body.buildLog.join('\n'),
      /pyproject\.toml comes without a lock: add its uv\.lock or pylock\.toml/,
    );
    const other = await deploy({ ...files, '.python-version': '2.7\n' });
    assert.equal(other.status, 422, JSON.stringify(other.body));
    assert.match(
      other.body.buildLog.join('\n'),
      /The project asks for Python 2\.7 \(\.python-version\); this data plane builds with Python 3\.\d+\./,
    );
  });

  it('keeps the cache within its budget, and builds a swept environment again for the run that needs it', async () => {
    const eu = platform.dp('eu-1');
    const envRoot = join(platform.jails, 'env');
    const built = async () =>
      (await readdir(envRoot, { recursive: true })).filter((p) => p.endsWith('.sovereign-environment.json')).length;
    // The Node build (the test before) was the last: it is all a one-byte cache keeps.
    assert.equal(await built(), 1, 'one environment is left');
    const files = await example('python-pipeline', ['sovereign.yaml', 'requirements.txt', 'pipeline.py']);
    files['requirements.txt'] = `# pins of the sweep test\n${files['requirements.txt']}`;
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, files);
    // Another workspace's build on the same data plane sweeps it: no run holds it.
    const other = await platform.workspace(t.token, t.organizationId, 'eu', 'envs-other');
    const node = await example('node-dependency', ['sovereign.yaml', 'package.json', 'package-lock.json', 'check.mjs']);
    node['package.json'] = (node['package.json'] ?? '').replace(
      '"private": true',
      '"private": true, "description": "other"',
    );
    await platform.deploy(t.token, other.workspaceId, node);
    assert.equal(await built(), 1, 'the budget holds: only the last build is kept');

    const run = await runToEnd(jobs.pipeline as string);
    assert.equal(run.status, 'succeeded', run.lines.join('\n'));
    assert.ok(run.lines.includes('transformed 2 rows: [{"name": "Ada"}, {"name": "Grace"}]'));
    assert.match(eu.service.output(), /building an environment again for a run/);
    assert.equal(await built(), 1, 'still one: the Python one, built again for the run, in place of the Node one');
  });
});
