import { apiKeyDefaultDays, apiKeyDefaultRole, apiKeyMaxDays } from '@sovereign/contract/api-keys';
import { type Role, Roles } from '@sovereign/contract/scopes';
import { type FormEvent, useState } from 'react';
import { controlPlane } from '../api/control-plane.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { ErrorNote, Loading, Section, Time } from '../components/ui.tsx';
import { useAction, useLoad } from '../hooks.ts';

/** Your API keys: a new key is shown once, here, and never again (only its hash is stored). */
export function ApiKeysPage() {
  const keys = useLoad((signal) => controlPlane.apiKeys(signal), []);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [role, setRole] = useState<Role>(apiKeyDefaultRole);
  const [created, setCreated] = useState<{ name: string; key: string } | undefined>(undefined);
  const [copied, setCopied] = useState(false);
  const create = useAction(async () => {
    const key = await controlPlane.createApiKey({
      name: name.trim(),
      role,
      ...(days === '' ? {} : { expiresInDays: Number(days) }),
    });
    setCreated({ name: key.name, key: key.key });
    setCopied(false);
    setName('');
    setDays('');
    keys.reload();
  });
  // The key whose revoke is being asked about, if any.
  const [asking, setAsking] = useState<{ apiKeyId: string; name: string } | undefined>(undefined);
  const revoke = useAction(async (apiKeyId: string) => {
    await controlPlane.revokeApiKey(apiKeyId);
    keys.reload();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  const copy = async () => {
    if (created === undefined) return;
    await navigator.clipboard.writeText(created.key);
    setCopied(true);
  };

  return (
    <>
      <h1>API keys</h1>
      <p className="muted">
        An API key acts as you for the <code>sov</code> CLI and scripts, never above the role you give it nor above your
        own, and stops working when it expires (at most {apiKeyMaxDays} days).
      </p>
      {created !== undefined && (
        <section className="card callout" aria-labelledby="new-key-title">
          <h2 id="new-key-title">New API key “{created.name}”</h2>
          <p>Copy it now: it is shown this once and cannot be shown again.</p>
          <output className="secret" aria-label="New API key">
            {created.key}
          </output>
          <div className="row">
            <button type="button" onClick={() => void copy()}>
              {copied ? 'Copied' : 'Copy key'}
            </button>
            <button type="button" className="link" onClick={() => setCreated(undefined)}>
              Done, hide it
            </button>
          </div>
        </section>
      )}
      <Section title="Create an API key">
        <form className="inline" onSubmit={submit}>
          <label>
            Key name
            <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {Roles.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            Expires in days
            <input
              type="number"
              min={1}
              max={apiKeyMaxDays}
              placeholder={String(apiKeyDefaultDays)}
              inputMode="numeric"
              value={days}
              onChange={(e) => setDays(e.target.value)}
            />
          </label>
          <button type="submit" className="primary" disabled={create.pending}>
            Create API key
          </button>
        </form>
        <ErrorNote error={create.error} what="Not created" />
      </Section>
      <Section title="Your API keys">
        <ErrorNote error={keys.error ?? revoke.error} />
        {keys.data === undefined && keys.error === undefined && <Loading what="API keys" />}
        {keys.data?.length === 0 && <p className="muted">You have no API keys.</p>}
        {keys.data !== undefined && keys.data.length > 0 && (
          <table className="responsive">
            <caption className="sr-only">Your API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key starts with</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.apiKeyId}>
                  <td data-label="Name">{k.name}</td>
                  <td data-label="Key starts with">
                    <code>{k.prefix}…</code>
                  </td>
                  <td data-label="Role">{k.workspaceId === null ? k.role : `${k.role} in one workspace`}</td>
                  <td data-label="Created">
                    <Time iso={k.createdAt} relative />
                  </td>
                  <td data-label="Expires">
                    <Time iso={k.expiresAt} />
                  </td>
                  <td data-label="Last used">
                    <Time iso={k.lastUsedAt} relative />
                  </td>
                  <td data-label="Actions" className="actions">
                    <button
                      type="button"
                      aria-label={`Revoke ${k.name}`}
                      onClick={() => setAsking({ apiKeyId: k.apiKeyId, name: k.name })}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <ConfirmDialog
        open={asking !== undefined}
        title="Revoke this API key?"
        confirm="Yes, revoke it"
        dismiss="Keep it"
        onConfirm={() => {
          if (asking !== undefined) void revoke.run(asking.apiKeyId);
        }}
        onClose={() => setAsking(undefined)}
      >
        <p>
          Whatever uses <strong>{asking?.name}</strong> stops working at once, and the tokens it got end on every data
          plane. A revoked key cannot be brought back.
        </p>
      </ConfirmDialog>
    </>
  );
}
