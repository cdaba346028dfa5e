/**
 * The data plane's tables as its migrations (src/migrations) leave them: each column's
 * SQL type, and ` null` when it may be null. Every query's row type is picked from here
 * (`Row<'runs', 'run_id' | 'status'>`), so a row type cannot name a column its table
 * lacks, nor say a column is never null when it may be; test/tables.test.ts holds this
 * against a migrated database of each kind. What an expression computes (`count(*)`,
 * `true AS current`) is added to the row type where the query says it.
 */
export const tables = {
  agent_state: { key: 'text', value: 'jsonb', updated_at: 'timestamptz' },
  outbox: {
    outbox_id: 'bigint',
    kind: 'text',
    idempotency_key: 'text',
    group_key: 'text',
    payload: 'jsonb',
    attempts: 'integer',
    next_attempt_at: 'timestamptz',
    delivered_at: 'timestamptz null',
    last_error: 'text null',
    created_at: 'timestamptz',
  },
  deployments: {
    deployment_id: 'uuid',
    workspace_id: 'uuid',
    digest: 'text',
    size_bytes: 'bigint',
    artifact_key: 'text',
    manifest: 'text',
    jobs: 'jsonb',
    created_by: 'uuid',
    created_at: 'timestamptz',
  },
  data_keys: {
    workspace_id: 'uuid',
    version: 'integer',
    wrapped: 'bytea',
    master_key_id: 'text',
    active: 'boolean',
    created_at: 'timestamptz',
  },
  variables: {
    workspace_id: 'uuid',
    name: 'text',
    secret: 'boolean',
    plain_value: 'text null',
    sealed_value: 'bytea null',
    key_version: 'integer null',
    created_at: 'timestamptz',
    updated_at: 'timestamptz',
  },
  master_key_check: { id: 'integer', master_key_id: 'text', sealed: 'bytea', updated_at: 'timestamptz' },
  runs: {
    run_id: 'uuid',
    workspace_id: 'uuid',
    job_name: 'text',
    deployment_id: 'uuid',
    attempt: 'integer',
    kind: 'text',
    instance_id: 'uuid',
    status: 'text',
    exit_code: 'integer null',
    reason_code: 'text null',
    pgid: 'integer null',
    claimed_at: 'timestamptz',
    started_at: 'timestamptz null',
    finished_at: 'timestamptz null',
    last_seq: 'integer',
    log_lines: 'bigint',
    log_archived_seq: 'bigint',
    log_live_bytes: 'bigint',
    log_archiver: 'uuid null',
    log_archive_until: 'timestamptz null',
  },
  run_outputs: {
    run_id: 'uuid',
    path: 'text',
    size_bytes: 'bigint',
    digest: 'text',
    artifact_key: 'text',
    created_at: 'timestamptz',
  },
  job_state: {
    workspace_id: 'uuid',
    job_name: 'text',
    state: 'jsonb',
    updated_at: 'timestamptz',
    updated_by_run: 'uuid null',
  },
  instances: { instance_id: 'uuid', last_seen: 'timestamptz' },
  run_log_chunks: {
    run_id: 'uuid',
    first_seq: 'bigint',
    last_seq: 'bigint',
    // CHECK (stream IN ('stdout', 'stderr')): see LogStore.
    stream: 'text',
    at: 'timestamptz',
    body: 'text',
  },
  run_log_archives: {
    run_id: 'uuid',
    first_seq: 'bigint',
    last_seq: 'bigint',
    artifact_key: 'text',
    size_bytes: 'bigint',
    text_bytes: 'bigint',
    created_at: 'timestamptz',
  },
  interactive_launch_tickets: {
    ticket_hash: 'text',
    run_id: 'uuid',
    workspace_id: 'uuid',
    user_id: 'text',
    token_id: 'text',
    state: 'text',
    path: 'text',
    created_at: 'timestamptz',
    expires_at: 'timestamptz',
    redeemed_at: 'timestamptz null',
  },
  run_parameters: {
    parameters_id: 'uuid',
    workspace_id: 'uuid',
    job_name: 'text',
    parameter_values: 'jsonb',
    created_by: 'text',
    created_at: 'timestamptz',
  },
  moved_outputs: {
    workspace_id: 'uuid',
    run_id: 'uuid',
    path: 'text',
    size_bytes: 'bigint',
    digest: 'text',
    artifact_key: 'text',
    moved_at: 'timestamptz',
  },
} as const satisfies Record<string, Record<string, ColumnType>>;

/** What each SQL type comes back as from both drivers (server-kit/sql reads int8 as a number). */
interface Values {
  text: string;
  uuid: string;
  integer: number;
  bigint: number;
  boolean: boolean;
  timestamptz: Date;
  /** Parsed JSON: a query that knows what it stored there says so with `With`. */
  jsonb: unknown;
  bytea: Uint8Array;
}

export type SqlType = keyof Values;
export type ColumnType = SqlType | `${SqlType} null`;

type ValueOf<Column> = Column extends `${infer Type extends SqlType} null`
  ? Values[Type] | null
  : Column extends SqlType
    ? Values[Column]
    : never;

export type TableName = keyof typeof tables;

/** Every table's row, column by column. */
export type Tables = {
  -readonly [Table in TableName]: {
    -readonly [Column in keyof (typeof tables)[Table]]: ValueOf<(typeof tables)[Table][Column]>;
  };
};

/** The columns `Columns` of a row of `Table`: all of them unless said. */
export type Row<Table extends TableName, Columns extends keyof Tables[Table] = keyof Tables[Table]> = Pick<
  Tables[Table],
  Columns
>;

/**
 * A row whose columns hold more than their SQL type says: the JSON this code wrote in a
 * jsonb column, or text a CHECK keeps to some values. Only columns of the row may be named.
 */
export type With<R, Known extends { [Column in keyof Known]: Column extends keyof R ? unknown : never }> = Omit<
  R,
  keyof Known
> &
  Known;

/** A row of a LEFT JOIN's right side: every column null when nothing matched. */
export type LeftJoined<R> = { [Column in keyof R]: R[Column] | null };
