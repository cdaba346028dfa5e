import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ControlPlaneEnv, configFromEnv as controlPlaneConfig } from '../../packages/control-plane/src/config.ts';
import { DataPlaneEnv, configFromEnv as dataPlaneConfig } from '../../packages/data-plane/src/config.ts';
import {
  type KubeObject,
  kubectlCommand,
  render,
  schemaProblems,
  unknownFields,
  validatorOf,
} from '../support/kubernetes.ts';

/**
 * deploy/kubernetes, as a platform team applies it: the two bases and the example overlay
 * rendered by kubectl's kustomize, every object checked against the Kubernetes schemas
 * offline (no cluster here), then what a deployment relies on: probes where the services
 * answer them, resources, disruption budgets, network policies, secrets kept in Secrets,
 * no privilege beyond the jail's needs, and variables the services actually read.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Variables outside SOV_*, each with the module that reads it (checked to name it). */
const otherReaders: Record<string, string> = {
  XDG_CACHE_HOME: join(root, 'packages/contract/src/compile-cache.ts'),
  AWS_ACCESS_KEY_ID: createRequire(import.meta.url).resolve('@aws-sdk/credential-provider-env'),
  AWS_SECRET_ACCESS_KEY: createRequire(import.meta.url).resolve('@aws-sdk/credential-provider-env'),
};

/** Credentials the schemas do not mark secret (a database URL holds a password): Secrets only, too. */
const alsoSecret = ['SOV_DATABASE_URL', 'SOV_CLIENT_ID', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

/** What the data plane's container is granted, each seen needed (deploy/kubernetes/README.md). */
const jailCapabilities = [
  'CHOWN',
  'DAC_OVERRIDE',
  'KILL',
  'SETUID',
  'SETGID',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_ADMIN',
  'NET_ADMIN',
  'SYS_PTRACE',
];

type Plane = 'control-plane' | 'data-plane';
type Loose = Record<string, any>;

interface Variable {
  from: 'value' | 'configMap' | 'secret';
  value: string | undefined;
  secret?: { name: string; key: string; optional: boolean };
}

const planes: Record<Plane, { schema: { properties: Record<string, Loose> } }> = {
  'control-plane': { schema: ControlPlaneEnv as never },
  'data-plane': { schema: DataPlaneEnv as never },
};

let workdir: string;
const rendered: Record<'controlPlane' | 'dataPlane' | 'example', KubeObject[]> = {
  controlPlane: [],
  dataPlane: [],
  example: [],
};

const byKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind) as Loose[];
const deploymentsOf = (objects: KubeObject[]) => byKind(objects, 'Deployment');
const planeOf = (deployment: Loose): Plane => {
  const service = deployment.spec.template.spec.containers[0].args?.[0];
  assert.ok(service === 'control-plane' || service === 'data-plane', `${deployment.metadata.name} runs ${service}`);
  return service;
};
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** Every variable a container gets: from its ConfigMaps (envFrom), and its own list. */
function environmentOf(objects: KubeObject[], container: Loose): Map<string, Variable> {
  const found = new Map<string, Variable>();
  for (const source of container.envFrom ?? []) {
    assert.ok(source.configMapRef !== undefined, `${container.name} takes variables from a ConfigMap only`);
    const configMap = byKind(objects, 'ConfigMap').find((c) => c.metadata.name === source.configMapRef.name);
    assert.ok(configMap !== undefined, `${container.name} reads ConfigMap ${source.configMapRef.name}, not rendered`);
    for (const [name, value] of Object.entries(configMap.data ?? {})) {
      found.set(name, { from: 'configMap', value: value as string });
    }
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref === undefined) {
      found.set(variable.name, { from: 'value', value: variable.value });
      continue;
    }
    const secret = byKind(objects, 'Secret').find((s) => s.metadata.name === ref.name);
    const data = secret?.data?.[ref.key] as string | undefined;
    found.set(variable.name, {
      from: 'secret',
      value: data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8'),
      secret: { name: ref.name, key: ref.key, optional: ref.optional === true },
    });
  }
  return found;
}

/** The port a probe or policy names (`http`, or a number), as a number. */
function portNumber(container: Loose, port: string | number): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p: Loose) => p.name === port);
  assert.ok(named !== undefined, `${container.name} has no port named ${port}`);
  return named.containerPort;
}

