import type { Workspace } from '@sovereign/contract/public';
import { formatTime } from '../format.ts';
import { Link } from '../router.tsx';

/**
 * Where a moved workspace went (with a link to it), or where a workspace came from. A
 * moved workspace runs nothing any more: its history stays readable here, in its region.
 */
export function MovedNote({ workspace }: { workspace: Workspace }) {
  const out = workspace.movedTo;
  const into = workspace.movedFrom;
  return (
    <>
      {out !== null && (
        <p className="note warn" role="status" aria-label="Moved">
          {out.status === 'completed' ? 'Moved to ' : 'Being moved to '}
          <Link to={`/workspaces/${out.toWorkspaceId}`}>{out.toWorkspaceName}</Link> in {out.toDataResidency}
          {out.completedAt !== null && ` on ${formatTime(out.completedAt)}`}. It runs nothing any more; its runs, logs
          and outputs stay readable here, in {out.fromDataResidency}.
        </p>
      )}
      {into !== null && (
        <p className="note" role="status" aria-label="Moved here">
          {into.status === 'completed' ? 'Moved here' : 'Being moved here'} from{' '}
          <Link to={`/workspaces/${into.fromWorkspaceId}`}>{into.fromWorkspaceName}</Link> in {into.fromDataResidency}
          {into.status === 'completed' ? '.' : ': its jobs stay paused until the move completes.'}
        </p>
      )}
    </>
  );
}
