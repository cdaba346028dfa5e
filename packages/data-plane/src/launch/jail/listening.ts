import { readFileSync } from 'node:fs';

/** TCP's LISTEN state, as /proc/net/tcp writes it. */
const listen = '0A';

/**
 * Whether something listens on `port` in the network namespace of process `pid`, read
 * from /proc/<pid>/net/tcp and tcp6 (no connection made, nothing started): on IPv4 (the
 * proxy reaches it on 127.0.0.1) or on IPv6 only (on ::1). Undefined when nothing does.
 */
export function listeningHost(pid: number, port: number): '127.0.0.1' | '::1' | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const listens = (file: string) => {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      return false;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (local !== undefined && fields[3] === listen && local.endsWith(`:${hexPort}`)) return true;
    }
    return false;
  };
  if (listens('tcp')) return '127.0.0.1';
  if (listens('tcp6')) return '::1';
  return undefined;
}
