import { UsageError } from '../errors.ts';
import { readValueFile } from '../value-file.ts';

/**
 * The secrets a move sets again, from `--secrets-from <file>`, by name. Two forms, told
 * apart by the first character that is not a space:
 *
 * - `{` — a JSON object of strings, `{"API_KEY": "…", "PEM": "-----BEGIN…\n…"}`: any
 *   value, line breaks included;
 * - anything else — `NAME=value` lines: the value is everything after the first `=`, as
 *   it is (no quotes taken off, no escapes); blank lines and lines starting with `#` are
 *   skipped. One line per value, so a value with a line break takes the JSON form.
 *
 * The file is read, never printed: an error names the line, never its value.
 */
export async function readSecretsFile(path: string): Promise<Map<string, string>> {
  return parseSecrets(await readValueFile(path), path);
}

const namePattern = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function parseSecrets(text: string, path: string): Map<string, string> {
  const secrets = new Map<string, string>();
  if (text.trimStart().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UsageError(`${path} starts with { but is not valid JSON.`, 'Write one JSON object: {"NAME": "value"}.');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UsageError(`${path} is not a JSON object of names and values.`, 'Write {"NAME": "value"}.');
    }
    for (const [name, value] of Object.entries(parsed)) {
      if (!namePattern.test(name)) throw new UsageError(`${path}: "${name}" is not a variable name.`);
      if (typeof value !== 'string') throw new UsageError(`${path}: the value of ${name} is not a string.`);
      secrets.set(name, value);
    }
    return secrets;
  }
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    const name = equals < 0 ? line : line.slice(0, equals).trim();
    if (equals < 0 || !namePattern.test(name)) {
      throw new UsageError(
        `${path}, line ${index + 1}: expected NAME=value.`,
        'One secret a line as NAME=value, or the whole file as a JSON object.',
      );
    }
    if (secrets.has(name)) throw new UsageError(`${path}, line ${index + 1}: ${name} is given twice.`);
    secrets.set(name, line.slice(equals + 1));
  }
  return secrets;
}
