/**
 * Hand-written tar archives for the end-to-end suites: the data plane's unit suites own
 * the writer (it builds the hostile archives a well-behaved tar tool refuses to make).
 */
export { type RawEntry, rawTarGz } from '../../packages/data-plane/test/support/tar-writer.ts';

export const validManifest = 'jobs:\n  - name: hello\n    run: echo hello\n';