describe('the Kubernetes manifests (deploy/kubernetes), rendered and validated offline', () => {
  before(() => {
    workdir = mkdtempSync(join(tmpdir(), 'sov-kubernetes-'));
    const copy = join(workdir, 'kubernetes');
    // Never a secret file someone made in their working tree: the test writes its own.
    cpSync(join(root, 'deploy/kubernetes'), copy, {
      recursive: true,
      filter: (path) => !path.includes(`${sep}secrets${sep}`) || path.endsWith('.gitignore'),
    });
    const secrets = join(copy, 'overlays/example/secrets');
    const key = () => randomBytes(32).toString('base64');
    const lines = (values: Record<string, string>) =>
      Object.entries(values)
        .map(([name, value]) => `${name}=${value}\n`)
        .join('');
    writeFileSync(
      join(secrets, 'control-plane.env'),
      lines({
        SOV_DATABASE_URL: 'postgres://sov:not-a-password@postgres.example:5432/control',
        SOV_MASTER_KEY: key(),
        SOV_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
      }),
    );
    writeFileSync(
      join(secrets, 'data-plane.env'),
      lines({
        SOV_CLIENT_ID: randomBytes(8).toString('hex'),
        SOV_CLIENT_SECRET: randomBytes(24).toString('hex'),
        SOV_MASTER_KEY: key(),
        SOV_DATABASE_URL: 'postgres://sov:not-a-password@postgres.example:5432/eu1',
      }),
    );
    writeFileSync(
      join(secrets, 'object-storage.env'),
      lines({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: randomBytes(20).toString('hex') }),
    );
    rendered.controlPlane = render(join(copy, 'base/control-plane'));
    rendered.dataPlane = render(join(copy, 'base/data-plane'));
    rendered.example = render(join(copy, 'overlays/example'));
  });

  after(() => {
    if (workdir !== undefined) rmSync(workdir, { recursive: true, force: true });
  });

  it(`renders both bases and the example overlay (${kubectlCommand} kustomize), each object valid by the Kubernetes schemas and with no field they do not know`, async () => {
    const problems: string[] = [];
    for (const [name, objects] of Object.entries(rendered)) {
      assert.ok(objects.length > 0, `${name} rendered nothing`);
      for (const object of objects) {
        for (const problem of await schemaProblems(object)) {
          problems.push(`${name}: ${object.kind} ${object.metadata.name}: ${problem}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    for (const objects of [rendered.controlPlane, rendered.dataPlane]) assert.equal(deploymentsOf(objects).length, 1);
    assert.deepEqual(deploymentsOf(rendered.example).map(planeOf).sort(), ['control-plane', 'data-plane']);
  });

  it('refuses a misspelt field that kubernetes-models alone lets through', async () => {
    const deployment = structuredClone(deploymentsOf(rendered.example)[0]) as Loose;
    const container = deployment.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
    const problems = await schemaProblems(deployment as KubeObject);
    assert.deepEqual(problems, [`/spec/template/spec/containers/0/readinesProbe is not a field of apps/v1/Deployment`]);
    // And a map stays a map: any label is a field of metadata.labels.
    const validate = await validatorOf('v1', 'ConfigMap');
    assert.deepEqual(
      unknownFields(validate, { metadata: { name: 'x', labels: { anything: 'y' } }, data: { A: 'b' } }),
      [],
    );
  });

  it('probes each plane on /healthz and /readyz, on the port its service listens on', () => {
    // Both planes serve them (server-kit's installOps, which every service's HTTP server has).
    const ops = readFileSync(join(root, 'packages/server-kit/src/http/ops.ts'), 'utf8');
    assert.match(ops, /app\.get\('\/healthz'/);
    assert.match(ops, /app\.get\('\/readyz'/);
    for (const plane of ['control-plane', 'data-plane']) {
      assert.match(readFileSync(join(root, `packages/${plane}/src/app.ts`), 'utf8'), /createHttpServer\(/);
    }
    for (const objects of Object.values(rendered)) {
      for (const deployment of deploymentsOf(objects)) {
        for (const container of deployment.spec.template.spec.containers) {
          const env = environmentOf(objects, container);
          const listens = Number(env.get('SOV_PORT')?.value);
          assert.equal(env.get('SOV_HOST')?.value, '0.0.0.0', `${container.name} listens beyond its own loopback`);
          assert.equal(
            portNumber(container, 'http'),
            listens,
            `${container.name}'s port http is the one it listens on`,
          );
          const probe = (name: string) => {
            const get = container[name]?.httpGet;
            assert.ok(get !== undefined, `${container.name} has a ${name} over HTTP`);
            assert.equal(portNumber(container, get.port), listens, `${container.name}'s ${name} port`);
            return get.path;
          };
          assert.equal(probe('livenessProbe'), '/healthz');
          assert.equal(probe('readinessProbe'), '/readyz');
          if (container.startupProbe !== undefined) assert.equal(probe('startupProbe'), '/healthz');
          const service = byKind(objects, 'Service').find((s) =>
            matches(s.spec.selector, deployment.spec.template.metadata.labels),
          );
          assert.ok(service !== undefined, `a Service selects ${deployment.metadata.name}'s pods`);
          assert.deepEqual(
            service.spec.ports.map((p: Loose) => portNumber(container, p.targetPort)),
            [listens],
          );
        }
      }
    }
  });

  it('asks for CPU and memory for every container, and caps its memory', () => {
    for (const objects of Object.values(rendered)) {
      for (const deployment of deploymentsOf(objects)) {
        for (const container of deployment.spec.template.spec.containers) {
          const { requests, limits } = container.resources ?? {};
          assert.ok(requests?.cpu !== undefined && requests?.memory !== undefined, `${container.name}'s requests`);
          assert.ok(limits?.memory !== undefined, `${container.name}'s memory limit`);
        }
      }
    }
  });

  it('keeps a PodDisruptionBudget over each plane’s pods', () => {
    for (const objects of Object.values(rendered)) {
      for (const deployment of deploymentsOf(objects)) {
        const budgets = byKind(objects, 'PodDisruptionBudget').filter((b) =>
          matches(b.spec.selector?.matchLabels, deployment.spec.template.metadata.labels),
        );
        assert.equal(budgets.length, 1, `one budget selects ${deployment.metadata.name}'s pods`);
        const [budget] = budgets as [Loose];
        assert.ok(budget.spec.maxUnavailable !== undefined || budget.spec.minAvailable !== undefined);
        assert.equal(budget.metadata.namespace, deployment.metadata.namespace);
      }
    }
  });

  it('lets nothing call in but clients on the HTTP port, and lets the data plane call out to the control plane, DNS, PostgreSQL and object storage only', () => {
    const objects = rendered.example;
    const deployment = (plane: Plane) => deploymentsOf(objects).find((d) => planeOf(d) === plane) as Loose;
    const policyOf = (plane: Plane) => {
      const labels = deployment(plane).spec.template.metadata.labels;
      const found = byKind(objects, 'NetworkPolicy').filter((p) => matches(p.spec.podSelector.matchLabels, labels));
      assert.equal(found.length, 1, `one NetworkPolicy selects the ${plane}'s pods`);
      const [policy] = found as [Loose];
      assert.deepEqual([...policy.spec.policyTypes].sort(), ['Egress', 'Ingress'], `${plane}: both directions closed`);
      return policy.spec;
    };
    const container = (plane: Plane) => deployment(plane).spec.template.spec.containers[0];
    // A named port is the selected pods' own: the policy's for ingress, its peer's for egress.
    const ports = (plane: Plane, rule: Loose) =>
      (rule.ports ?? []).map((p: Loose) => `${p.protocol ?? 'TCP'}/${portNumber(container(plane), p.port)}`).sort();

    for (const plane of ['control-plane', 'data-plane'] as const) {
      const spec = policyOf(plane);
      const http = `TCP/${portNumber(container(plane), 'http')}`;
      // From anywhere (clients, and the ingress in front), to the HTTP port alone.
      assert.deepEqual(
        spec.ingress.map((rule: Loose) => ports(plane, rule)),
        [[http]],
        `${plane}: only its HTTP port`,
      );
      for (const rule of spec.egress) assert.ok((rule.ports ?? []).length > 0, `${plane}: no egress on every port`);
    }

    const dataPlane = policyOf('data-plane');
    const controlPlaneLabels = deployment('control-plane').spec.template.metadata.labels;
    const egress = (spec: Loose, plane: Plane) =>
      spec.egress.map((rule: Loose) => ({
        to: (rule.to ?? []).map((peer: Loose) =>
          matches(peer.podSelector?.matchLabels, controlPlaneLabels) && peer.namespaceSelector === undefined
            ? 'control-plane'
            : peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns'
              ? 'dns'
              : 'other',
        ),
        ports: ports(
          (rule.to ?? []).some((peer: Loose) => matches(peer.podSelector?.matchLabels, controlPlaneLabels))
            ? 'control-plane'
            : plane,
          rule,
        ),
      }));
    const controlPlaneHttp = `TCP/${portNumber(container('control-plane'), 'http')}`;
    assert.deepEqual(egress(dataPlane, 'data-plane'), [
      { to: ['control-plane'], ports: [controlPlaneHttp] },
      { to: ['dns'], ports: ['TCP/53', 'UDP/53'] },
      { to: [], ports: ['TCP/5432'] },
      { to: [], ports: ['TCP/443'] },
    ]);
    assert.deepEqual(egress(policyOf('control-plane'), 'control-plane'), [
      { to: ['dns'], ports: ['TCP/53', 'UDP/53'] },
      { to: [], ports: ['TCP/5432'] },
    ]);
  });

  it('takes every credential from a Secret, and writes none in a manifest', () => {
    for (const objects of [rendered.controlPlane, rendered.dataPlane]) {
      assert.deepEqual(byKind(objects, 'Secret'), [], 'a base holds no Secret');
    }
    const isSecret = (variable: string) =>
      alsoSecret.includes(variable) ||
      Object.values(planes).some((plane) => plane.schema.properties[variable]?.secret === true);
    for (const [name, objects] of Object.entries(rendered)) {
      // Not even one a container's own entry overrides: a ConfigMap is readable by more people than a Secret.
      for (const configMap of byKind(objects, 'ConfigMap')) {
        const held = Object.keys(configMap.data ?? {}).filter(isSecret);
        assert.deepEqual(held, [], `${name}: ConfigMap ${configMap.metadata.name} holds no credential`);
      }
      for (const deployment of deploymentsOf(objects)) {
        const schema = planes[planeOf(deployment)].schema.properties;
        for (const container of deployment.spec.template.spec.containers) {
          for (const [variable, given] of environmentOf(objects, container)) {
            if (schema[variable]?.secret !== true && !alsoSecret.includes(variable)) continue;
            assert.equal(given.from, 'secret', `${name}: ${container.name}'s ${variable} comes from a Secret`);
            if (name !== 'example' || given.secret === undefined) continue;
            const secret = byKind(objects, 'Secret').find((s) => s.metadata.name === given.secret?.name);
            assert.ok(secret !== undefined || given.secret.optional, `${variable}: Secret ${given.secret.name} exists`);
            if (given.secret.optional) continue;
            assert.ok(given.value !== undefined, `${variable}: Secret ${given.secret.name} holds ${given.secret.key}`);
          }
        }
      }
    }
  });

  it('grants no container privilege beyond its needs: never privileged, no escalation unless it holds CAP_SYS_ADMIN, root only in a user namespace of its own', () => {
    for (const objects of Object.values(rendered)) {
      for (const deployment of deploymentsOf(objects)) {
        const pod = deployment.spec.template.spec;
        for (const container of pod.containers) {
          const context = container.securityContext ?? {};
          const added: string[] = context.capabilities?.add ?? [];
          assert.notEqual(context.privileged, true, `${container.name} is not privileged`);
          assert.ok(context.capabilities?.drop?.includes('ALL'), `${container.name} drops every capability first`);
          assert.equal(context.readOnlyRootFilesystem, true, `${container.name}'s image is read-only`);
          assert.notEqual(context.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type, 'Unconfined');
          if (added.some((c) => c.replace(/^CAP_/, '') === 'SYS_ADMIN')) {
            // The API refuses `false` with CAP_SYS_ADMIN: no_new_privs binds nothing it does not.
            assert.equal(context.allowPrivilegeEscalation, undefined);
          } else {
            assert.equal(context.allowPrivilegeEscalation, false, `${container.name} cannot gain privileges`);
          }
          const runAsUser = context.runAsUser ?? pod.securityContext?.runAsUser;
          const nonRoot = context.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
          if (runAsUser === 0 || nonRoot !== true) {
            assert.equal(pod.hostUsers, false, `${container.name} is root only in the pod's own user namespace`);
          }
        }
        if (planeOf(deployment) === 'control-plane') {
          assert.equal(pod.securityContext?.runAsNonRoot, true);
          assert.ok((pod.securityContext?.runAsUser ?? 0) > 0);
          assert.deepEqual(pod.containers[0].securityContext.capabilities.add, undefined);
        }
      }
    }
  });

  it('sets only variables its service reads', () => {
    const problems: string[] = [];
    for (const [reader, file] of Object.entries(otherReaders)) {
      assert.ok(readFileSync(file, 'utf8').includes(reader), `${file} reads ${reader}`);
    }
    for (const [name, objects] of Object.entries(rendered)) {
      for (const deployment of deploymentsOf(objects)) {
        const plane = planes[planeOf(deployment)];
        for (const container of deployment.spec.template.spec.containers) {
          for (const variable of environmentOf(objects, container).keys()) {
            const known = variable in plane.schema.properties || variable in otherReaders;
            if (!known) problems.push(`${name}: ${container.name} is given ${variable}, which nothing reads`);
            if (plane.schema.properties[variable]?.retired !== undefined) {
              problems.push(`${name}: ${container.name} is given ${variable}, which is retired`);
            }
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('gives each service, in the example overlay, settings it accepts: its public URL, its bucket, its secrets', () => {
    for (const deployment of deploymentsOf(rendered.example)) {
      const container = deployment.spec.template.spec.containers[0];
      assert.notEqual(container.image, 'sovereign', 'the overlay names the image');
      const env: Record<string, string> = {};
      for (const [name, given] of environmentOf(rendered.example, container)) {
        if (given.value !== undefined) env[name] = given.value;
      }
      assert.match(env.SOV_PUBLIC_URL ?? '', /^https:\/\//);
      // The service's own reader: a wrong value of any variable it reads throws, naming it.
      if (planeOf(deployment) === 'control-plane') {
        assert.equal(controlPlaneConfig(env).publicUrl, env.SOV_PUBLIC_URL);
      } else {
        const config = dataPlaneConfig(env);
        assert.equal(config.publicUrl, env.SOV_PUBLIC_URL);
        assert.equal(config.sandbox.mode, 'on');
        assert.match(env.SOV_STORAGE_URL ?? '', /^s3:\/\/[a-z0-9][a-z0-9-]+[a-z0-9](\/|$)/);
        assert.ok(env.SOV_S3_REGION, 'the bucket’s region');
      }
    }
  });

  it('gives the data plane’s pod what a jail per run needs, and no more', () => {
    for (const objects of [rendered.dataPlane, rendered.example]) {
      const deployment = deploymentsOf(objects).find((d) => planeOf(d) === 'data-plane') as Loose;
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      const env = environmentOf(objects, container);
      const context = container.securityContext;
      assert.equal(pod.hostUsers, false, 'a user namespace of its own');
      assert.equal(context.procMount, 'Unmasked', 'a /proc bwrap may mount again');
      assert.deepEqual([...context.capabilities.add].sort(), [...jailCapabilities].sort());
      const runtimeClass = byKind(objects, 'RuntimeClass').find((r) => r.metadata.name === pod.runtimeClassName);
      assert.ok(runtimeClass !== undefined, 'its RuntimeClass is rendered with it');
      assert.equal(env.get('SOV_SANDBOX')?.value, 'on', 'every run jailed, or no start');
      // The pod's user namespace maps ids 0-65535: runs' ids must be in it, above system users.
      const [first, last] = (env.get('SOV_SANDBOX_UIDS')?.value ?? '').split('-').map(Number) as [number, number];
      assert.ok(first >= 1000 && last <= 65_535 && first <= last, `SOV_SANDBOX_UIDS ${first}-${last}`);
      // The root filesystem is read-only: every directory it writes is a volume of the pod's own.
      const emptyDirs = new Set(pod.volumes.filter((v: Loose) => v.emptyDir !== undefined).map((v: Loose) => v.name));
      for (const variable of ['SOV_DATA_DIR', 'SOV_WORK_DIR', 'SOV_SANDBOX_DIR', 'XDG_CACHE_HOME']) {
        const dir = env.get(variable)?.value;
        const mount = container.volumeMounts.find((m: Loose) => m.mountPath === dir);
        assert.ok(mount !== undefined && emptyDirs.has(mount.name), `${variable} (${dir}) is an emptyDir volume`);
      }
      const tun = container.volumeMounts.find((m: Loose) => m.mountPath === '/dev/net/tun');
      assert.equal(pod.volumes.find((v: Loose) => v.name === tun?.name)?.hostPath?.type, 'CharDevice');
    }
  });
});
