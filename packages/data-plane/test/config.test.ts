import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configFromEnv, DataPlaneEnv } from '../src/config.ts';
import { limitKeys } from '../src/launch/limits.ts';

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

describe('data plane configuration: its public URL', () => {
  it('reports http://SOV_HOST:SOV_PORT by default, SOV_PUBLIC_URL without its trailing slash if set', () => {
    assert.equal(configFromEnv(base).publicUrl, 'http://127.0.0.1:8081');
    assert.equal(
      configFromEnv({ ...base, SOV_PUBLIC_URL: 'https://eu-1.example.eu/' }).publicUrl,
      'https://eu-1.example.eu',
    );
  });

  it('refuses at start what the control plane would refuse at every call: not a plain http(s) URL', () => {
    refuses('SOV_PUBLIC_URL', [
      'eu-1.example.eu',
      'ftp://eu-1.example.eu',
      'https://user:secret@eu-1.example.eu',
      'https://eu-1.example.eu/?x=1',
      'https://eu-1.example.eu/#x',
      'https://eu 1.example.eu',
    ]);
  });
});

describe('data plane configuration: where interactive apps are served', () => {
  const run = '3f2b8c1e-6a7d-4e2f-9b1a-0c5d7e9f1a2b';

  it('serves each run on its own host under *.apps.localhost on loopback, and beside a named public URL', () => {
    assert.equal(configFromEnv(base).apps.originOf(run), `http://${run}.apps.localhost:8081`);
    const named = configFromEnv({ ...base, SOV_PUBLIC_URL: 'https://dp.eu-1.example.eu/' });
    assert.equal(named.apps.originOf(run), `https://${run}.apps.dp.eu-1.example.eu`);
    assert.equal(named.apps.secure, true);
  });

  it('takes SOV_APPS_URL_TEMPLATE, and requires it for a public URL on an IP address', () => {
    const set = configFromEnv({
      ...base,
      SOV_PUBLIC_URL: 'http://10.0.0.5:8081',
      SOV_APPS_URL_TEMPLATE: 'https://{run}.apps.eu-1.example.eu',
    });
    assert.equal(set.apps.originOf(run), `https://${run}.apps.eu-1.example.eu`);
    refuses('SOV_APPS_URL_TEMPLATE', ['https://apps.example.eu', 'https://example.eu/{run}', 'ftp://{run}.example.eu']);
    assert.throws(
      () => configFromEnv({ ...base, SOV_PUBLIC_URL: 'http://10.0.0.5:8081' }),
      (error: unknown) => error instanceof ConfigError && error.message.includes('SOV_APPS_URL_TEMPLATE is required'),
    );
  });

  it('sends a browser without a session to the dashboard: the control plane’s URL, or SOV_DASHBOARD_URL', () => {
    assert.equal(configFromEnv(base).dashboardUrl, 'https://sov.example.com');
    assert.equal(
      configFromEnv({ ...base, SOV_DASHBOARD_URL: 'https://console.example.com/' }).dashboardUrl,
      'https://console.example.com',
    );
    refuses('SOV_DASHBOARD_URL', ['console.example.com', 'https://console.example.com/?x=1', 'javascript:alert(1)']);
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

describe('data plane configuration: the jail every run starts in', () => {
  it('is required in production, automatic in development, and off only when said', () => {
    assert.equal(configFromEnv(base).sandbox.mode, 'on');
    assert.equal(configFromEnv({ ...base, SOV_DEV: 'true' }).sandbox.mode, 'auto');
    assert.equal(configFromEnv({ ...base, SOV_SANDBOX: 'off' }).sandbox.mode, 'off');
    assert.equal(configFromEnv({ ...base, SOV_DEV: 'true', SOV_SANDBOX: 'on' }).sandbox.mode, 'on');
    refuses('SOV_SANDBOX', ['auto', 'yes', 'false']);
  });

  it('takes the user ids, extra read-only paths, pool and directory it jails runs with', () => {
    const config = configFromEnv({
      ...base,
      SOV_SANDBOX_UIDS: '200000-200099',
      SOV_SANDBOX_READ_ONLY_PATHS: '/opt/python:/nix/store',
      SOV_SANDBOX_POOL: '0',
      SOV_SANDBOX_DIR: '/srv/runs',
    });
    assert.deepEqual(config.sandbox, {
      mode: 'on',
      uids: { first: 200000, count: 100 },
      readOnlyPaths: ['/opt/python', '/nix/store'],
      pool: 0,
      dir: '/srv/runs',
    });
    assert.deepEqual(configFromEnv(base).sandbox.uids, { first: 1_500_000_000, count: 1_000_000 });
    refuses('SOV_SANDBOX_UIDS', ['0-100', '200-100', 'many', '5000000000-5000000001']);
    refuses('SOV_SANDBOX_READ_ONLY_PATHS', ['relative/path', '/opt/../etc']);
    refuses('SOV_SANDBOX_DIR', ['runs']);
  });
});

describe('data plane configuration: what a run may use', () => {
  it('has defaults and maxima, and takes SOV_RUN_<LIMIT> and SOV_RUN_<LIMIT>_MAX as sizes, CPUs and counts', () => {
    const builtIn = configFromEnv(base).runLimits;
    assert.deepEqual(
      { ...builtIn.defaults, memoryBytes: 0 },
      {
        memoryBytes: 0,
        cpus: 1,
        pids: 512,
        tmpBytes: 512 * 1024 ** 2,
        logBytes: 100 * 1024 ** 2,
        outputBytes: 1024 ** 3,
      },
    );
    const config = configFromEnv({
      ...base,
      SOV_RUN_MEMORY: '512m',
      SOV_RUN_MEMORY_MAX: '4Gi',
      SOV_RUN_CPUS: '0.5',
      SOV_RUN_PIDS: '64',
      SOV_RUN_TMP: '64MiB',
      SOV_RUN_LOG_BYTES: '10m',
      SOV_RUN_OUTPUT_BYTES: '1g',
    }).runLimits;
    assert.deepEqual(config.defaults, {
      memoryBytes: 512 * 1024 ** 2,
      cpus: 0.5,
      pids: 64,
      tmpBytes: 64 * 1024 ** 2,
      logBytes: 10 * 1024 ** 2,
      outputBytes: 1024 ** 3,
    });
    assert.equal(config.max.memoryBytes, 4 * 1024 ** 3);
    refuses('SOV_RUN_MEMORY', ['lots', '1k', '-5m']);
    refuses('SOV_RUN_CPUS', ['0', 'two', '0.001']);
    refuses('SOV_RUN_PIDS', ['2', '1.5']);
    assert.throws(
      () => configFromEnv({ ...base, SOV_RUN_PIDS: '1000', SOV_RUN_PIDS_MAX: '100' }),
      (error: unknown) => error instanceof ConfigError && /SOV_RUN_PIDS is over SOV_RUN_PIDS_MAX/.test(String(error)),
    );
  });
});

describe('data plane configuration: one schema, every mistake at once', () => {
  it('names every wrong variable in one error, and never repeats the client secret', () => {
    const secret = 'the-client-secret-itself';
    let caught: unknown;
    try {
      configFromEnv({
        SOV_CLIENT_SECRET: secret,
        SOV_CONTROL_PLANE_URL: 'ftp://cp.example.com',
        SOV_PORT: 'eighty',
        SOV_SANDBOX: 'yes',
        SOV_RUN_MEMORY: 'lots',
        SOV_INSTANCE_STALE_SECONDS: '5',
      });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ConfigError, String(caught));
    assert.deepEqual(
      caught.problems.map((problem) => problem.split(' ')[0]),
      [
        'SOV_CLIENT_ID',
        'SOV_PORT',
        'SOV_INSTANCE_STALE_SECONDS',
        'SOV_SANDBOX',
        'SOV_CONTROL_PLANE_URL',
        'SOV_RUN_MEMORY',
      ],
    );
    assert.ok(!caught.message.includes(secret));
  });

  it('lists every variable it reads, each with a description, the run limits among them', () => {
    const variables = Object.entries(DataPlaneEnv.properties) as Array<[string, { description?: unknown }]>;
    for (const [name, schema] of variables) {
      assert.match(name, /^SOV_[A-Z0-9_]+$/);
      assert.ok(typeof schema.description === 'string' && schema.description.length > 0, name);
    }
    for (const key of Object.values(limitKeys)) {
      assert.ok(name(key.env), key.env);
      assert.ok(name(`${key.env}_MAX`), `${key.env}_MAX`);
    }
    function name(variable: string): boolean {
      return variables.some(([each]) => each === variable);
    }
  });
});
