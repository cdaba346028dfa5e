import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configDir, ProfileStore } from '../src/config/profiles.ts';
import type { CliError } from '../src/errors.ts';

describe('profiles in the configuration directory', () => {
  const dirs: string[] = [];
  const temp = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sov-profiles-'));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('lives in SOV_CONFIG_DIR, else $XDG_CONFIG_HOME/sovereign, else ~/.config/sovereign', () => {
    assert.equal(configDir({ SOV_CONFIG_DIR: '/x/sov', XDG_CONFIG_HOME: '/y' }), '/x/sov');
    assert.equal(configDir({ XDG_CONFIG_HOME: '/y' }), '/y/sovereign');
    assert.equal(configDir({ HOME: '/home/ada' }), '/home/ada/.config/sovereign');
  });

  it('keeps each profile apart, in a 0600 file in a 0700 directory, and removes what is unset', async () => {
    const dir = join(await temp(), 'sovereign');
    const store = new ProfileStore(dir);
    await store.update('default', { apiUrl: 'http://a', accessToken: 'sov_s_one', workspaceId: 'w1' });
    await store.update('prod', { apiUrl: 'https://b', accessToken: 'sov_s_two' });
    await store.update('default', { accessToken: undefined, workspaceName: 'demo' });
    assert.deepEqual(await store.get('default'), { apiUrl: 'http://a', workspaceId: 'w1', workspaceName: 'demo' });
    assert.deepEqual(await store.get('prod'), { apiUrl: 'https://b', accessToken: 'sov_s_two' });
    assert.deepEqual(await store.get('nobody'), {});
    assert.equal((await stat(store.file)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.ok(!(await readFile(store.file, 'utf8')).includes('sov_s_one'), 'a forgotten token is gone from the file');
  });

  it('says how to recover from a damaged file', async () => {
    const dir = await temp();
    await writeFile(join(dir, 'config.json'), '{not json');
    await assert.rejects(new ProfileStore(dir).get('default'), (error: CliError) => {
      assert.match(error.message, /is not valid JSON/);
      assert.match(error.hint ?? '', /sov login/);
      return true;
    });
  });
});
