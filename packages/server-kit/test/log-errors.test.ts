import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createHttpServer } from '../src/http/index.ts';

/** A service's log lines, as written. */
function capture() {
  const lines: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

const secret = 'row-value-that-is-a-customer-secret';

/** An error as the PostgreSQL driver makes them: a code, and the row it refused in `detail`. */
function databaseError(): Error {
  const error = new Error('new row for relation "variables" violates check constraint "value_size"', {
    cause: new Error('the cause, said too'),
  });
  Object.assign(error, { code: '23514', detail: `Failing row contains (${secret}).`, table: 'variables' });
  return error;
}

describe('errors in a service’s log', () => {
  it('are written with their class, message, code, stack and cause, and no other property', async () => {
    const { lines, stream } = capture();
    const app = createHttpServer({ service: 'test', logger: { level: 'info', stream }, ready: async () => true });
    app.log.error({ err: databaseError(), runId: 'r1' }, 'could not save');
    await app.close();
    const line = lines.find((each) => each.msg === 'could not save');
    assert.ok(line !== undefined, JSON.stringify(lines));
    assert.equal(line.runId, 'r1');
    assert.equal(line.err.type, 'Error');
    assert.equal(line.err.code, '23514');
    assert.match(line.err.message, /violates check constraint/);
    assert.match(line.err.stack, /log-errors\.test\.ts/, 'where it was thrown');
    assert.equal(line.err.cause.message, 'the cause, said too');
    assert.deepEqual(Object.keys(line.err).sort(), ['cause', 'code', 'message', 'stack', 'type']);
    assert.ok(!JSON.stringify(lines).includes(secret), 'the row it refused stays out of the log');
  });

  it('are written so when a route fails unexpectedly, and the client gets a problem without them', async () => {
    const { lines, stream } = capture();
    const app = createHttpServer({ service: 'test', logger: { level: 'info', stream }, ready: async () => true });
    app.get('/boom', async () => {
      throw databaseError();
    });
    const answer = await app.inject({ method: 'GET', url: '/boom' });
    await app.close();
    assert.equal(answer.statusCode, 500);
    assert.ok(!answer.body.includes(secret));
    const logged = lines.filter((each) => each.err !== undefined);
    assert.ok(logged.length > 0, JSON.stringify(lines));
    for (const line of logged) assert.match(line.err.stack, /log-errors\.test\.ts/);
    assert.ok(!JSON.stringify(lines).includes(secret), 'the row it refused stays out of the log');
  });
});
