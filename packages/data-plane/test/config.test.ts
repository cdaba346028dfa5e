import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configFromEnv } from '../src/config.ts';

const base = {
  SOV_CONTROL_PLANE_URL: 'https://sov.example.com/',
  SOV_CLIENT_ID: 'client',
  SOV_CLIENT_SECRET: 'secret',
};

/** Each value of `name` is refused with a ConfigError that names the variable. */
function refuses(name: string, values: string[]): void {
  for (const value of values) {
    assert.throws(
      () => configFromEnv({ ...base, [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      value,
    );
  }
}

describe('data plane configuration: the dashboard origins allowed by CORS', () => {
  it("defaults to the control plane's origin, which serves the dashboard", () => {
    assert.deepEqual(configFromEnv(base).dashboardOrigins, ['https://sov.example.com']);
  });

  it('allows every loopback name of a loopback control plane', () => {
    const config = configFromEnv({ ...base, SOV_CONTROL_PLANE_URL: 'http://127.0.0.1:8080' });
    assert.deepEqual(config.dashboardOrigins, ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080']);
  });

  it('takes a comma-separated list from SOV_DASHBOARD_ORIGINS, normalized as browsers send them', () => {
    const config = configFromEnv({
      ...base,
      SOV_DASHBOARD_ORIGINS: ' https://Console.Example.com:443 , http://ops.example.net:9000/ ',
    });
    assert.deepEqual(config.dashboardOrigins, ['https://console.example.com', 'http://ops.example.net:9000']);
  });

  it('refuses a value that is not an origin, and a control plane URL that is not http(s)', () => {
    refuses('SOV_DASHBOARD_ORIGINS', [
      '*',
      'console.example.com',
      'https://example.com/dashboard',
      'ftp://example.com',
    ]);
    assert.throws(() => configFromEnv({ ...base, SOV_CONTROL_PLANE_URL: 'not a url' }), ConfigError);
  });
});

describe('data plane configuration: when an instance counts as gone', () => {
  it('after 30 s unseen by default, SOV_INSTANCE_STALE_SECONDS if set, never under 15 s', () => {
    assert.equal(configFromEnv(base).instanceStaleSeconds, 30);
    assert.equal(configFromEnv({ ...base, SOV_INSTANCE_STALE_SECONDS: '15' }).instanceStaleSeconds, 15);
    refuses('SOV_INSTANCE_STALE_SECONDS', ['14', '0', 'soon']);
  });
});

describe('data plane configuration: the cache of unpacked deployments', () => {
  it('keeps 1 GiB by default, takes SOV_DEPLOYMENT_CACHE_BYTES (0 keeps none), and refuses anything else', () => {
    assert.equal(configFromEnv(base).deploymentCacheBytes, 1024 ** 3);
    assert.equal(configFromEnv({ ...base, SOV_DEPLOYMENT_CACHE_BYTES: '0' }).deploymentCacheBytes, 0);
    assert.equal(configFromEnv({ ...base, SOV_DEPLOYMENT_CACHE_BYTES: '5000000' }).deploymentCacheBytes, 5_000_000);
    refuses('SOV_DEPLOYMENT_CACHE_BYTES', ['-1', 'lots', '1.5']);
  });
});
