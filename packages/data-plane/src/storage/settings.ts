import type { ServerSideEncryption } from '@aws-sdk/client-s3';
import type { Problems } from '@sovereign/server-kit/config';
import { Flag, Text, WholeNumber } from '@sovereign/server-kit/config';
import { Type } from 'typebox';
import type { S3Settings } from './s3.ts';

/** The variables that choose where bundles, outputs, environments and archived logs are kept. */
export const objectStorageVariables = {
  SOV_STORAGE_URL: Type.Optional(
    Text({
      description:
        's3://bucket/prefix: keep bundles, outputs, environments and archived logs in that bucket; the local filesystem (SOV_ARTIFACTS_DIR) if unset.',
      maxLength: 1100,
    }),
  ),
  SOV_S3_ENDPOINT: Type.Optional(
    Text({ description: 'An S3-compatible service’s URL (MinIO, Ceph, a cloud’s own); AWS’s own if unset.' }),
  ),
  SOV_S3_REGION: Type.Optional(Text({ description: 'The bucket’s region; AWS_REGION if unset.' })),
  SOV_S3_FORCE_PATH_STYLE: Flag({
    description: 'true: bucket in the path, not in the host name (most S3-compatibles).',
  }),
  SOV_S3_SSE: Type.Optional(
    Text({ description: 'Server-side encryption asked on every write: AES256, aws:kms or aws:kms:dsse.' }),
  ),
  SOV_S3_SSE_KMS_KEY_ID: Type.Optional(
    Text({ description: 'The KMS key for aws:kms; the bucket’s default if unset.' }),
  ),
  SOV_S3_PART_BYTES: WholeNumber({
    default: 16 * 1024 ** 2,
    // S3 refuses parts under 5 MiB (but the last).
    minimum: 5 * 1024 ** 2,
    description: 'Objects larger than this are uploaded in parts of this size, four at a time.',
  }),
};

interface ObjectStorageEnv {
  SOV_STORAGE_URL?: string | undefined;
  SOV_S3_ENDPOINT?: string | undefined;
  SOV_S3_REGION?: string | undefined;
  SOV_S3_FORCE_PATH_STYLE: boolean;
  SOV_S3_SSE?: string | undefined;
  SOV_S3_SSE_KMS_KEY_ID?: string | undefined;
  SOV_S3_PART_BYTES: number;
}

const encryptions: readonly string[] = ['AES256', 'aws:kms', 'aws:kms:dsse'];
// S3's own rule for bucket names (no dots: they break TLS for virtual-hosted names).
const bucketPattern = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
// The prefix becomes part of every object's name: ids-like segments only, never customer text.
const prefixSegment = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The bucket settings from SOV_STORAGE_URL and SOV_S3_*, or undefined for the local filesystem. */
export function objectStorageFrom(
  v: ObjectStorageEnv,
  env: Record<string, string | undefined>,
  problems: Problems,
): S3Settings | undefined {
  const raw = v.SOV_STORAGE_URL?.trim();
  if (raw === undefined || raw === '') return undefined;
  const url = URL.parse(raw);
  if (url === null || url.protocol !== 's3:' || url.username !== '' || url.search !== '' || url.hash !== '') {
    problems.add(
      'SOV_STORAGE_URL',
      `SOV_STORAGE_URL must be s3://bucket or s3://bucket/prefix (credentials go in AWS_* variables, not the URL), got "${raw}"`,
    );
    return undefined;
  }
  const bucket = url.hostname;
  if (!bucketPattern.test(bucket)) {
    problems.add('SOV_STORAGE_URL', `SOV_STORAGE_URL names "${bucket}", which is not a bucket name S3 allows`);
  }
  const segments = url.pathname.split('/').filter((s) => s !== '');
  if (!segments.every((s) => prefixSegment.test(s))) {
    problems.add(
      'SOV_STORAGE_URL',
      `SOV_STORAGE_URL's prefix "${url.pathname}" may hold only letters, digits, '.', '_' and '-' between slashes`,
    );
  }
  const region = v.SOV_S3_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined || region === '') {
    problems.add('SOV_S3_REGION', 'SOV_S3_REGION (or AWS_REGION) is required with SOV_STORAGE_URL');
  }
  const endpoint = v.SOV_S3_ENDPOINT?.replace(/\/+$/, '');
  if (endpoint !== undefined && !/^https?:$/.test(URL.parse(endpoint)?.protocol ?? '')) {
    problems.add('SOV_S3_ENDPOINT', `SOV_S3_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  }
  const sse = v.SOV_S3_SSE;
  if (sse !== undefined && !encryptions.includes(sse)) {
    problems.add('SOV_S3_SSE', `SOV_S3_SSE must be one of ${encryptions.join(', ')}, got "${sse}"`);
  }
  if (v.SOV_S3_SSE_KMS_KEY_ID !== undefined && !sse?.startsWith('aws:kms')) {
    problems.add('SOV_S3_SSE_KMS_KEY_ID', 'SOV_S3_SSE_KMS_KEY_ID needs SOV_S3_SSE=aws:kms or aws:kms:dsse');
  }
  return {
    bucket,
    prefix: segments.length === 0 ? '' : `${segments.join('/')}/`,
    ...(endpoint === undefined ? {} : { endpoint }),
    region: region ?? '',
    forcePathStyle: v.SOV_S3_FORCE_PATH_STYLE,
    ...(sse === undefined
      ? {}
      : {
          serverSideEncryption: {
            algorithm: sse as ServerSideEncryption,
            ...(v.SOV_S3_SSE_KMS_KEY_ID === undefined ? {} : { kmsKeyId: v.SOV_S3_SSE_KMS_KEY_ID }),
          },
        }),
    partBytes: v.SOV_S3_PART_BYTES,
  };
}
