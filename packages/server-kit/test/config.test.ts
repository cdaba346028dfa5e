import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from 'typebox';
import {
  ConfigError,
  type Environment,
  Flag,
  LogLevel,
  logLevelOf,
  Port,
  Retired,
  readEnvironment,
  Secret,
  Text,
  WholeNumber,
} from '../src/config/index.ts';

const Env = Type.Object({
  SOV_PORT: Port({ default: 8080, description: 'port' }),
  SOV_STALE_SECONDS: WholeNumber({ default: 30, minimum: 15, description: 'stale' }),
  SOV_CACHE_BYTES: WholeNumber({ default: 1024, description: 'cache' }),
  SOV_DEV: Flag({ description: 'dev' }),
  SOV_LOG_LEVEL: LogLevel({ description: 'level' }),
  SOV_DIR: Text({ default: '/var/x', pattern: '^/', expected: 'an absolute path', description: 'dir' }),
  SOV_URL: Text({ description: 'required' }),
  SOV_KEY: Type.Optional(Secret({ description: 'key', pattern: '^[0-9a-f]{64}$', expected: '64 hex digits' })),
  SOV_OLD: Retired('set SOV_NEW instead'),
});

const read = (env: Environment) => readEnvironment(Env, env, (values) => values);

/** The ConfigError `env` is refused with. */
function refusal(env: Environment, derive?: Parameters<typeof readEnvironment<typeof Env, unknown>>[2]): ConfigError {
  try {
    readEnvironment(Env, env, derive ?? ((values) => values));
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('accepted');
}

describe('a plane’s environment, read by its schema', () => {
  it('gives each variable its default when unset or empty, and converts what is set by its type', () => {
    assert.deepEqual(read({ SOV_URL: 'http://cp', SOV_PORT: '' }), {
      SOV_PORT: 8080,
      SOV_STALE_SECONDS: 30,
      SOV_CACHE_BYTES: 1024,
      SOV_DEV: false,
      SOV_LOG_LEVEL: 'info',
      SOV_DIR: '/var/x',
      SOV_URL: 'http://cp',
      SOV_KEY: undefined,
      SOV_OLD: undefined,
    });
    const set = read({
      SOV_URL: 'u',
      SOV_PORT: '9000',
      SOV_DEV: 'true',
      SOV_LOG_LEVEL: 'silent',
      SOV_CACHE_BYTES: '0',
    });
    assert.deepEqual([set.SOV_PORT, set.SOV_DEV, set.SOV_LOG_LEVEL, set.SOV_CACHE_BYTES], [9000, true, 'silent', 0]);
    assert.equal(logLevelOf(set.SOV_LOG_LEVEL), false);
  });

  it('reports every wrong variable in one error, a sentence each that names it and says what it takes', () => {
    const error = refusal({
      SOV_PORT: 'eighty',
      SOV_STALE_SECONDS: '14',
      SOV_CACHE_BYTES: '-1',
      SOV_DEV: 'yes',
      SOV_LOG_LEVEL: 'loud',
      SOV_DIR: 'relative',
      SOV_OLD: '1',
    });
    assert.deepEqual(error.problems, [
      'SOV_PORT must be a whole number from 0 to 65535, got "eighty"',
      'SOV_STALE_SECONDS must be a whole number of at least 15, got "14"',
      'SOV_CACHE_BYTES must be a whole number, got "-1"',
      'SOV_DEV must be true or false, got "yes"',
      'SOV_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'SOV_DIR must be an absolute path, got "relative"',
      'SOV_URL is required',
      'SOV_OLD is no longer read: set SOV_NEW instead',
    ]);
    assert.equal(error.message, error.problems.join('\n'));
  });

  it('never repeats a secret’s value in a message', () => {
    const secret = 'not-hex-but-a-real-password';
    const error = refusal({ SOV_URL: 'u', SOV_KEY: secret });
    assert.deepEqual(error.problems, ['SOV_KEY must be 64 hex digits (the value is not shown: it is a secret)']);
    assert.ok(!error.message.includes(secret));
  });

  it('adds what the plane finds wrong across variables, one problem per variable, after the schema’s', () => {
    const error = refusal({ SOV_PORT: 'x', SOV_URL: 'ftp://cp' }, (values, problems) => {
      problems.add('SOV_PORT', 'SOV_PORT again: only the first problem of a variable is kept');
      if (!values.SOV_URL.startsWith('http')) problems.add('SOV_URL', 'SOV_URL must be an http(s) URL');
      assert.equal(problems.has('SOV_PORT'), true);
      return values;
    });
    assert.deepEqual(error.problems, [
      'SOV_PORT must be a whole number from 0 to 65535, got "x"',
      'SOV_URL must be an http(s) URL',
    ]);
  });

  it('reports what was found when building the settings then fails on a value already refused', () => {
    const error = refusal({ SOV_PORT: 'x' }, (values) => {
      // A required variable found missing: what is built from it may fail, and says nothing new.
      if (values.SOV_URL === '') throw new TypeError('Invalid URL');
      return values;
    });
    assert.deepEqual(error.problems, [
      'SOV_PORT must be a whole number from 0 to 65535, got "x"',
      'SOV_URL is required',
    ]);
    assert.throws(
      () =>
        readEnvironment(Env, { SOV_URL: 'u' }, () => {
          throw new TypeError('a bug, not a setting');
        }),
      TypeError,
    );
  });
});
