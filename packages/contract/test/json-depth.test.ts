import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonNestsDeeperThan, maxJsonDepth } from '../src/json-depth.ts';
import { unstorablePath } from '../src/text.ts';

const arrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('JSON depth, counted on the text before it is parsed', () => {
  it('counts arrays and objects, and takes exactly the maximum', () => {
    assert.equal(jsonNestsDeeperThan(arrays(maxJsonDepth)), false);
    assert.equal(jsonNestsDeeperThan(arrays(maxJsonDepth + 1)), true);
    assert.equal(jsonNestsDeeperThan(`${'{"a":'.repeat(maxJsonDepth + 1)}1${'}'.repeat(maxJsonDepth + 1)}`), true);
    assert.equal(jsonNestsDeeperThan('{"a":[1,{"b":[]}],"c":{}}', 4), false);
    assert.equal(jsonNestsDeeperThan('{"a":[1,{"b":[]}],"c":{}}', 3), true);
    assert.equal(jsonNestsDeeperThan(arrays(1_000_000)), true);
  });

  it('skips brackets in strings, escaped quotes and backslashes included', () => {
    assert.equal(jsonNestsDeeperThan(JSON.stringify({ a: '['.repeat(1000) }), 2), false);
    assert.equal(jsonNestsDeeperThan(JSON.stringify({ [`"[{${'['.repeat(99)}`]: '\\"[[[[\\' }), 1), false);
    // After `"\\"` the string is closed: the brackets that follow count.
    assert.equal(jsonNestsDeeperThan(`["\\\\",${arrays(5)}]`, 5), true);
    assert.equal(jsonNestsDeeperThan(`["\\"",${arrays(4)}]`, 5), false);
  });

  it('never passes a text the parser would go deeper into, however malformed', () => {
    // A stray closing bracket: the parser stops there, so what follows is never parsed.
    assert.equal(jsonNestsDeeperThan(`]${arrays(1000)}`), false);
    assert.throws(() => JSON.parse(`]${arrays(1000)}`), SyntaxError);
    assert.equal(jsonNestsDeeperThan(`[${'['.repeat(maxJsonDepth)}`), true);
  });
});

describe('text PostgreSQL cannot store, found however deep', () => {
  it('walks a value nested far deeper than the call stack goes', () => {
    let deep: unknown = ['a\u0000b'];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const found = unstorablePath(deep, 'body');
    assert.equal(found?.path, `body${'.0'.repeat(200_001)}`);
    assert.match(found?.message ?? '', /NUL/);
  });

  it('names the first one in document order, a member name before its value', () => {
    assert.deepEqual(unstorablePath({ ok: 'x', list: ['y', '\ud800', 'a\u0000'] }, 'body'), {
      path: 'body.list.1',
      message: 'must be valid Unicode (it holds an unpaired surrogate)',
    });
    assert.equal(
      unstorablePath({ 'a\u0000': '\ud800' }, 'body')?.message,
      'must not contain the NUL character (U+0000)',
    );
    assert.equal(unstorablePath({ a: { b: 'ok' }, c: [1, null, true] }, 'body'), undefined);
    assert.equal(unstorablePath(Buffer.from([0]), 'body'), undefined);
  });
});
