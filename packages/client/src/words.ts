/** A status as people read it, in every client: `timed out`, not `timed_out` (JSON keeps the code). */
export function statusWord(status: string): string {
  return status.replaceAll('_', ' ');
}
