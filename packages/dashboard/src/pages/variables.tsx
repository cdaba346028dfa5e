import type { Variable, Workspace } from '@sovereign/contract/public';
import type { Role } from '@sovereign/contract/scopes';
import { type FormEvent, useState } from 'react';
import { dataPlane } from '../api/data-plane.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { ErrorNote, Loading, Section, Time } from '../components/ui.tsx';
import { useAction, useLoad } from '../hooks.ts';
import { may } from '../permissions.ts';

const namePattern = '[A-Za-z_][A-Za-z0-9_]{0,127}';

/**
 * The workspace's variables, read and written on its data plane. A secret is written
 * and listed by name; no API gives its value back (R7), so neither does this page.
 */
export function VariablesTab({ workspace, role }: { workspace: Workspace; role: Role | null }) {
  const variables = useLoad(
    (signal) => dataPlane(workspace.workspaceId, ['variables:read']).variables(signal),
    [workspace.workspaceId],
  );
  const writable = may.writeVariables(role);
  // The variable whose delete is being asked about, if any.
  const [asking, setAsking] = useState<Variable | undefined>(undefined);
  const remove = useAction(async (variable: Variable) => {
    await dataPlane(workspace.workspaceId, ['variables:write']).deleteVariable(variable.name);
    variables.reload();
  });

  return (
    <>
      <Section title="Variables">
        <p className="muted">
          Kept on this workspace's data plane, in region {workspace.dataResidency}; every run gets them in its
          environment.
        </p>
        <ErrorNote error={variables.error} />
        <ErrorNote error={remove.error} what="Not deleted" />
        {variables.data === undefined && variables.error === undefined && <Loading what="variables" />}
        {variables.data?.length === 0 && <p className="muted">No variables yet.</p>}
        {variables.data !== undefined && variables.data.length > 0 && (
          <table className="responsive">
            <caption className="sr-only">Variables of {workspace.name}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
                <th scope="col">Updated</th>
                {writable && (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {variables.data.map((v) => (
                <tr key={v.name}>
                  <td data-label="Name">
                    <code>{v.name}</code>
                  </td>
                  <td data-label="Value">
                    {v.secret ? (
                      <span className="pill">secret, write-only</span>
                    ) : (
                      <code className="value">{v.value}</code>
                    )}
                  </td>
                  <td data-label="Updated">
                    <Time iso={v.updatedAt} relative />
                  </td>
                  {writable && (
                    <td data-label="Actions" className="actions">
                      <button type="button" aria-label={`Delete ${v.name}`} onClick={() => setAsking(v)}>
                        Delete
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {writable ? (
        <VariableForm workspaceId={workspace.workspaceId} onSaved={variables.reload} />
      ) : (
        <p className="muted">Your role ({role ?? 'none'}) may read variables, not change them.</p>
      )}
      {writable && (
        <ConfirmDialog
          open={asking !== undefined}
          title={`Delete this ${asking?.secret === true ? 'secret' : 'variable'}?`}
          confirm="Yes, delete it"
          dismiss="Keep it"
          onConfirm={() => {
            if (asking !== undefined) void remove.run(asking);
          }}
          onClose={() => setAsking(undefined)}
        >
          <p>
            Runs that start from now on do not get <code>{asking?.name}</code>.{' '}
            {asking?.secret === true
              ? 'Its value cannot be read back: to have it again, set it again.'
              : 'Its value is gone with it.'}
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

function VariableForm({ workspaceId, onSaved }: { workspaceId: string; onSaved(): void }) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [secret, setSecret] = useState(false);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const save = useAction(async () => {
    const written = await dataPlane(workspaceId, ['variables:write']).setVariable(name, value, secret);
    // The value leaves the page once written: a secret is never kept in it.
    setValue('');
    setName('');
    setSaved(`${written.secret ? 'Secret' : 'Variable'} ${written.name} saved.`);
    onSaved();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSaved(undefined);
    void save.run();
  };
  return (
    <Section title="Set a variable">
      <form className="stack" onSubmit={submit}>
        <label>
          Name
          <input
            required
            pattern={namePattern}
            title="Letters, digits and underscores, not starting with a digit"
            autoComplete="off"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </label>
        <label>
          Value
          <input
            type={secret ? 'password' : 'text'}
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
          />
        </label>
        <label className="check">
          <input type="checkbox" checked={secret} onChange={(e) => setSecret(e.target.checked)} />
          Secret (encrypted, never shown again)
        </label>
        <button type="submit" className="primary" disabled={save.pending}>
          Save variable
        </button>
      </form>
      <ErrorNote error={save.error} what="Not saved" />
      {saved !== undefined && (
        <p role="status" className="ok">
          {saved}
        </p>
      )}
    </Section>
  );
}
