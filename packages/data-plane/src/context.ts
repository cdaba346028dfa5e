import type { Database } from '@sovereign/server-kit/sql';
import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from './agent/agent.ts';
import type { DataPlaneConfig } from './config.ts';
import type { Deployments } from './deployments/index.ts';
import type { Executor } from './executor/executor.ts';
import type { LogStore } from './logs/store.ts';
import type { OutboxDeliverer } from './outbox/outbox.ts';
import type { ArtifactStore } from './storage/artifacts.ts';
import type { Variables } from './variables/index.ts';

/** What every route plugin of the data plane is given. */
export interface Deps {
  db: Database;
  config: DataPlaneConfig;
  agent: Agent;
  outbox: OutboxDeliverer;
  deployments: Deployments;
  variables: Variables;
  artifacts: ArtifactStore;
  logs: LogStore;
  executor: Executor;
  log: FastifyBaseLogger;
}
