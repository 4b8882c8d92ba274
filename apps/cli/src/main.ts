import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { NovaCronClient } from '@novacron/client';
import { loadConfig, userConfigDir } from '@novacron/config';
import { registerAgentCommand } from './commands/agent.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerDownCommand } from './commands/down.js';
import { registerEventsCommand } from './commands/events.js';
import { registerHostCommands } from './commands/host.js';
import { registerImageCommands } from './commands/image.js';
import { registerLoginCommands } from './commands/login.js';
import { registerOperationCommands } from './commands/operation.js';
import { registerSecondFactorCommands } from './commands/second-factor.js';
import { registerSecurityCommands } from './commands/security.js';
import { registerUpCommand } from './commands/up.js';
import { registerVmCommands } from './commands/vm.js';
import { CliContext, type CliDeps } from './context.js';
import { FileCredentialStore } from './credentials.js';
import { describeError, errorBody, formatErrorLine } from './errors.js';
import { outputOption } from './options.js';
import { toJson, toYaml } from './output.js';
import { readPassword } from './prompt.js';

/** The whole command tree, bound to one run's context. */
export function buildProgram(ctx: CliContext): Command {
  const { stdout, stderr } = ctx.deps;
  const program = new Command('novacron')
    .description('NovaCron: virtual machines on QEMU/KVM hosts')
    // Settings first: subcommands copy them when they are created.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      // Errors are printed once, in run(), in the CLI's own format.
      outputError: () => undefined,
    })
    .addOption(outputOption());

  registerLoginCommands(program, ctx);
  registerSecondFactorCommands(program, ctx);
  registerVmCommands(program, ctx);
  registerHostCommands(program, ctx);
  registerImageCommands(program, ctx);
  registerOperationCommands(program, ctx);
  registerEventsCommand(program, ctx);
  registerSecurityCommands(program, ctx);
  registerUpCommand(program);
  registerDownCommand(program);
  registerAgentCommand(program);
  registerCompletionCommand(program, ctx);
  return program;
}

/** The format errors are printed in: the last `-o` on the command line, read before parsing can fail. */
export function errorFormat(argv: readonly string[]): 'json' | 'yaml' | undefined {
  let format: string | undefined;
  argv.forEach((arg, i) => {
    if (arg === '-o' || arg === '--output') format = argv[i + 1];
    else if (arg.startsWith('--output=')) format = arg.slice('--output='.length);
    else if (/^-o[a-z]/.test(arg)) format = arg.slice(2);
  });
  return format === 'json' || format === 'yaml' ? format : undefined;
}

/**
 * Runs the CLI once and answers its exit code; never throws. `argv` is as in process.argv
 * (node, script, args...). Everything outside the process comes in through `deps`.
 */
export async function run(argv: readonly string[], deps: CliDeps): Promise<number> {
  const ctx = new CliContext(deps);
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'node' });
    return 0;
  } catch (error) {
    // Help and version end the run through the same exception, with their own exit code.
    if (
      error instanceof CommanderError &&
      ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code)
    ) {
      return error.exitCode;
    }
    const report = describeError(error);
    const format = errorFormat(argv.slice(2));
    deps.stderr.write(
      format === 'json'
        ? toJson(errorBody(report))
        : format === 'yaml'
          ? toYaml(errorBody(report))
          : formatErrorLine(report),
    );
    return report.exitCode;
  }
}

export function defaultDeps(): CliDeps {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    createClient: (options) => new NovaCronClient(options),
    loadConfig: () => loadConfig(),
    credentials: new FileCredentialStore(join(userConfigDir(), 'credentials.json')),
    readPassword,
  };
}

/** The `novacron` command: runs, sets process.exitCode, and never throws. */
export async function main(argv: readonly string[], deps: Partial<CliDeps> = {}): Promise<number> {
  let code: number;
  try {
    code = await run(argv, { ...defaultDeps(), ...deps });
  } catch (error) {
    // Only reachable if building the defaults fails (e.g. no home directory).
    process.stderr.write(formatErrorLine(describeError(error)));
    code = 1;
  }
  process.exitCode = code;
  return code;
}
