import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { HttpProblem } from '@sovereign/server-kit/http';
import * as tar from 'tar';
import { type BundleLimits, receiveBundle } from '../src/deployments/index.ts';
import { packProject, type RawEntry, rawTar, rawTarGz } from './support/tar-writer.ts';

const manifest = 'jobs:\n  - name: hello\n    run: echo hello\n';
const manifestEntry: RawEntry = { path: 'sovereign.yaml', type: '0', content: manifest };
const limits: BundleLimits = { maxBundleBytes: 1024 * 1024, maxEntries: 100, maxUnpackedBytes: 4 * 1024 * 1024 };

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sov-bundle-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Receives `body` into a fresh directory; a refusal must leave that directory empty. */
async function receive(body: Buffer | Readable, overrides: Partial<BundleLimits> = {}) {
  const dir = await mkdtemp(join(root, 'tmp-'));
  const stream = Buffer.isBuffer(body) ? Readable.from([body]) : body;
  try {
    const bundle = await receiveBundle(stream, dir, { ...limits, ...overrides });
    assert.deepEqual(await readdir(dir), [bundle.tempPath.slice(dir.length + 1)]);
    return { bundle, dir };
  } catch (error) {
    assert.deepEqual(await readdir(dir), [], 'a refused bundle leaves no temporary file');
    throw error;
  }
}

/** The refusal of `body`: its status, code and the paths it lists. */
async function refusal(body: Buffer | Readable, overrides: Partial<BundleLimits> = {}) {
  try {
    await receive(body, overrides);
  } catch (error) {
    const problem = error as HttpProblem;
    assert.ok(typeof problem.toDocument === 'function', `a problem, not ${String(error)}`);
    const doc = problem.toDocument();
    const errors = (doc.errors ?? []) as Array<{ path: string; message: string }>;
    return { status: doc.status, code: doc.code, paths: errors.map((e) => e.path), errors, doc };
  }
  assert.fail('the bundle was accepted');
}

