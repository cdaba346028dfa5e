import { useEffect, useState } from 'react';
import { appLaunchTarget } from '../api/app-launch.ts';
import { controlPlane } from '../api/control-plane.ts';
import { dataPlane } from '../api/data-plane.ts';
import { ErrorNote } from '../components/ui.tsx';
import { Link } from '../router.tsx';

/**
 * Where an app's origin sends a browser that has no session for the app: signed in
 * here, the page asks the app's data plane for a launch ticket as this user, bound to
 * the `state` the app's origin gave this browser, and opens it. The data plane gives a
 * ticket only to a user who may open the app; the app's origin redeems it only in the
 * browser holding the launch cookie behind the state. So a link someone else made
 * opens an app as the person who follows it, or not at all.
 */
export function OpenAppPage({ runId, state, path }: { runId: string; state: string; path: string }) {
  const [error, setError] = useState<Error | undefined>(undefined);
  const [job, setJob] = useState<string | undefined>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    void (async () => {
      try {
        const run = await controlPlane.run(runId, controller.signal);
        setJob(run.jobName);
        if (run.url === null) throw new Error('This run is not of an interactive job: it has no app to open.');
        const launch = await dataPlane(run.workspaceId, ['interactive']).launchApp(runId, { state, path });
        if (!controller.signal.aborted) window.location.replace(appLaunchTarget(launch.url, runId));
      } catch (caught) {
        if (!controller.signal.aborted) setError(caught as Error);
      }
    })();
    return () => controller.abort();
  }, [runId, state, path]);

  return (
    <section className="card">
      <h1>Open app{job === undefined ? '' : ` of ${job}`}</h1>
      {error === undefined ? (
        <p className="muted" role="status">
          Opening the app as you…
        </p>
      ) : (
        <>
          <ErrorNote error={error} what="Not opened" />
          <p>
            <Link to={`/runs/${runId}`}>The run</Link> · <Link to="/">Your organizations</Link>
          </p>
        </>
      )}
    </section>
  );
}
