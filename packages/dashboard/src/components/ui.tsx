import { statusWord } from '@sovereign/client';
import type { DataplaneHealthStatus } from '@sovereign/contract/health';
import type { RunStatus } from '@sovereign/contract/run-states';
import type { ReactNode } from 'react';
import { formatAgo, formatTime } from '../format.ts';

/** A status as a word and a colour; the word alone carries the meaning. */
export function Status({ value }: { value: RunStatus | DataplaneHealthStatus }) {
  return <span className={`status status-${value}`}>{statusWord(value)}</span>;
}

export function Time({ iso, relative = false }: { iso: string | null; relative?: boolean }) {
  if (iso === null) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={formatTime(iso)}>
      {relative ? formatAgo(iso) : formatTime(iso)}
    </time>
  );
}

export function ErrorNote({ error, what }: { error: Error | undefined; what?: string }) {
  if (error === undefined) return null;
  return (
    <p className="error" role="alert">
      {what === undefined ? '' : `${what}: `}
      {error.message}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section aria-labelledby={id} className="card">
      <header className="card-header">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}
