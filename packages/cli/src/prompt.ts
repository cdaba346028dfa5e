import { CliError, ExitCode } from './errors.ts';
import { printable } from './output/format.ts';

/** A person is at the keyboard: stdin and stderr (where prompts go) are terminals. */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Asks a question on stderr and reads one line; an empty answer takes the default. */
export async function ask(question: string, fallback?: string): Promise<string> {
  const answer = (
    await readLine(fallback === undefined ? `${question}: ` : `${question} (${fallback}): `, true)
  ).trim();
  return answer === '' && fallback !== undefined ? fallback : answer;
}

/** Asks for a secret on the terminal; nothing is echoed. */
export function askHidden(question: string): Promise<string> {
  return readLine(`${question}: `, false);
}

/**
 * Reads one line from the terminal in raw mode, echoing it or not. One mechanism for
 * both prompts: mixing readline with raw mode can leave the terminal echoing a
 * password. Enter ends the line, Backspace erases, Ctrl-C cancels, Ctrl-D ends input.
 */
async function readLine(prompt: string, echo: boolean): Promise<string> {
  const stdin = process.stdin;
  const out = process.stderr;
  // Raw mode (no echo) before the prompt shows: what is typed as soon as it shows, a
  // paste, is never echoed by the terminal.
  stdin.setRawMode(true);
  // A prompt can name what a server listed (regions, secrets to give): escaped as output is.
  out.write(printable(prompt));
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n' || char === '\u0004') {
            stdin.off('data', onData);
            resolve(value);
            return;
          }
          if (char === '\u0003') {
            stdin.off('data', onData);
            reject(new CliError('Cancelled.', { exitCode: 130 }));
            return;
          }
          if (char === '\u007f' || char === '\b') {
            if (value.length > 0 && echo) out.write('\b \b');
            value = [...value].slice(0, -1).join('');
          } else if (char >= ' ') {
            value += char;
            if (echo) out.write(char);
          }
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    out.write('\n');
  }
}

/** Everything on stdin (for `--password-stdin`, values piped in). */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY === true) {
    throw new CliError('Expected input on stdin, but stdin is a terminal.', {
      hint: 'Pipe the value in, e.g. printf %s "$VALUE" | sov ...',
      exitCode: ExitCode.usage,
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** stdin's content without its final line break (what `echo` or a heredoc adds). */
export function withoutFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}
