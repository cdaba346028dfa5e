import { InternalPaths } from '@sovereign/contract';
import type { OutboxKind } from '../outbox/outbox.ts';

/** Deployment metadata for the control plane, delivered through the outbox. */
export const deploymentReportKind: OutboxKind = { kind: 'deployment_report', path: InternalPaths.deploymentReport };
