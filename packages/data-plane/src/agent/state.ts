import type { InitializeResponse } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { Row, With } from '../storage/tables.ts';

/**
 * What the data plane knows from its control plane. Kept in memory for every request
 * and in its own database, so it survives restarts while the control plane is away.
 */
export interface AgentSnapshot {
  /** The client id the identity was learned with: another one means another data plane. */
  clientId: string;
  identity: InitializeResponse;
  workspaceIds: string[];
  revokedTokens: Array<{ jti: string; expiresAt: string }>;
  accepting: boolean;
  jwks: { keys: Array<Record<string, unknown>> };
}

const key = 'agent';

export async function loadSnapshot(db: Queryable, clientId: string): Promise<AgentSnapshot | undefined> {
  const [row] = await db.query<With<Row<'agent_state', 'value'>, { value: AgentSnapshot }>>(
    'SELECT value FROM agent_state WHERE key = $1',
    [key],
  );
  return row?.value.clientId === clientId ? row.value : undefined;
}

export async function saveSnapshot(db: Queryable, snapshot: AgentSnapshot): Promise<void> {
  await db.query(
    `INSERT INTO agent_state (key, value, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [key, JSON.stringify(snapshot)],
  );
}
