import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { LogLine } from '../src/logs/lines.ts';
import { Masker } from '../src/logs/mask.ts';
import { pumpLogs } from '../src/logs/pump.ts';

/** A real child process running `script` with node, its stdout and stderr piped. */
function job(script: string) {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = once(child, 'exit');
  return { child, exited };
}

describe('log pump: a job’s output, line by line, into the store', () => {
  it('holds a loud job back while its logs are not stored, then stores every line in order', async () => {
    // 20 MB: far more than a pipe and the two batches that may wait for the store.
    const { child, exited } = job(`
      const line = 'x'.repeat(90);
      let i = 0;
      (function more() {
        while (i < 200000) if (!process.stdout.write(i++ + ' ' + line + '\\n')) return process.stdout.once('drain', more);
        process.stderr.write('done\\n');
      })();
    `);
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stored: Array<{ seq: number; line: LogLine }> = [];
    let calls = 0;
    const done = pumpLogs({
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      masker: new Masker([]),
      stored: 0,
      append: async (firstSeq, lines) => {
        calls += 1;
        if (calls === 1) await blocked;
        lines.forEach((line, i) => {
          stored.push({ seq: firstSeq + i, line });
        });
      },
    });
    // While the first batch cannot be stored, the job cannot finish writing.
    const finished = await Promise.race([
      exited.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 3000)),
    ]);
    assert.equal(finished, false, 'the job wrote 20 MB while its logs could not be stored');
    release();
    assert.equal(await done, 200001);
    assert.equal(stored.length, 200001);
    const out = stored.filter((s) => s.line.stream === 'stdout');
    out.forEach((s, i) => {
      assert.ok(s.line.text.startsWith(`${i} `), s.line.text.slice(0, 20));
    });
    assert.deepEqual(
      stored.map((s) => s.seq),
      stored.map((_, i) => i + 1),
    );
    assert.deepEqual(
      stored.filter((s) => s.line.stream === 'stderr').map((s) => s.line.text),
      ['done'],
    );
  });

  it('masks secrets and numbers lines after those the run already has', async () => {
    const { child, exited } = job(`console.log('key=s3cr3t-v4lue'); console.error('plain')`);
    const stored: Array<[number, string, string]> = [];
    const lines = await pumpLogs({
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      masker: new Masker(['s3cr3t-v4lue']),
      stored: 5,
      append: async (firstSeq, batch) => {
        batch.forEach((line, i) => {
          stored.push([firstSeq + i, line.stream, line.text]);
        });
      },
    });
    assert.equal(lines, 7);
    assert.deepEqual(stored.map(([seq]) => seq).sort(), [6, 7]);
    assert.deepEqual(stored.map(([, stream, text]) => `${stream}: ${text}`).sort(), [
      'stderr: plain',
      'stdout: key=********',
    ]);
  });

  it('masks a secret written in pieces, across the cut of an over-long line, and in every common form', async () => {
    const secret = 'pump-s3cr3t value/+&"';
    const { child, exited } = job(`
      const s = ${JSON.stringify(secret)};
      const pause = () => new Promise((r) => setTimeout(r, 50));
      (async () => {
        // Across two writes, without a newline between them.
        process.stdout.write('split: ' + s.slice(0, 9));
        await pause();
        process.stdout.write(s.slice(9) + '\\n');
        // Beginning 10 characters before the place where a line over 256 KiB is cut, the
        // line still open when it goes past 256 KiB.
        process.stdout.write('x'.repeat(256 * 1024 - 10) + s.slice(0, 5));
        await pause();
        process.stdout.write(s.slice(5) + 'y'.repeat(1000));
        await pause();
        process.stdout.write('\\n');
        for (const form of [
          s.toUpperCase(),
          Buffer.from(s).toString('hex'),
          Buffer.from('user:' + s).toString('base64'),
          encodeURIComponent(s),
          new URLSearchParams({ s }).toString(),
          JSON.stringify({ s }),
          s.replaceAll('&', '&amp;').replaceAll('"', '&quot;'),
        ]) console.error('form: ' + form);
      })();
    `);
    const stored: string[] = [];
    await pumpLogs({
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      masker: new Masker([secret]),
      stored: 0,
      append: async (_firstSeq, batch) => {
        stored.push(...batch.map((l) => l.text));
      },
    });
    const leaked = stored.filter((line) => /s3cr3t|value|7333637233/i.test(line));
    assert.deepEqual(
      leaked.map((line) => `${line.slice(0, 40)}…${line.slice(-20)}`),
      [],
    );
    assert.equal(stored[0], 'split: ********');
    assert.equal(stored[1]?.length, 256 * 1024, 'the long line is cut at 256 KiB');
    assert.equal(stored[1]?.slice(-12), 'xx********yy', 'masked before the cut');
    assert.equal(stored[2], 'y'.repeat(998));
    assert.equal(stored.filter((line) => line.startsWith('form: ')).length, 7);
    for (const line of stored.filter((l) => l.startsWith('form: '))) assert.match(line, /\*{8}/);
  });

  it('gives up on pipes a leftover process holds open once the job has exited', async () => {
    const { child, exited } = job(`
      require('node:child_process').spawn('sleep', ['30'], { stdio: ['ignore', 'inherit', 'inherit'] }).unref();
      console.log('started a leftover');
    `);
    const stored: string[] = [];
    const lines = await pumpLogs({
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      masker: new Masker([]),
      stored: 0,
      append: async (_firstSeq, batch) => {
        stored.push(...batch.map((l) => l.text));
      },
    });
    assert.equal(lines, 1);
    assert.deepEqual(stored, ['started a leftover']);
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  });

  it('rejects when a batch cannot be stored', async () => {
    const { child, exited } = job(`console.log('one'); console.log('two')`);
    await assert.rejects(
      pumpLogs({
        stdout: child.stdout,
        stderr: child.stderr,
        exited,
        masker: new Masker([]),
        stored: 0,
        append: async () => {
          throw new Error('the store is gone');
        },
      }),
      /the store is gone/,
    );
  });
});
