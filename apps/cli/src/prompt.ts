import { CliError } from './errors.js';

/** Reads all of standard input; `--password-stdin` uses it. */
export async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** `echo secret | novacron login --password-stdin` sends one trailing newline that is not part of it. */
export function stripOneNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** Prompts on the terminal without echoing what is typed. */
export function promptHidden(
  prompt: string,
  input: NodeJS.ReadStream,
  output: NodeJS.WritableStream,
): Promise<string> {
  output.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new CliError('CANCELLED', 'cancelled', {}, 130));
          return;
        }
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    input.on('data', onData);
  });
}

/** The password for `login`: from stdin when asked, else a hidden prompt on a terminal. */
export async function readPassword(request: {
  prompt: string;
  fromStdin: boolean;
}): Promise<string> {
  if (request.fromStdin) return stripOneNewline(await readAll(process.stdin));
  if (!process.stdin.isTTY) {
    throw new CliError(
      'USAGE',
      'cannot prompt for the password: standard input is not a terminal; pass it with --password-stdin',
      {},
      2,
    );
  }
  return promptHidden(request.prompt, process.stdin, process.stderr);
}
