import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstant } from '../src/commands/backfills.ts';
import { progressLine } from '../src/deploy/progress.ts';
import {
  bytes,
  colorEnabled,
  compactSeconds,
  intervalText,
  keyValues,
  palette,
  printable,
  relativeTime,
  stripAnsi,
  table,
  trigger,
  visibleLength,
} from '../src/output/format.ts';
import { Output } from '../src/output/output.ts';

const plain = palette(false);
const now = new Date('2026-03-01T12:00:00Z');

describe('human output', () => {
  it('aligns table columns, pads right-aligned ones, and leaves no trailing spaces', () => {
    const rows = [
      { name: 'hello', status: 'succeeded', exit: 0 },
      { name: 'a-much-longer-name', status: 'failed', exit: 137 },
    ];
    const text = table(
      rows,
      [
        { header: 'name', value: (r) => r.name },
        { header: 'exit', value: (r) => String(r.exit), align: 'right' },
        { header: 'status', value: (r) => r.status },
      ],
      plain,
    );
    assert.equal(
      text,
      [
        'NAME                EXIT  STATUS',
        'hello                  0  succeeded',
        'a-much-longer-name   137  failed',
      ].join('\n'),
    );
  });

  it('measures coloured cells by what shows, so colours do not break alignment', () => {
    const colors = palette(true);
    const text = table(
      [{ s: colors.green('ok') }, { s: colors.red('failed') }],
      [
        { header: 'status', value: (r) => r.s },
        { header: 'x', value: () => 'x' },
      ],
      colors,
    );
    const lines = text.split('\n').map((l) => stripAnsi(l));
    assert.deepEqual(lines, ['STATUS  X', 'ok      x', 'failed  x']);
    assert.equal(visibleLength(colors.bold('abc')), 3);
  });

  it('aligns key-value pairs and leaves out missing values', () => {
    assert.equal(
      keyValues(
        [
          ['run', 'abc'],
          ['exit code', undefined],
          ['status', 'ok'],
        ],
        plain,
      ),
      'run     abc\nstatus  ok',
    );
  });

  it('says times relative to now, and the date past a month', () => {
    assert.equal(relativeTime('2026-03-01T11:59:58Z', now), 'just now');
    assert.equal(relativeTime('2026-03-01T11:59:30Z', now), '30s ago');
    assert.equal(relativeTime('2026-03-01T11:55:00Z', now), '5m ago');
    assert.equal(relativeTime('2026-03-01T09:00:00Z', now), '3h ago');
    assert.equal(relativeTime('2026-02-27T12:00:00Z', now), '2d ago');
    assert.equal(relativeTime('2026-03-01T14:00:00Z', now), 'in 2h');
    assert.equal(relativeTime('2025-12-24T10:00:00Z', now), '2025-12-24');
    assert.equal(relativeTime(null, now), '-');
  });

  it('writes sizes and schedules the way people read them', () => {
    assert.equal(bytes(512), '512 B');
    assert.equal(bytes(1234), '1.2 kB');
    assert.equal(bytes(52_400_000), '52 MB');
    assert.equal(compactSeconds(5400), '1h30m');
    assert.equal(compactSeconds(7200), '2h');
    assert.equal(trigger({ type: 'every', everySeconds: 900 }), 'every 15m');
    assert.equal(trigger({ type: 'cron', cron: '0 3 * * *' }), 'cron 0 3 * * *');
    assert.equal(trigger({ type: 'after', job: 'sync', on: 'success' }), 'after sync (success)');
    assert.equal(trigger({ type: 'manual' }), 'manual');
    assert.equal(
      progressLine('Uploading', 500, 1000),
      `Uploading [${'#'.repeat(14)}${'.'.repeat(14)}]  50%  500 B / 1.0 kB`,
    );
  });

  it('colours only a terminal, and never when NO_COLOR is set or --no-color given', () => {
    assert.equal(colorEnabled({ isTTY: true }, {}, true), true);
    assert.equal(colorEnabled({ isTTY: false }, {}, true), false);
    assert.equal(colorEnabled({}, {}, true), false);
    assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }, true), false);
    assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '' }, true), true, 'an empty NO_COLOR does not count');
    assert.equal(colorEnabled({ isTTY: true }, {}, false), false);
  });

  it('prints exactly one JSON document with --json, and nothing for people', () => {
    const written: string[] = [];
    const sink = { isTTY: true, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const output = new Output({ json: true, color: true, debug: false, stdout: sink, stderr: sink, env: {} });
    output.line('a table');
    output.note('a note');
    output.result({ ok: true }, () => output.line('human'));
    assert.deepEqual(written, ['{\n  "ok": true\n}\n']);
  });

  it('shows control characters escaped (C0, DEL, C1), lets only its own colours through, and line breaks only where asked', () => {
    const colors = palette(true);
    assert.equal(printable('a\u001b]52;c;eA==\u0007\r\u001b[2Kb'), 'a\\x1b]52;c;eA==\\x07\\r\\x1b[2Kb');
    assert.equal(printable('\u0000\t\u007f\u0085\u009b'), '\\x00\\t\\x7f\\x85\\x9b');
    assert.equal(printable('one\ntwo'), 'one\\ntwo');
    assert.equal(printable('one\ntwo', { lines: true }), 'one\ntwo');
    const ours = colors.red(colors.bold('Error:')) + colors.dim(' x') + colors.cyan('y') + colors.green('z');
    assert.equal(printable(ours), ours, "the palette's sequences pass");
    assert.equal(printable('\u001b[8mhidden\u001b[0m'), '\\x1b[8mhidden\\x1b[0m', 'any other SGR does not');
    assert.equal(printable('café ✓ 東京'), 'café ✓ 東京');

    const written: string[] = [];
    const sink = { isTTY: true, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const output = new Output({ json: false, color: true, debug: false, stdout: sink, stderr: sink, env: {} });
    output.table([{ name: 'o\r\u001b[2Kx' }], [{ header: 'name', value: (r) => output.out.bold(r.name) }], '');
    output.keyValues([['organization', 'o\u001b]52;c;eA==\u0007']]);
    output.line('two\nlines\u0007');
    output.note('a note\r');
    output.logLine('\u001b[31ma job’s own red\u001b[0m');
    assert.deepEqual(written, [
      `${colors.bold('NAME')}\n${colors.bold('o\\r\\x1b[2Kx')}\n`,
      `${colors.dim('organization')}  o\\x1b]52;c;eA==\\x07\n`,
      'two\nlines\\x07\n',
      'a note\\r\n',
      '\u001b[31ma job’s own red\u001b[0m\n',
    ]);
  });

  it('reads a backfill’s --from and --to as dates (midnight UTC) or times, and writes intervals as short as they read', () => {
    assert.equal(parseInstant('start', '2026-11-01'), '2026-11-01T00:00:00.000Z');
    assert.equal(parseInstant('start', '2026-11-01T06:30'), '2026-11-01T06:30:00.000Z');
    assert.equal(parseInstant('start', '2026-11-01 06:30:15'), '2026-11-01T06:30:15.000Z');
    assert.equal(parseInstant('end', '2026-11-01T06:30+01:00'), '2026-11-01T05:30:00.000Z');
    for (const bad of ['yesterday', '2026-13-01', '1762000000', '']) {
      assert.throws(() => parseInstant('end', bad), /The range’s end ".*" is not a date/);
    }
    assert.equal(intervalText('2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z'), '2026-11-01 → 2026-11-02');
    assert.equal(
      intervalText('2026-03-28T01:00:00.000Z', '2026-03-29T01:00:00.000Z'),
      '2026-03-28 01:00Z → 2026-03-29 01:00Z',
    );
    assert.equal(intervalText(null, null), undefined);
  });
});
