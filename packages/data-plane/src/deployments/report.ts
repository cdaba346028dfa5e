import { type DeploymentReport, InternalRoutes } from '@sovereign/contract';
import type { OutboxKind } from '../outbox/outbox.ts';

/** Deployment metadata for the control plane, delivered through the outbox. */
export const deploymentReportKind: OutboxKind<DeploymentReport> = {
  kind: 'deployment_report',
  route: InternalRoutes.deploymentReport,
};
