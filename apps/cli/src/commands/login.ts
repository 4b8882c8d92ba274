import type { Command } from 'commander';
import { formatOf, type CliContext } from '../context.js';
import { serverKey } from '../credentials.js';
import { CliError } from '../errors.js';
import { withOutput } from '../options.js';
import { renderOne } from '../output.js';
import { loginWithSecondFactor } from './second-factor.js';

export function registerLoginCommands(program: Command, ctx: CliContext): void {
  withOutput(
    program
      .command('login')
      .description('log in and keep the token for this server in the user config directory')
      .option('--username <name>', 'user to log in as', 'admin')
      .option('--password-stdin', 'read the password from standard input')
      .option('--totp-code <code>', 'second-factor code (else prompted when the user has one)'),
  ).action(
    async (
      options: { username: string; passwordStdin?: boolean; totpCode?: string },
      command: Command,
    ) => {
      const config = ctx.getConfig();
      const server = serverKey(config.serverUrl);
      const password = await ctx.deps.readPassword({
        prompt: `Password for ${options.username} at ${server}: `,
        fromStdin: options.passwordStdin === true,
      });
      if (password === '') throw new CliError('VALIDATION_FAILED', 'the password is empty');
      const tokens = await loginWithSecondFactor(
        ctx,
        ctx.anonymousClient(),
        options.username,
        password,
        options.totpCode,
      );
      await ctx.deps.credentials.save(server, { username: options.username, ...tokens });

      const summary = { server, username: options.username, expiresAt: tokens.expiresAt };
      const format = formatOf(command);
      ctx.print(
        format
          ? renderOne(format, summary, (s) => [
              ['server', s.server],
              ['username', s.username],
              ['expires', s.expiresAt],
            ])
          : `logged in to ${server} as ${options.username}`,
      );
      if (config.token !== undefined) {
        ctx.deps.stderr.write(
          'note: NOVACRON_TOKEN is set and is used instead of the stored token\n',
        );
      }
    },
  );

  withOutput(
    program
      .command('logout')
      .description('end the login session and forget the token kept for this server'),
  ).action(async (_options: unknown, command: Command) => {
    const { serverUrl } = ctx.getConfig();
    const server = serverKey(serverUrl);
    // End the session on the server too: a copy of its tokens stops working.
    const stored = await ctx.deps.credentials.get(serverUrl);
    if (stored !== undefined) {
      const client = ctx.deps.createClient({ baseUrl: serverUrl, token: stored.accessToken });
      await client.logout?.().catch(() => undefined);
    }
    const removed = await ctx.deps.credentials.remove(server);
    const format = formatOf(command);
    ctx.print(
      format
        ? renderOne(format, { server, removed }, (s) => [
            ['server', s.server],
            ['removed', s.removed ? 'yes' : 'no'],
          ])
        : removed
          ? `logged out of ${server}`
          : `not logged in to ${server}`,
    );
  });
}
