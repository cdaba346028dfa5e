import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, ControlPlaneEnv, configFromEnv, defaultConfig } from '../src/config.ts';

describe('control plane configuration: one schema', () => {
  it('gives tests and embedding the environment’s defaults, but for what they must have otherwise', () => {
    const served = configFromEnv({});
    const embedded = defaultConfig();
    const differing = (Object.keys(served) as Array<keyof typeof served>).filter(
      (key) => JSON.stringify(served[key]) !== JSON.stringify(embedded[key]),
    );
    assert.deepEqual(differing.sort(), [
      'allowSignup',
      'database',
      'logLevel',
      'masterKey',
      'passwordCostLog2',
      'port',
      'rateLimits',
    ]);
    assert.equal(embedded.rateLimits.windowSeconds, served.rateLimits.windowSeconds);
  });

  it('names every wrong variable in one error, and never repeats a password or a key', () => {
    const password = 'the-admin-password-itself';
    let caught: unknown;
    try {
      configFromEnv({
        SOV_ADMIN_PASSWORD: password,
        SOV_PORT: 'eighty',
        SOV_ALLOW_SIGNUP: 'yes',
        SOV_PASSWORD_COST_LOG2: '30',
        SOV_LOGIN_LIMIT_PER_ACCOUNT: '10',
      });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ConfigError, String(caught));
    assert.deepEqual(
      caught.problems.map((problem) => problem.split(' ')[0]),
      ['SOV_PORT', 'SOV_ALLOW_SIGNUP', 'SOV_PASSWORD_COST_LOG2', 'SOV_LOGIN_LIMIT_PER_ACCOUNT'],
    );
    assert.ok(!caught.message.includes(password));
  });

  it('describes every variable it reads', () => {
    for (const [name, schema] of Object.entries(ControlPlaneEnv.properties) as Array<
      [string, { description?: unknown }]
    >) {
      assert.match(name, /^SOV_[A-Z0-9_]+$/);
      assert.ok(typeof schema.description === 'string' && schema.description.length > 0, name);
    }
  });
});
