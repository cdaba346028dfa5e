import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobMetadata, parseManifest } from '../src/deployments/index.ts';
import { checkValues, parameterEnv } from '../src/parameters/declarations.ts';

const manifest = (params: string, extra = '') => `jobs:
  - name: sync
    run: node sync.js
${extra}    params:
${params}`;

function refused(text: string): string[] {
  const result = parseManifest(text);
  assert.equal(result.ok, false, 'the manifest is refused');
  return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('declared parameters (params: in sovereign.yaml)', () => {
  const declared = manifest(`      - { name: since, type: date, required: true, description: first day to read }
      - { name: limit, type: integer, default: 100 }
      - { name: ratio, type: number, default: "0.5" }
      - { name: dry_run, type: boolean, default: false }
      - { name: label }
`);

  it('reads names, types, defaults (as their type) and required, and never tells the control plane', () => {
    const result = parseManifest(declared);
    assert.ok(result.ok, JSON.stringify(result.ok ? [] : result.errors));
    assert.deepEqual(result.jobs[0]?.params, [
      { name: 'since', type: 'date', required: true, description: 'first day to read' },
      { name: 'limit', type: 'integer', default: 100 },
      { name: 'ratio', type: 'number', default: 0.5 },
      { name: 'dry_run', type: 'boolean', default: false },
      { name: 'label', type: 'string' },
    ]);
    const reported = JSON.stringify(result.metadata);
    for (const word of ['params', 'since', 'first day']) assert.ok(!reported.includes(word), `${word} is not reported`);
    assert.ok(!JSON.stringify(result.jobs.map(jobMetadata)).includes('since'));
  });

  it('refuses bad declarations, each at its path', () => {
    assert.deepEqual(
      refused(
        manifest(`      - { name: 9lives }
      - { name: since, type: datetime }
      - { name: Since, type: date }
      - { name: limit, type: integer, default: ten }
      - { name: day, type: date, default: 2026-02-30 }
      - { name: both, default: x, required: true }
      - { name: odd, colour: blue }
      - just-a-name
`),
      ),
      [
        'jobs[0].params[0].name: "9lives" must be 1 to 64 letters, digits or _, not starting with a digit',
        'jobs[0].params[1].type: "datetime" must be one of string, integer, number, boolean, date',
        'jobs[0].params[2].name: "Since" is also the name of jobs[0].params[1] (SOV_PARAM_SINCE)',
        'jobs[0].params[3].default: "ten" is not a whole number',
        'jobs[0].params[4].default: "2026-02-30" is not a date such as 2026-01-31',
        'jobs[0].params[5].required: a parameter with a default is never missing: drop required or the default',
        'jobs[0].params[6].colour: is not a known key',
        'jobs[0].params[7]: must be a mapping such as { name: since, type: date }',
      ],
    );
    assert.deepEqual(refused(manifest('      name: since\n')), [
      'jobs[0].params: must be a list such as [{ name: since, type: date, required: true }]',
    ]);
  });

  it('refuses a required parameter on a job that starts by its trigger, where nobody gives it', () => {
    assert.deepEqual(refused(manifest('      - { name: since, type: date, required: true }\n', '    every: 1h\n')), [
      'jobs[0].params[0].required: a job started by its trigger (schedule, every, once, after) has no one to give it a value: give it a default instead',
    ]);
    assert.ok(
      parseManifest(manifest('      - { name: since, type: date, default: 2026-01-01 }\n', '    every: 1h\n')).ok,
    );
  });

  it('checks a run’s values: unknown, missing, wrong type; reads text as the type; fills defaults', () => {
    const result = parseManifest(declared);
    assert.ok(result.ok);
    const params = result.jobs[0]?.params;
    assert.deepEqual(checkValues(params, { since: '2026-01-01', limit: '25', dry_run: 'true' }), {
      ok: true,
      values: { since: '2026-01-01', limit: 25, dry_run: true, ratio: 0.5 },
    });
    assert.deepEqual(checkValues(params, { since: '2026-01-01', limit: 7, ratio: 1e20, label: 'x' }), {
      ok: true,
      values: { since: '2026-01-01', limit: 7, ratio: 1e20, label: 'x', dry_run: false },
    });
    assert.deepEqual(checkValues(params, { sincee: '2026-01-01', limit: '2.5', dry_run: 'yes', label: 3 }), {
      ok: false,
      problems: [
        {
          name: 'sincee',
          problem: 'unknown',
          message: 'is not a parameter of the job (since, limit, ratio, dry_run, label)',
        },
        { name: 'limit', problem: 'wrong_type', message: 'must be a whole number' },
        { name: 'dry_run', problem: 'wrong_type', message: 'must be true or false' },
        { name: 'label', problem: 'wrong_type', message: 'must be text' },
        { name: 'since', problem: 'missing', message: 'is required' },
      ],
    });
    assert.deepEqual(checkValues(params, { since: '2026-13-01' }), {
      ok: false,
      problems: [{ name: 'since', problem: 'wrong_type', message: 'must be a date such as 2026-01-31' }],
    });
    assert.deepEqual(checkValues(undefined, { any: 'x' }), {
      ok: false,
      problems: [{ name: 'any', problem: 'unknown', message: 'the job declares no parameters' }],
    });
    assert.deepEqual(checkValues(undefined, {}), { ok: true, values: {} });
    assert.equal(checkValues(params, { since: '2026-01-01', label: 'a\0b' }).ok, false, 'no NUL in a value');
  });

  it('names each value SOV_PARAM_ and its upper case, as text', () => {
    assert.deepEqual(parameterEnv({ since: '2026-01-01', limit: 25, dry_run: false }), {
      SOV_PARAM_SINCE: '2026-01-01',
      SOV_PARAM_LIMIT: '25',
      SOV_PARAM_DRY_RUN: 'false',
    });
  });
});