describe('receiving a bundle', () => {
  it('streams a project to a temporary file, with its digest, size and manifest', async () => {
    const body = await packProject({ 'sovereign.yaml': manifest, 'src/main.py': 'print(1)\n', 'data.csv': 'a,b\n' });
    const { bundle } = await receive(body);
    assert.equal(bundle.digest, `sha256:${createHash('sha256').update(body).digest('hex')}`);
    assert.equal(bundle.sizeBytes, body.length);
    assert.equal(bundle.manifestText, manifest);
    assert.ok(bundle.entries >= 3);
    assert.equal(bundle.unpackedBytes, manifest.length + 'print(1)\n'.length + 'a,b\n'.length);
    assert.deepEqual(await readFile(bundle.tempPath), body);
  });

  it('takes ./sovereign.yaml, a root directory entry, and links that stay inside', async () => {
    const { bundle } = await receive(
      rawTarGz([
        { path: './', type: '5' },
        { path: './sovereign.yaml', type: '0', content: manifest },
        { path: 'lib/', type: '5' },
        { path: 'lib/util.py', type: '0', content: 'x = 1\n' },
        { path: 'lib/current', type: '2', linkpath: '../sovereign.yaml' },
        { path: 'here', type: '2', linkpath: '.' },
        { path: 'copy.py', type: '1', linkpath: 'lib/util.py' },
      ]),
    );
    assert.equal(bundle.manifestText, manifest);
    // What the scan accepts, tar (as the executor runs it) unpacks.
    const copy = await mkdtemp(join(root, 'copy-'));
    await pipeline(createReadStream(bundle.tempPath), tar.x({ cwd: copy, strict: true }));
    assert.equal(await readFile(join(copy, 'here', 'lib', 'current'), 'utf8'), manifest);
    assert.equal(await readFile(join(copy, 'copy.py'), 'utf8'), 'x = 1\n');
  });

  const hostile: Array<[string, RawEntry[], string, string[]]> = [
    ['an absolute path', [{ path: '/etc/x', type: '0', content: 'x' }], 'bundle_unsafe_path', ['/etc/x']],
    ['a .. segment', [{ path: '../escape', type: '0', content: 'x' }], 'bundle_unsafe_path', ['../escape']],
    ['.. in the middle', [{ path: 'a/../../b', type: '0', content: 'x' }], 'bundle_unsafe_path', ['a/../../b']],
    [
      'a symbolic link out',
      [{ path: 'link', type: '2', linkpath: '../../etc/passwd' }],
      'bundle_link_escape',
      ['link'],
    ],
    ['an absolute symbolic link', [{ path: 'abs', type: '2', linkpath: '/etc/shadow' }], 'bundle_link_escape', ['abs']],
    ['a hard link out', [{ path: 'hard', type: '1', linkpath: '../outside' }], 'bundle_link_escape', ['hard']],
    ['an absolute hard link', [{ path: 'hard', type: '1', linkpath: '/etc/passwd' }], 'bundle_link_escape', ['hard']],
    [
      'a link out through another link',
      [
        { path: 'x/', type: '5' },
        { path: 's', type: '2', linkpath: '.' },
        { path: 't', type: '2', linkpath: 's/x/../..' },
      ],
      'bundle_link_escape',
      ['t'],
    ],
    [
      'an entry written through a link',
      [
        { path: 'd', type: '2', linkpath: 'sub' },
        { path: 'd/file', type: '0', content: 'x' },
      ],
      'bundle_link_escape',
      ['d/file'],
    ],
    [
      'links that loop',
      [
        { path: 'a', type: '2', linkpath: 'b' },
        { path: 'b', type: '2', linkpath: 'a' },
      ],
      'bundle_link_escape',
      ['a', 'b'],
    ],
    [
      'a path that is a file and then a link',
      [
        { path: 'twice', type: '0', content: 'x' },
        { path: 'twice', type: '2', linkpath: 'sovereign.yaml' },
      ],
      'bundle_link_escape',
      ['twice'],
    ],
    ['a hard link to nothing', [{ path: 'h', type: '1', linkpath: 'missing' }], 'bundle_link_escape', ['h']],
    [
      'a PAX path that climbs out behind an innocent name',
      [{ path: 'innocent.txt', type: '0', content: 'x', pax: { path: '../../evil.sh' } }],
      'bundle_unsafe_path',
      ['../../evil.sh'],
    ],
    [
      'a PAX link target that escapes',
      [{ path: 'ok', type: '2', linkpath: 'sovereign.yaml', pax: { linkpath: '../../../etc/shadow' } }],
      'bundle_link_escape',
      ['ok'],
    ],
    ['a character device', [{ path: 'dev/null', type: '3' }], 'bundle_special_file', ['dev/null']],
    ['a block device', [{ path: 'dev/sda', type: '4' }], 'bundle_special_file', ['dev/sda']],
    ['a FIFO', [{ path: 'pipe', type: '6' }], 'bundle_special_file', ['pipe']],
  ];
  for (const [what, entries, code, paths] of hostile) {
    it(`refuses ${what} (${code}), listing the entry`, async () => {
      const answer = await refusal(rawTarGz([manifestEntry, ...entries]));
      assert.equal(answer.status, 400);
      assert.equal(answer.code, code);
      assert.deepEqual([...answer.paths].sort(), [...paths].sort(), JSON.stringify(answer.errors));
    });
  }

  it('lists every offending entry of every kind, under the code of the worst', async () => {
    const answer = await refusal(
      rawTarGz([
        { path: 'pipe', type: '6' },
        manifestEntry,
        { path: 'link', type: '2', linkpath: '../../etc/passwd' },
        { path: '/etc/x', type: '0', content: 'x' },
        { path: '../escape', type: '0', content: 'x' },
        { path: 'dev/zero', type: '3' },
      ]),
    );
    assert.equal(answer.code, 'bundle_unsafe_path');
    assert.deepEqual([...answer.paths].sort(), ['../escape', '/etc/x', 'dev/zero', 'link', 'pipe']);
    for (const e of answer.errors) assert.ok(e.message.length > 0);
  });

  it('caps the list, and says how many more there were', async () => {
    const entries: RawEntry[] = Array.from({ length: 70 }, (_, i) => ({ path: `/abs/${i}`, type: '0', content: '' }));
    const answer = await refusal(rawTarGz([manifestEntry, ...entries]));
    assert.equal(answer.code, 'bundle_unsafe_path');
    assert.equal(answer.errors.length, 50);
    assert.equal(answer.doc.omitted, 20);
  });

  it('cuts an oversized upload off at the limit with 413, without reading the rest', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 64 * 1024;
        this.push(Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(64 * 1024 - 2)]));
      },
    });
    const answer = await refusal(endless, { maxBundleBytes: 256 * 1024 });
    assert.equal(answer.status, 413);
    assert.equal(answer.code, 'bundle_too_large');
    assert.ok(endless.destroyed, 'the input is destroyed');
    assert.ok(produced < 2 * 1024 * 1024, `read ${produced} bytes of an endless body`);
  });

  it('refuses what is not a gzipped tar, at once', async () => {
    const garbage = await refusal(Buffer.from('this is not a gzipped tar at all'));
    assert.deepEqual([garbage.status, garbage.code], [400, 'bundle_invalid']);
    const plainTar = await refusal(rawTar([manifestEntry]));
    assert.equal(plainTar.code, 'bundle_invalid', 'an uncompressed tar is not a bundle');
    const gzippedGarbage = await refusal(gzipSync(randomBytes(4096)));
    assert.equal(gzippedGarbage.code, 'bundle_invalid');
    const good = await packProject({ 'sovereign.yaml': manifest, 'big.bin': randomBytes(64 * 1024) });
    const truncated = await refusal(good.subarray(0, good.length - 2000));
    assert.equal(truncated.code, 'bundle_invalid');
    const empty = await refusal(Buffer.alloc(0));
    assert.equal(empty.code, 'bundle_invalid');
    const emptyArchive = await refusal(rawTarGz([]));
    assert.equal(emptyArchive.code, 'bundle_invalid');
  });

  it('refuses data hidden after the end of the archive, and takes zero padding', async () => {
    const hidden = await refusal(rawTarGz([manifestEntry], Buffer.concat([Buffer.alloc(10240), randomBytes(512)])));
    assert.equal(hidden.code, 'bundle_invalid');
    await receive(rawTarGz([manifestEntry], Buffer.alloc(9216)));
  });

  it('stops at the entry and unpacked-size limits', async () => {
    const many: RawEntry[] = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, type: '0', content: 'x' }));
    const tooMany = await refusal(rawTarGz([manifestEntry, ...many]), { maxEntries: 10 });
    assert.deepEqual([tooMany.status, tooMany.code], [400, 'bundle_invalid']);
    assert.match(tooMany.errors[0]?.message ?? '', /more than 10 entries/);

    const zeros = await packProject({ 'sovereign.yaml': manifest, 'zeros.bin': Buffer.alloc(8 * 1024 * 1024) });
    const tooBig = await refusal(zeros, { maxUnpackedBytes: 1024 * 1024 });
    assert.equal(tooBig.code, 'bundle_invalid');
    assert.match(tooBig.errors[0]?.message ?? '', /unpacks to more than/);

    // A header that claims 8 GiB is refused as it is read, with no body behind it.
    const claims = await refusal(
      rawTarGz([manifestEntry, { path: 'huge', type: '0', declaredSize: 8 * 1024 ** 3 - 1 }]),
    );
    assert.match(claims.errors[0]?.message ?? '', /unpacks to more than/);
  });

  it('refuses a decompression bomb that tar would refuse to unpack', async () => {
    const bomb = rawTarGz([manifestEntry, { path: 'zeros', type: '0', content: Buffer.alloc(20 * 1024 * 1024) }]);
    const answer = await refusal(bomb, { maxUnpackedBytes: 1024 ** 3 });
    assert.equal(answer.code, 'bundle_invalid');
    assert.match(answer.errors[0]?.message ?? '', /expands more than 1000 times/);
  });

  it('needs sovereign.yaml at the root, as a file of sane size', async () => {
    const missing = await refusal(rawTarGz([{ path: 'main.py', type: '0', content: 'print(1)' }]));
    assert.deepEqual([missing.status, missing.code, missing.paths], [400, 'manifest_missing', ['sovereign.yaml']]);
    const nested = await refusal(rawTarGz([{ path: 'app/sovereign.yaml', type: '0', content: manifest }]));
    assert.equal(nested.code, 'manifest_missing');
    const dotted = await refusal(rawTarGz([{ path: '.sovereign.yaml', type: '0', content: manifest }]));
    assert.equal(dotted.code, 'manifest_missing', '.sovereign.yaml is another file');
    const linked = await refusal(
      rawTarGz([
        { path: 'real.yaml', type: '0', content: manifest },
        { path: 'sovereign.yaml', type: '2', linkpath: 'real.yaml' },
      ]),
    );
    assert.equal(linked.code, 'manifest_missing');
    assert.match(linked.errors[0]?.message ?? '', /link/);
    const huge = await refusal(
      rawTarGz([{ path: 'sovereign.yaml', type: '0', content: `jobs: []\n#${'x'.repeat(300 * 1024)}\n` }]),
    );
    assert.equal(huge.code, 'manifest_invalid');
  });
});
