import type { LoginResponse, TotpEnrolment, TotpStatus } from '@novacron/api';
import { NovaCronApiError } from '@novacron/client';
import type { Command } from 'commander';
import { formatOf, type CliClient, type CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { withOutput } from '../options.js';
import { renderOne } from '../output.js';

const CODE = /^[0-9]{6}$/;

function need<T>(method: T | undefined): T {
  if (method === undefined) {
    throw new CliError('UNSUPPORTED', 'this client has no second-factor calls', {}, 2);
  }
  return method;
}

async function promptCode(ctx: CliContext, prompt: string): Promise<string> {
  const code = (await ctx.deps.readPassword({ prompt, fromStdin: false })).trim();
  if (!CODE.test(code) && code.replace(/[\s-]/g, '').length < 10) {
    throw new CliError('VALIDATION_FAILED', 'expected a 6-digit code or a recovery code');
  }
  return code;
}

const proofOf = (code: string) => (CODE.test(code) ? { code } : { recoveryCode: code });

/** Prints a new secret: where to scan it and the recovery codes, shown only now. */
function printEnrolment(ctx: CliContext, enrolment: TotpEnrolment): void {
  const { stderr } = ctx.deps;
  stderr.write(
    [
      'Add this account to an authenticator app (scan the URI as a QR code, or type the secret):',
      `  ${enrolment.uri}`,
      `  secret: ${enrolment.secret}`,
      'Recovery codes (each works once; store them now, they are not shown again):',
      ...enrolment.recoveryCodes.map((code) => `  ${code}`),
      '',
    ].join('\n'),
  );
}

/**
 * Logs in with the password and, for a user with a second factor, the code: from `--totp-code`,
 * else prompted. A user who must have a factor and has none enrols here, on the terminal.
 */
export async function loginWithSecondFactor(
  ctx: CliContext,
  client: CliClient,
  username: string,
  password: string,
  totpCode: string | undefined,
): Promise<LoginResponse> {
  const given =
    totpCode === undefined ? {} : CODE.test(totpCode) ? { totpCode } : { recoveryCode: totpCode };
  try {
    return await client.login(username, password, given);
  } catch (error) {
    if (!(error instanceof NovaCronApiError) || error.code !== 'SECOND_FACTOR_REQUIRED')
      throw error;
    const challenge = error.details.challenge;
    if (typeof challenge !== 'string') throw error;
    if (error.details.enrol === true) {
      printEnrolment(ctx, await need(client.loginTotpEnrol)(challenge));
      const code = await promptCode(ctx, 'Code from the app, to finish enrolment: ');
      return need(client.loginSecondFactor)(challenge, { code });
    }
    const code = totpCode ?? (await promptCode(ctx, 'Second factor (TOTP or recovery code): '));
    return need(client.loginSecondFactor)(challenge, proofOf(code));
  }
}

function renderStatus(command: Command, status: TotpStatus): string {
  return renderOne(formatOf(command) ?? 'table', status, (s) => [
    ['enabled', s.enabled ? 'yes' : 'no'],
    ['pending', s.pending ? 'yes' : 'no'],
    ['required', s.required || s.requiredForEveryone ? 'yes' : 'no'],
    ['recovery codes left', s.recoveryCodesLeft],
  ]);
}

/** `novacron 2fa status|enrol|disable|require`. */
export function registerSecondFactorCommands(program: Command, ctx: CliContext): void {
  const group = program.command('2fa').description('TOTP second factor of the logged-in user');

  withOutput(group.command('status').description('whether your second factor is on')).action(
    async (_options: unknown, command: Command) => {
      const client = await ctx.client();
      ctx.print(renderStatus(command, await need(client.totpStatus)()));
    },
  );

  withOutput(
    group
      .command('enrol')
      .alias('enroll')
      .description(
        'add a TOTP second factor: shows the secret and recovery codes, then asks for a code',
      )
      .option('--code <code>', 'the first code, instead of a prompt'),
  ).action(async (options: { code?: string }, command: Command) => {
    const client = await ctx.client();
    printEnrolment(ctx, await need(client.totpEnrol)());
    const code = options.code ?? (await promptCode(ctx, 'Code from the app: '));
    ctx.print(renderStatus(command, await need(client.totpVerify)(code)));
  });

  withOutput(
    group
      .command('disable')
      .description('remove your second factor (needs a current code or a recovery code)')
      .option('--code <code>', 'a TOTP or recovery code, instead of a prompt'),
  ).action(async (options: { code?: string }, command: Command) => {
    const client = await ctx.client();
    const code = options.code ?? (await promptCode(ctx, 'TOTP or recovery code: '));
    ctx.print(renderStatus(command, await need(client.totpDisable)(proofOf(code))));
  });

  withOutput(
    group
      .command('require <username>')
      .description('require a second factor of a user (admin); --off stops requiring it')
      .option('--off', 'stop requiring it'),
  ).action(async (username: string, options: { off?: boolean }, command: Command) => {
    const client = await ctx.client();
    const { required } = await need(client.setTotpRequired)(username, options.off !== true);
    const format = formatOf(command);
    ctx.print(
      format
        ? renderOne(format, { username, required }, (s) => [
            ['username', s.username],
            ['required', s.required ? 'yes' : 'no'],
          ])
        : `${username} ${required ? 'must have' : 'need not have'} a second factor`,
    );
  });
}
