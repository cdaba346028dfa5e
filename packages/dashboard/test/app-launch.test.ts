import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appLaunchTarget } from '../src/api/app-launch.ts';

const runId = '0b3c1e6a-2f4d-4c8e-9a1b-5d6e7f809a1b';

describe('the address the dashboard opens an app at', () => {
  it('is the run’s own app origin, as a data plane’s template gives it', () => {
    for (const url of [
      `https://${runId}.apps.eu-1.example.eu/_sov/launch?ticket=t`,
      `http://${runId}.apps.localhost:8081/_sov/launch?ticket=t`,
      `https://app-${runId}.example.eu/_sov/launch?ticket=t`,
    ]) {
      assert.equal(appLaunchTarget(url, runId), url);
    }
  });

  it('is never another site, a script, or another run’s app, whatever a data plane answers', () => {
    for (const url of [
      'https://evil.example/phish',
      "javascript:alert('x')",
      `data:text/html,<h1>${runId}</h1>`,
      `https://evil.example/${runId}`,
      `https://${runId}@evil.example/`,
      'https://9f1d0c2e-0000-4000-8000-000000000000.apps.eu-1.example.eu/_sov/launch',
      'not a url',
    ]) {
      assert.throws(() => appLaunchTarget(url, runId), /not this app’s own/, url);
    }
  });
});
