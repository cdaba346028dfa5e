import { readFile } from 'node:fs/promises';
import { CliError, ExitCode } from './errors.ts';

/** A value kept in a file (`--from-file`), as text; a file that cannot be read is a usage error naming it. */
export async function readValueFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : ((error as Error).message ?? 'it cannot be read');
    throw new CliError(`Cannot read ${path}: ${why}.`, { exitCode: ExitCode.usage, cause: error });
  }
}
