import assert from 'node:assert/strict';
import { openSync } from 'node:fs';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  type ProgramOptions,
  programStarts,
  socketOf,
  startProgram,
  textSlotMaxBytes,
} from '../src/launch/programs.ts';

/** Everything a socket gives until its end. */
function text(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      out += chunk;
    });
    socket.once('end', () => resolve(out));
    socket.once('error', reject);
  });
}

/** Runs a program to its end: what it wrote on its stdout. */
async function output(options: Omit<ProgramOptions, 'slots'>, how: 'native' | 'fork'): Promise<string> {
  const program = startProgram({ ...options, slots: ['ignore', 'socket', 'ignore'] }, how);
  const [out] = await Promise.all([text(socketOf(program, 1)), program.exited]);
  return out;
}

const sh = (script: string) => ({ file: '/bin/sh', args: ['-c', script], env: { PATH: '/usr/bin:/bin' } });

it('starts programs without copying the spawner (the native module is built by npm install)', () => {
  assert.equal(programStarts, 'native');
});

for (const how of ['native', 'fork'] as const) {
  describe(`a program started by ${how}`, () => {
    it('talks on its socket slots, and its exit is seen', async () => {
      const program = startProgram(
        { ...sh('read line; echo "out:$line"; echo "err:$line" >&2'), slots: ['socket', 'socket', 'socket'] },
        how,
      );
      socketOf(program, 0).end('hello\n');
      const [out, err] = await Promise.all([text(socketOf(program, 1)), text(socketOf(program, 2)), program.exited]);
      assert.equal(out, 'out:hello\n');
      assert.equal(err, 'err:hello\n');
    });

    it('says how it ended, once it has: an exit code or a signal', async () => {
      const exits = startProgram({ ...sh('read line; exit 3'), slots: ['socket', 'ignore', 'ignore'] }, how);
      assert.equal(exits.ending, undefined, 'still running');
      socketOf(exits, 0).end('go\n');
      assert.deepEqual(await exits.exited, { code: 3, signal: null });
      assert.deepEqual(exits.ending, { code: 3, signal: null });
      const killed = startProgram({ ...sh('read line'), slots: ['socket', 'ignore', 'ignore'] }, how);
      killed.kill('SIGKILL');
      await killed.exited;
      assert.deepEqual(killed.ending, { code: null, signal: 'SIGKILL' });
      socketOf(killed, 0).destroy();
    });

    it('reads a text slot to its end', async () => {
      const program = startProgram(
        {
          ...sh('cat <&3; echo; cat <&4; echo .'),
          slots: ['ignore', 'socket', 'ignore', { text: 'one' }, { text: '' }],
        },
        how,
      );
      const [out] = await Promise.all([text(socketOf(program, 1)), program.exited]);
      assert.equal(out, 'one\n.\n');
    });

    it('reads a text slot of the largest size whole', async () => {
      const big = 'x'.repeat(textSlotMaxBytes);
      const program = startProgram({ ...sh('wc -c <&3'), slots: ['ignore', 'socket', 'ignore', { text: big }] }, how);
      const [out] = await Promise.all([text(socketOf(program, 1)), program.exited]);
      assert.equal(out.trim(), String(textSlotMaxBytes));
    });

    it('gets exactly the environment it is given', async () => {
      const out = await output({ file: '/usr/bin/env', args: [], env: { ONLY: 'this', ALSO: 'that=1' } }, how);
      assert.deepEqual(out.trim().split('\n').sort(), ['ALSO=that=1', 'ONLY=this']);
    });

    // child_process passes on every descriptor without close-on-exec that the process
    // inherited (the test runner's, here): the native start closes all but the slots.
    it('holds no descriptor of the spawner but its slots', {
      skip: how === 'fork' && 'child_process keeps inherited ones',
    }, async () => {
      // Open files of ours (a database's connection, a key file) must never reach a jail.
      const held = openSync('/dev/null', 'r');
      const out = await output({ file: '/bin/ls', args: ['/proc/self/fd'], env: {} }, how);
      // 0-2 are its slots; 3 is the directory ls itself has open to list.
      assert.deepEqual(out.trim().split(/\s+/).map(Number), [0, 1, 2, 3], `fd ${held} of ours crossed`);
    });

    it('runs as the user and group it is given, leading a session of its own', {
      skip: process.getuid?.() !== 0 && 'needs root',
    }, async () => {
      const out = await output(
        {
          ...sh('echo "$(id -u) $(id -g) $(id -G)"; cut -d" " -f6 /proc/$$/stat; echo $$'),
          uid: 65534,
          gid: 65534,
          setsid: true,
        },
        how,
      );
      const [ids, session, pid] = out.trim().split('\n');
      assert.equal(ids, '65534 65534 65534', 'no supplementary group of ours is kept');
      assert.equal(session, pid);
    });

    it('starts in the directory it is given', async () => {
      assert.equal(await output({ ...sh('pwd'), cwd: '/usr/share' }, how), '/usr/share\n');
    });

    it('has no signal ignored or blocked, whatever Node ignores (SIGPIPE)', async () => {
      // A job whose reader went away must end by SIGPIPE, as it would from a shell.
      const out = await output({ file: '/bin/grep', args: ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], env: {} }, how);
      assert.equal(out, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    });

    it('gives another program one of its sockets as it is (a lifeline both hold)', async () => {
      const first = startProgram(
        { ...sh('read line <&3; echo "got $line"'), slots: ['ignore', 'socket', 'ignore', 'socket'] },
        how,
      );
      const second = startProgram(
        { ...sh('echo hello >&4'), slots: ['ignore', 'ignore', 'ignore', 'ignore', { from: first, slot: 3 }] },
        how,
      );
      const out = text(socketOf(first, 1));
      await second.exited;
      socketOf(first, 3).destroy();
      await first.exited;
      assert.equal(await out, 'got hello\n');
    });

    it('is ended by a signal', async () => {
      const program = startProgram({ ...sh('sleep 30'), slots: ['ignore', 'ignore', 'ignore'] }, how);
      program.kill('SIGKILL');
      await program.exited;
    });

    it('refuses a text slot too large to be written before the start, rather than wait forever', {
      skip: how === 'fork' && 'child_process writes it while the child reads',
    }, () => {
      assert.throws(
        () =>
          startProgram(
            { ...sh('true'), slots: ['ignore', 'ignore', 'ignore', { text: 'x'.repeat(textSlotMaxBytes + 1) }] },
            how,
          ),
        /at most/,
      );
    });

    it('fails to start, with the reason, when the program does not exist', () => {
      assert.throws(
        () => startProgram({ file: '/nonexistent/program', args: [], env: {}, slots: [] }, how),
        /nonexistent\/program/,
      );
    });
  });
}
