import type { Me } from '@sovereign/contract/public';
import { createContext, type ReactNode, useContext } from 'react';

const MeContext = createContext<{ me: Me; reload(): void } | null>(null);

export function MeProvider({ me, reload, children }: { me: Me; reload(): void; children: ReactNode }) {
  return <MeContext.Provider value={{ me, reload }}>{children}</MeContext.Provider>;
}

/** The signed-in user and their organizations with roles (GET /me). */
export function useMe(): { me: Me; reload(): void } {
  const value = useContext(MeContext);
  if (value === null) throw new Error('useMe outside a signed-in page');
  return value;
}
