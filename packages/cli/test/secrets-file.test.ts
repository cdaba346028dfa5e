import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../src/errors.ts';
import { parseSecrets } from '../src/moves/secrets-file.ts';

/** `--secrets-from`: the values of the secrets a move sets again, NAME=value lines or a JSON object. */
describe('a secrets file for sov workspace move', () => {
  it('reads NAME=value lines as they are: everything after the first =, comments and blank lines skipped', () => {
    const text = '# for the move\n\nAPI_KEY=sk-1=2 "quoted" \nexport_ok=x\r\n  TRIMMED=left\n';
    assert.deepEqual(
      [...parseSecrets(text, 'f.env')],
      [
        ['API_KEY', 'sk-1=2 "quoted" '],
        ['export_ok', 'x'],
        ['TRIMMED', 'left'],
      ],
    );
  });

  it('reads a file starting with { as a JSON object of strings, line breaks included', () => {
    const pem = '-----BEGIN KEY-----\nabc\n-----END KEY-----';
    assert.deepEqual(
      [...parseSecrets(JSON.stringify({ PEM: pem, B: '' }), 'f.json')],
      [
        ['PEM', pem],
        ['B', ''],
      ],
    );
  });

  it('refuses what it cannot read, naming the line and never a value', () => {
    const refused = (text: string, message: RegExp) =>
      assert.throws(
        () => parseSecrets(text, 'f'),
        (error: Error) => {
          assert.ok(error instanceof UsageError);
          assert.match(error.message, message);
          assert.ok(!error.message.includes('hunter2'), 'no value in the message');
          return true;
        },
      );
    refused('A=1\nno equals hunter2\n', /^f, line 2: expected NAME=value\.$/);
    refused('1BAD=hunter2', /line 1: expected NAME=value/);
    refused('A=hunter2\nA=hunter2', /line 2: A is given twice/);
    refused('{"A": 1}', /the value of A is not a string/);
    refused('{"A": "hunter2"', /starts with \{ but is not valid JSON/);
    refused('["hunter2"]', /expected NAME=value|not a JSON object/);
  });
});
