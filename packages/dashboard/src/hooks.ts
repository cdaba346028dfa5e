import { isAbort } from '@sovereign/client';
import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Loads data for a page and keeps it while it reloads (no flicker). With `refreshMs`, it
 * reloads on that period while the tab is visible: how run statuses stay live. A function
 * decides from the data, so polling stops once nothing can change.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: DependencyList,
  refreshMs?: number | ((data: T) => number | false),
): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const refreshRef = useRef(refreshMs);
  refreshRef.current = refreshMs;
  // What was loaded for other deps (another workspace, another run) is not shown for these.
  const key = JSON.stringify(deps);
  const loadedKey = useRef(key);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when to load anew.
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (loadedKey.current !== key) {
      loadedKey.current = key;
      setState({ data: undefined, error: undefined, loading: true });
    }
    const run = async () => {
      setState((s) => ({ ...s, loading: true }));
      let next: number | false = false;
      try {
        const data = await loadRef.current(controller.signal);
        if (controller.signal.aborted) return;
        setState({ data, error: undefined, loading: false });
        const refresh = refreshRef.current;
        next = typeof refresh === 'function' ? refresh(data) : (refresh ?? false);
      } catch (error) {
        if (isAbort(error) || controller.signal.aborted) return;
        setState((s) => ({ ...s, error: error as Error, loading: false }));
        const refresh = refreshRef.current;
        next = typeof refresh === 'number' ? refresh : false;
      }
      if (next !== false) timer = setTimeout(tick, next);
    };
    const tick = () => {
      if (document.visibilityState === 'hidden') {
        timer = setTimeout(tick, 1000);
        return;
      }
      void run();
    };
    void run();
    return () => {
      controller.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

/** An action a button starts: its pending state and its error, for the page to show. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<unknown>) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  const actionRef = useRef(action);
  actionRef.current = action;
  const run = useCallback(async (...args: A) => {
    setPending(true);
    setError(undefined);
    try {
      await actionRef.current(...args);
      return true;
    } catch (caught) {
      setError(caught as Error);
      return false;
    } finally {
      setPending(false);
    }
  }, []);
  return { run, pending, error };
}
