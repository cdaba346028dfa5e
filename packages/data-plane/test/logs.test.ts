import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineAssembler } from '../src/logs/lines.ts';
import { Masker, maskText } from '../src/logs/mask.ts';

describe('secret masking', () => {
  const secret = 'hunter2-very-secret';
  const masker = new Masker([secret, 'ab']);

  it('masks the value as is, and leaves too-short values alone', () => {
    assert.equal(masker.mask(`password=${secret}; ab`), `password=${maskText}; ab`);
  });

  it('masks base64 and base64url forms, padded or not', () => {
    const b64 = Buffer.from(secret).toString('base64');
    const url = Buffer.from(secret).toString('base64url');
    assert.ok(!masker.mask(`x ${b64} y`).includes(b64));
    assert.ok(!masker.mask(`x ${url} y`).includes(url));
  });

  it('masks the secret inside a longer base64 text, at every byte offset', () => {
    for (const prefix of ['', 'a', 'ab', 'abc', 'user:']) {
      const encoded = Buffer.from(`${prefix}${secret}!tail`).toString('base64');
      const masked = masker.mask(encoded);
      assert.ok(masked.includes(maskText), `masked with prefix "${prefix}": ${masked}`);
      const middle = Buffer.from(secret).toString('base64').slice(4, -4);
      assert.ok(!masked.includes(middle) || prefix.length % 3 !== 0);
    }
  });

  it('masks each line of a multi-line secret', () => {
    const pem = new Masker(['-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----']);
    assert.equal(pem.mask('MIIBVwIBADANBgkqhkiG9w0BAQEFAASC'), maskText);
  });
});

describe('log lines', () => {
  it('joins a line split across writes, so a secret split across writes is masked', () => {
    const lines = new LineAssembler('stdout');
    const masker = new Masker(['s3cr3t-value']);
    const out = [
      ...lines.push(Buffer.from('token: s3cr')),
      ...lines.push(Buffer.from('3t-value\nnext')),
      ...lines.end(),
    ];
    assert.deepEqual(
      out.map((l) => masker.mask(l.text)),
      [`token: ${maskText}`, 'next'],
    );
  });

  it('never splits a UTF-8 character across chunks', () => {
    const lines = new LineAssembler('stderr');
    const bytes = Buffer.from('héllo\n');
    const out = [...lines.push(bytes.subarray(0, 2)), ...lines.push(bytes.subarray(2))];
    assert.deepEqual(
      out.map((l) => [l.stream, l.text]),
      [['stderr', 'héllo']],
    );
  });

  it('cuts a line that never ends into bounded pieces', () => {
    const lines = new LineAssembler('stdout');
    const out = lines.push(Buffer.alloc(600 * 1024, 'x'));
    assert.equal(out.length, 2);
    assert.ok(out.every((l) => l.text.length === 256 * 1024));
    assert.equal(lines.end()[0]?.text.length, 600 * 1024 - 512 * 1024);
  });

  it('stores bytes that are not text as U+FFFD, NUL included', () => {
    const lines = new LineAssembler('stdout');
    const out = [...lines.push(Buffer.from([0x61, 0x00, 0x62, 0xff, 0x0a])), ...lines.push(Buffer.from('c\u0000'))];
    out.push(...lines.end());
    assert.deepEqual(
      out.map((l) => l.text),
      ['a\uFFFDb\uFFFD', 'c\uFFFD'],
    );
  });
});
