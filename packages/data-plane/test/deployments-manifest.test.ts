import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobMetadata, maxManifestBytes, parseDuration, parseManifest } from '../src/deployments/index.ts';

/** The errors of a manifest that must be refused, as `path: message` lines. */
function refused(text: string): string[] {
  const result = parseManifest(text);
  assert.equal(result.ok, false, 'the manifest is refused');
  return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
}

function accepted(text: string) {
  const result = parseManifest(text);
  assert.ok(result.ok, `the manifest is accepted: ${JSON.stringify(result.ok ? [] : result.errors)}`);
  return result;
}

const hasLine = (lines: string[], pattern: RegExp) =>
  assert.ok(
    lines.some((l) => pattern.test(l)),
    `an error matches ${pattern}:\n${lines.join('\n')}`,
  );

describe('sovereign.yaml', () => {
  it('reads the design example, with defaults filled in', () => {
    const { jobs, metadata } = accepted(`jobs:
  - name: daily_sync            # [a-z0-9_-], unique in the workspace
    run: node sync.js
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    timeout: 2h
    retries: 2
  - name: report
    run: ./report.sh
    after: { job: daily_sync, on: success }
  - name: explorer
    kind: interactive
    run: python3 -m http.server $PORT
  - name: poll
    run: ./poll.sh
    every: 15m
  - name: launch
    run: ./launch.sh
    once: 2026-12-01T00:00:00Z
  - name: cleanup
    run: ./cleanup.sh
    after: { job: report }
`);
    assert.deepEqual(jobs[0], {
      name: 'daily_sync',
      run: 'node sync.js',
      kind: 'batch',
      trigger: { type: 'cron', cron: '0 3 * * *' },
      timezone: 'Europe/Berlin',
      timeoutSeconds: 7200,
      retries: 2,
    });
    assert.deepEqual(jobs[1]?.trigger, { type: 'after', job: 'daily_sync', on: 'success' });
    assert.deepEqual(
      { kind: jobs[2]?.kind, trigger: jobs[2]?.trigger, timezone: jobs[2]?.timezone, timeout: jobs[2]?.timeoutSeconds },
      { kind: 'interactive', trigger: { type: 'manual' }, timezone: 'UTC', timeout: 8 * 3600 },
    );
    assert.deepEqual(jobs[3]?.trigger, { type: 'every', everySeconds: 900 });
    assert.deepEqual(jobs[4]?.trigger, { type: 'once', at: '2026-12-01T00:00:00.000Z' });
    assert.deepEqual(jobs[5]?.trigger, { type: 'after', job: 'report', on: 'success' });
    assert.equal(jobs[1]?.timeoutSeconds, 7200, 'batch jobs default to 2h');
    assert.equal(jobs[1]?.retries, 0);
    assert.deepEqual(metadata, jobs.map(jobMetadata));
  });

  it('reads retry_delay and retry_backoff, tells the control plane, and leaves the defaults to it', () => {
    const { metadata } = accepted(`jobs:
  - name: patient
    run: a
    retries: 3
    retry_delay: 30s
    retry_backoff: 1.5
  - name: plain
    run: b
    retries: 1
`);
    assert.deepEqual(
      metadata.map((j) => [j.name, j.retryDelaySeconds, j.retryBackoff]),
      [
        ['patient', 30, 1.5],
        ['plain', undefined, undefined],
      ],
    );
    const lines = refused(`jobs:
  - name: hasty
    run: a
    retry_delay: 2h
    retry_backoff: 0.5
`);
    hasLine(lines, /^jobs\[0\]\.retry_delay: "2h" must be a duration from 0s to 1h/);
    hasLine(lines, /^jobs\[0\]\.retry_backoff: 0\.5 must be a number from 1/);
  });

  it('gives the control plane metadata without the command', () => {
    const { metadata } = accepted(
      'jobs:\n  - name: secret_cmd\n    run: curl https://internal.example/COMMAND-CANARY\n',
    );
    assert.deepEqual(Object.keys(metadata[0] ?? {}).sort(), [
      'kind',
      'name',
      'retries',
      'timeoutSeconds',
      'timezone',
      'trigger',
    ]);
    assert.ok(!JSON.stringify(metadata).includes('COMMAND-CANARY'));
    // Even a job object with extra members yields only the listed fields.
    const extra = { ...metadata[0], run: 'x', env: { A: 'b' } } as unknown as Parameters<typeof jobMetadata>[0];
    assert.ok(!('run' in jobMetadata(extra)) && !('env' in jobMetadata(extra)));
  });

  it('lists every problem at once, each with its path', () => {
    const lines = refused(`jobs:
  - name: Bad Name
    run: x
  - name: ok
    run: y
    schedule: "61 * * * *"
    timezone: Mars/Olympus
    timeout: soon
    colour: blue
  - name: ok
    run: z
    after: { job: missing }
  - name: a
    run: a
    after: { job: b, on: failure }
  - name: b
    run: b
    after: { job: a, on: completion }
  - name: both
    run: c
    schedule: "* * * * *"
    every: 1h
  - name: retrying
    run: d
    retries: 11
    kind: daemon
  - name: later
    run: e
    once: 2026-02-30T00:00:00Z
  - name: busy
    run: f
    every: 5s
  - name: seconds
    run: g
    schedule: "*/2 * * * * *"
  - name: never
    run: h
    schedule: "0 0 30 2 *"
  - name: self
    run: i
    after: { job: self, when: always }
  - name: empty
    run: "   "
  - name: offset
    run: j
    timezone: "+01:00"
    timeout: 8d
extra: true
`);
    for (const expected of [
      /^jobs\[0\]\.name: "Bad Name" must be/,
      /^jobs\[1\]\.schedule: "61 \* \* \* \*" is not a valid cron expression$/,
      /^jobs\[1\]\.timezone: "Mars\/Olympus" is not an IANA time zone/,
      /^jobs\[1\]\.timeout: "soon" must be a duration/,
      /^jobs\[1\]\.colour: is not a known key$/,
      /^jobs\[2\]\.name: "ok" is also the name of jobs\[1\]$/,
      /^jobs\[2\]\.after\.job: "missing" is not a job of this manifest$/,
      /^jobs\[3\]\.after: makes a cycle: a -> b -> a$/,
      /^jobs\[5\]: has schedule and every: a job has one trigger at most$/,
      /^jobs\[6\]\.retries: 11 must be a whole number from 0 to 10$/,
      /^jobs\[6\]\.kind: must be batch or interactive$/,
      /^jobs\[7\]\.once: "2026-02-30T00:00:00Z" must be an ISO-8601 date and time/,
      /^jobs\[8\]\.every: "5s" must be a duration from 10s/,
      /^jobs\[9\]\.schedule: "\*\/2 \* \* \* \* \*" fires every 2s; the shortest interval is 10s$/,
      /^jobs\[10\]\.schedule: "0 0 30 2 \*" never fires$/,
      /^jobs\[11\]\.after\.job: a job cannot run after itself$/,
      /^jobs\[11\]\.after\.when: is not a known key$/,
      /^jobs\[12\]\.run: must be a non-empty command$/,
      /^jobs\[13\]\.timezone: "\+01:00" is not an IANA time zone/,
      /^jobs\[13\]\.timeout: "8d" must be a duration from 1s to 7d/,
      /^extra: is not a known key$/,
    ]) {
      hasLine(lines, expected);
    }
    // The cycle is reported once, not at each of its jobs.
    assert.equal(lines.filter((l) => l.includes('makes a cycle')).length, 1);
  });

  it('reads the limits of interactive jobs, with their defaults', () => {
    const { jobs, metadata } = accepted(`jobs:
  - name: explorer
    kind: interactive
    run: node app.js
  - name: notebook
    kind: interactive
    run: jupyter lab --port $PORT --ServerApp.base_url=$SOV_BASE_PATH
    idle_timeout: 1h30m
    max_running: 3
    strip_prefix: false
    timeout: 1d
  - name: sync
    run: ./sync.sh
    max_running: 2
  - name: report
    run: ./report.sh
`);
    assert.deepEqual(
      jobs.map((j) => [j.name, j.idleTimeoutSeconds, j.stripPrefix, j.maxRunning, j.timeoutSeconds]),
      [
        ['explorer', 15 * 60, true, 1, 8 * 3600],
        ['notebook', 5400, false, 3, 86400],
        ['sync', undefined, undefined, 2, 7200],
        ['report', undefined, undefined, undefined, 7200],
      ],
    );
    // The control plane learns the limit on runs (it queues them), not how the proxy serves the app.
    assert.equal(metadata[1]?.maxRunning, 3);
    assert.ok(!('idleTimeoutSeconds' in (metadata[1] ?? {})) && !('stripPrefix' in (metadata[1] ?? {})));
    assert.ok(!('maxRunning' in (metadata[3] ?? {})), 'a batch job has no limit unless it says so');
  });

  it('refuses bad interactive settings, and interactive settings on batch jobs', () => {
    const lines = refused(`jobs:
  - name: a
    kind: interactive
    run: x
    idle_timeout: forever
    max_running: 0
    strip_prefix: "no"
  - name: b
    run: y
    idle_timeout: 5m
    strip_prefix: true
    max_running: 1.5
`);
    assert.deepEqual(lines.sort(), [
      'jobs[0].idle_timeout: "forever" must be a duration from 1s to 7d, such as 15m or 1h',
      'jobs[0].max_running: 0 must be a whole number from 1 to 1000',
      'jobs[0].strip_prefix: must be true or false',
      'jobs[1].idle_timeout: applies to interactive jobs only',
      'jobs[1].max_running: 1.5 must be a whole number from 1 to 1000',
      'jobs[1].strip_prefix: applies to interactive jobs only',
    ]);
  });

  it('finds longer cycles and does not blame the jobs that lead into them', () => {
    const lines = refused(`jobs:
  - { name: start, run: s, after: { job: x } }
  - { name: x, run: x, after: { job: y } }
  - { name: y, run: y, after: { job: z } }
  - { name: z, run: z, after: { job: x } }
`);
    assert.deepEqual(lines, ['jobs[1].after: makes a cycle: x -> y -> z -> x']);
  });

  it('reads a job’s limits and network, and refuses what is not one', () => {
    const result = accepted(
      'jobs:\n  - name: big\n    run: x\n    limits: { memory: 2g, cpus: 1.5, pids: 100, tmp: 64m, logs: 10m, outputs: 512Mi }\n    network: none\n  - name: plain\n    run: y\n',
    );
    assert.ok(result.ok);
    const [big, plain] = result.ok ? result.jobs : [];
    assert.deepEqual(big?.limits, {
      memoryBytes: 2 * 1024 ** 3,
      cpus: 1.5,
      pids: 100,
      tmpBytes: 64 * 1024 ** 2,
      logBytes: 10 * 1024 ** 2,
      outputBytes: 512 * 1024 ** 2,
    });
    assert.equal(big?.network, 'none');
    assert.equal(plain?.limits, undefined);
    assert.equal(plain?.network, undefined);
    assert.deepEqual(Object.hasOwn(jobMetadata(big as NonNullable<typeof big>), 'limits'), false, 'limits stay here');
    const errors = refused(
      'jobs:\n  - name: bad\n    run: x\n    limits: { memory: lots, cpus: 0, pids: 2.5, disk: 1g }\n    network: all\n  - name: worse\n    run: y\n    limits: 3\n',
    );
    assert.deepEqual(errors.sort(), [
      'jobs[0].limits.cpus: 0 CPUs is below the least a run can work with (0.01 CPUs)',
      'jobs[0].limits.disk: is not a known limit (memory, cpus, pids, tmp, logs, outputs)',
      'jobs[0].limits.memory: "lots" is not a size such as 512m or 2g',
      'jobs[0].limits.pids: 2.5 is not a whole number',
      'jobs[0].network: "all" must be outside (the default) or none',
      'jobs[1].limits: must be a mapping such as { memory: 1g, cpus: 2 }',
    ]);
    const capped = parseManifest('jobs:\n  - name: j\n    run: x\n    limits: { memory: 3g }\n', {
      maxLimits: { memoryBytes: 2 * 1024 ** 3, cpus: 2, pids: 100, tmpBytes: 1024, logBytes: 1024, outputBytes: 1024 },
    });
    assert.deepEqual(capped.ok ? [] : capped.errors, [
      { path: 'jobs[0].limits.memory', message: "3 GiB is over this data plane's maximum (2 GiB)" },
    ]);
  });

  it('refuses YAML aliases (the billion laughs) and oversized documents', () => {
    const laughs = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...Array.from({ length: 8 }, (_, i) => {
        const n = String.fromCharCode(98 + i);
        const p = String.fromCharCode(97 + i);
        return `${n}: &${n} [*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p}]`;
      }),
      'jobs: [{ name: x, run: *i }]',
    ].join('\n');
    assert.deepEqual(refused(laughs), ['sovereign.yaml: uses YAML aliases, which are not allowed']);
    const huge = `jobs:\n  - name: x\n    run: "${'y'.repeat(maxManifestBytes)}"\n`;
    assert.deepEqual(refused(huge), [`sovereign.yaml: is larger than ${maxManifestBytes} bytes`]);
  });

  it('refuses YAML that is not a manifest, saying where', () => {
    hasLine(refused('jobs: [\n'), /^sovereign\.yaml: .*line/);
    hasLine(refused('jobs:\n  - name: a\n    name: b\n    run: x\n'), /Map keys must be unique/);
    hasLine(refused('jobs:\n  - name: a\n    run: !custom x\n'), /Unresolved tag/);
    assert.deepEqual(refused(''), ['sovereign.yaml: must be a mapping with a jobs list']);
    assert.deepEqual(refused('- a\n- b\n'), ['sovereign.yaml: must be a mapping with a jobs list']);
    assert.deepEqual(refused('jobs: []\n'), ['jobs: must be a non-empty list']);
    assert.deepEqual(refused('jobs: [42]\n'), ['jobs[0]: must be a mapping']);
    assert.deepEqual(refused('jobs:\n  - run: x\n'), ['jobs[0].name: is required']);
    assert.deepEqual(refused('jobs:\n  - name: a\n    run: !!binary aGVsbG8=\n'), [
      'jobs[0].run: must be a non-empty command',
    ]);
  });

  it('takes cron patterns as the scheduler reads them, in the job’s time zone', () => {
    for (const schedule of ['@daily', '0 3 * * 1#2', '*/15 * * * *', '30 0 3 * * *', '*/10 * * * * *']) {
      accepted(`jobs:\n  - name: a\n    run: x\n    schedule: "${schedule}"\n    timezone: America/New_York\n`);
    }
    hasLine(refused('jobs:\n  - name: a\n    run: x\n    schedule: 5\n'), /^jobs\[0\]\.schedule: must be a cron/);
  });

  it('reads durations', () => {
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('1d'), 86400);
    for (const bad of ['', 'h', '1.5h', '30m1h', '-1s', '10', '1w']) assert.equal(parseDuration(bad), undefined, bad);
  });

  it('keeps at most one instant per once, with its offset', () => {
    const { jobs } = accepted('jobs:\n  - name: a\n    run: x\n    once: "2026-12-01T01:00:00+01:00"\n');
    assert.deepEqual(jobs[0]?.trigger, { type: 'once', at: '2026-12-01T00:00:00.000Z' });
    hasLine(refused('jobs:\n  - name: a\n    run: x\n    once: "2026-12-01T00:00:00"\n'), /with its offset/);
    hasLine(refused('jobs:\n  - name: a\n    run: x\n    once: "December 1, 2026"\n'), /ISO-8601/);
  });
});
