import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

/**
 * Rendering the Kubernetes manifests under deploy/kubernetes with the kubectl a platform
 * team would apply them with, and checking each object against the Kubernetes schemas
 * offline: kubernetes-models' own validation (types, enums, required fields), then a
 * strict pass that refuses fields the schema does not know, which kubernetes-models lets
 * through (a `readinesProbe` would be accepted, and silently ignored by a cluster).
 */

/** An object as kubectl renders it: plain JSON. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
};

type Validator = (data: unknown) => boolean;

interface Schema {
  /** Any model's constructor: each takes its own kind's fields, given here as rendered. */
  model: new (
    data: never,
  ) => { validate(): void };
  /** The compiled schema of kubernetes-models' _schemas, by its id. */
  id: string;
}

/** The kinds the manifests may hold: any other is refused, so none goes unchecked. */
const schemas: Record<string, Schema> = {
  'v1/ConfigMap': { model: ConfigMap, id: 'IoK8sApiCoreV1ConfigMap' },
  'v1/Namespace': { model: Namespace, id: 'IoK8sApiCoreV1Namespace' },
  'v1/Secret': { model: Secret, id: 'IoK8sApiCoreV1Secret' },
  'v1/Service': { model: Service, id: 'IoK8sApiCoreV1Service' },
  'v1/ServiceAccount': { model: ServiceAccount, id: 'IoK8sApiCoreV1ServiceAccount' },
  'apps/v1/Deployment': { model: Deployment, id: 'IoK8sApiAppsV1Deployment' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, id: 'IoK8sApiNetworkingV1NetworkPolicy' },
  'node.k8s.io/v1/RuntimeClass': { model: RuntimeClass, id: 'IoK8sApiNodeV1RuntimeClass' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, id: 'IoK8sApiPolicyV1PodDisruptionBudget' },
};

/** The kubectl to render with: SOV_TEST_KUBECTL (another version, say), else the one on PATH. */
export const kubectlCommand = process.env.SOV_TEST_KUBECTL || 'kubectl';

/** The objects `kubectl kustomize <dir>` renders. Fails, saying what to install, without a kubectl. */
export function render(dir: string): KubeObject[] {
  const result = spawnSync(kubectlCommand, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail(
      `${kubectlCommand} was not found: the Kubernetes manifests are rendered with kubectl's kustomize. ` +
        'Install Debian’s kubernetes-client (apt-get install kubernetes-client), or set SOV_TEST_KUBECTL to a kubectl.',
    );
  }
  assert.equal(result.status, 0, `${kubectlCommand} kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).flatMap((document) => {
    assert.deepEqual(document.errors, [], `${dir} rendered YAML that does not parse`);
    const value = document.toJS() as KubeObject | null;
    if (value === null) return [];
    // Kustomize wraps a long Secret value's base64 every 70 characters, and the API
    // server's decoder skips line breaks; kubernetes-models' base64 check does not.
    if (value.kind === 'Secret' && typeof value.data === 'object' && value.data !== null) {
      const data = value.data as Record<string, string>;
      for (const key of Object.keys(data)) data[key] = (data[key] ?? '').replace(/\n/g, '');
    }
    return [value];
  });
}

const validators = new Map<string, Validator>();

async function validatorFor(id: string): Promise<Validator> {
  let found = validators.get(id);
  if (found === undefined) {
    found = ((await import(`kubernetes-models/_schemas/${id}`)) as { validate: Validator }).validate;
    validators.set(id, found);
  }
  return found;
}

/**
 * Fields of `value` that its schema does not know, as JSON pointers. A compiled validator
 * reads every property its schema lists, present or not, and enumerates the keys of a map
 * (labels, data, resources): the validator is given `value` behind a proxy that notes
 * both, and a key it neither read nor enumerated is unknown to the schema.
 */
export function unknownFields(validate: Validator, value: unknown): string[] {
  const read = new Map<string, Set<string>>();
  const maps = new Set<string>();
  const watch = (target: unknown, path: string): unknown => {
    if (typeof target !== 'object' || target === null) return target;
    return new Proxy(target, {
      get(object, key, receiver) {
        const found = Reflect.get(object, key, receiver);
        if (typeof key !== 'string') return found;
        const keys = read.get(path) ?? new Set<string>();
        keys.add(key);
        read.set(path, keys);
        return Object.hasOwn(object, key) ? watch(found, `${path}/${key}`) : found;
      },
      ownKeys(object) {
        maps.add(path);
        return Reflect.ownKeys(object);
      },
    });
  };
  validate(watch(value, ''));
  const unknown: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) walk(item, `${path}/${index}`);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (!maps.has(path) && read.get(path)?.has(key) !== true) unknown.push(`${path}/${key}`);
      else walk(child, `${path}/${key}`);
    }
  };
  walk(value, '');
  return unknown;
}

/** What is wrong with `object` by the Kubernetes schemas: nothing when it is valid. */
export async function schemaProblems(object: KubeObject): Promise<string[]> {
  const type = `${object.apiVersion}/${object.kind}`;
  const schema = schemas[type];
  if (schema === undefined) return [`no schema is known here for ${type}: add it to tests/support/kubernetes.ts`];
  const problems: string[] = [];
  try {
    new schema.model(object as never).validate();
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  const unknown = unknownFields(await validatorFor(schema.id), object);
  problems.push(...unknown.map((path) => `${path} is not a field of ${type}`));
  return problems;
}

/** The compiled validator of a kind, for checks on objects made in a test. */
export async function validatorOf(apiVersion: string, kind: string): Promise<Validator> {
  const schema = schemas[`${apiVersion}/${kind}`];
  assert.ok(schema !== undefined, `no schema for ${apiVersion}/${kind}`);
  return validatorFor(schema.id);
}
