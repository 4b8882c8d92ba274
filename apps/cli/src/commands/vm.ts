import { Option, type Command } from 'commander';
import {
  RESTART_POLICIES,
  SCHEDULER_POLICIES,
  STORAGE_POOLS,
  VM_ACTIONS,
  VM_STATES,
  type Operation,
  type ConstraintStrength,
  type RestartPolicy,
  type SchedulerPolicy,
  type StoragePool,
  type VmActionName,
  type VmCreate,
  type VmPatch,
} from '@novacron/api';
import { assertValidName, parseLabelSelectors, parseSizeGiB, parseSizeMiB } from '@novacron/domain';
import { formatOf, type CliClient, type CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { collect, labelSelectors, parseLabelChanges } from '../labels.js';
import { integerArg, withOutput } from '../options.js';
import {
  cell,
  OUTPUT_FORMATS,
  renderList,
  renderOne,
  toJson,
  toYaml,
  vmColumns,
  vmFields,
  type OutputFormat,
} from '../output.js';
import { listAll } from '../paging.js';
import { addWaitOptions, finishOperation, type WaitOptions } from '../wait.js';
import { registerVmMetricsCommand } from './metrics.js';
import { registerVmHardwareCommands } from './vm-hardware.js';
import { registerVmMigrateCommand } from './vm-migrate.js';
import { registerVmSnapshotCommands } from './vm-snapshot.js';
import { cloudInitFromOptions, type CloudInitOptions } from './vm-cloud-init.js';
import { attachConsole } from './vm-console.js';
import { renderExplanation } from './vm-explain.js';

export interface VmCreateOptions {
  image: string;
  cpus?: string;
  memory?: string;
  disk?: string;
  /** Headroom for live growth (ADR 23). */
  maxCpus?: string;
  maxMemory?: string;
  host?: string;
  /** Default `default`. */
  project?: string;
  kernelArgs?: string;
  restartPolicy?: RestartPolicy;
  pool?: StoragePool;
  /** `key=value`, repeatable. */
  label?: string[];
  description?: string;
  /** False with `--no-start`. */
  start: boolean;
  policy?: SchedulerPolicy;
  group?: string;
  affinity?: ConstraintStrength;
  antiAffinity?: ConstraintStrength;
  /** `key=value` host labels, repeatable. */
  selector?: string[];
  /** Explain the placement instead of creating. */
  dryRun?: boolean;
}

/**
 * The create request for `vm create`, with sizes read from `256M`/`2G`. A bad name or size is
 * refused here with the code the API would answer (INVALID_NAME, INVALID_SIZE), before anything
 * is sent.
 */
export function vmCreateRequest(name: string, options: VmCreateOptions): VmCreate {
  assertValidName(name, 'vm name');
  const request: VmCreate = { name, image: options.image, start: options.start };
  if (options.cpus !== undefined) request.cpus = parseCpus(options.cpus);
  if (options.memory !== undefined) request.memoryMiB = parseSizeMiB(options.memory);
  if (options.disk !== undefined) request.diskGiB = parseSizeGiB(options.disk);
  if (options.maxCpus !== undefined) request.maxCpus = parseCpus(options.maxCpus);
  if (options.maxMemory !== undefined) request.maxMemoryMiB = parseSizeMiB(options.maxMemory);
  if (options.host !== undefined) request.host = options.host;
  if (options.project !== undefined) request.project = options.project;
  if (options.kernelArgs !== undefined) request.kernelArgs = options.kernelArgs;
  if (options.restartPolicy !== undefined) request.restartPolicy = options.restartPolicy;
  if (options.pool !== undefined) request.pool = options.pool;
  if (options.description !== undefined) request.description = options.description;
  if (options.label !== undefined) request.labels = labelsToSet(options.label);
  const placement: NonNullable<VmCreate['placement']> = {};
  if (options.policy !== undefined) placement.policy = options.policy;
  if (options.group !== undefined) {
    assertValidName(options.group, 'group name');
    placement.group = options.group;
  }
  if (options.affinity !== undefined) placement.affinity = options.affinity;
  if (options.antiAffinity !== undefined) placement.antiAffinity = options.antiAffinity;
  if ((placement.affinity ?? placement.antiAffinity) !== undefined && !placement.group) {
    throw new CliError(
      'VALIDATION_FAILED',
      '--affinity and --anti-affinity apply to a group: add --group NAME',
      {},
      2,
    );
  }
  if (options.selector !== undefined) placement.selector = parseLabelSelectors(options.selector);
  if (Object.keys(placement).length > 0) request.placement = placement;
  return request;
}

export interface VmPatchOptions {
  /** `key=value` sets, `key-` removes; repeatable. */
  label?: string[];
  description?: string;
  restartPolicy?: RestartPolicy;
  cpus?: string;
  memory?: string;
}

/** The patch for `vm patch`, with sizes read from `256M`/`2G`; refuses an empty one. */
export function vmPatchRequest(options: VmPatchOptions): VmPatch {
  const patch: VmPatch = {};
  if (options.label !== undefined) patch.labels = parseLabelChanges(options.label);
  if (options.description !== undefined) patch.description = options.description;
  if (options.restartPolicy !== undefined) patch.restartPolicy = options.restartPolicy;
  if (options.cpus !== undefined) patch.cpus = parseCpus(options.cpus);
  if (options.memory !== undefined) patch.memoryMiB = parseSizeMiB(options.memory);
  if (Object.keys(patch).length === 0) {
    throw new CliError(
      'VALIDATION_FAILED',
      'nothing to change: give --label, --description, --restart-policy, --cpus or --memory',
      {},
      2,
    );
  }
  return patch;
}

/** `--label key=value` at create: setting only, there is nothing to remove yet. */
function labelsToSet(changes: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseLabelChanges(changes))) {
    if (value === null) {
      throw new CliError(
        'VALIDATION_FAILED',
        `--label ${key}- removes a label: use key=value`,
        {
          label: `${key}-`,
        },
        2,
      );
    }
    labels[key] = value;
  }
  return labels;
}

function restartPolicyOption(): Option {
  return new Option(
    '--restart-policy <policy>',
    'restart the VM when its QEMU ends: never, on-failure (crash or kill), always',
  ).choices(RESTART_POLICIES);
}

function parseCpus(text: string): number {
  const cpus = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(cpus) || cpus < 1) {
    throw new CliError(
      'VALIDATION_FAILED',
      `--cpus '${text}' is invalid: use a whole number of vCPUs, at least 1`,
      {
        cpus: text,
      },
    );
  }
  return cpus;
}

const PAST_TENSE: Record<VmActionName | 'create' | 'delete', string> = {
  create: 'created',
  start: 'started',
  stop: 'stopped',
  reboot: 'rebooted',
  pause: 'paused',
  resume: 'resumed',
  delete: 'deleted',
};

const FORCE_HELP: Record<VmActionName, string> = {
  start: 'passed on to the server',
  stop: 'power off at once instead of an ACPI shutdown',
  reboot: 'reset at once instead of an ACPI reboot',
  pause: 'passed on to the server',
  resume: 'passed on to the server',
};

/**
 * Prints what an action started: the operation (id and status) without --wait; with --wait the
 * outcome, failing with the operation's own error code when it failed.
 */
/** Where a delete with --keep-disks left each disk, from its operation's result. */
function keptDiskLines(operation: Operation): string[] {
  const result = operation.result as { host?: unknown; keptDisks?: unknown } | null;
  if (!Array.isArray(result?.keptDisks)) return [];
  const host = typeof result.host === 'string' ? ` on host ${result.host}` : '';
  return (result.keptDisks as { path?: unknown; backingFile?: unknown }[]).map((disk) => {
    const base = typeof disk.backingFile === 'string' ? ` (an overlay on ${disk.backingFile})` : '';
    return `disk kept at ${cell(String(disk.path))}${host}${base}`;
  });
}

async function finishAction(
  ctx: CliContext,
  command: Command,
  client: CliClient,
  accepted: Operation,
  options: WaitOptions,
  verb: keyof typeof PAST_TENSE,
): Promise<void> {
  const operation = await finishOperation(ctx, command, options, accepted, client);
  if (operation === undefined) return;
  const name = operation.target.name;
  if (verb === 'delete') {
    ctx.print(`vm ${name} deleted`);
    for (const line of keptDiskLines(operation)) ctx.print(line);
    return;
  }
  const vm = await client.vms.get(operation.target.id);
  ctx.print(`vm ${name} ${PAST_TENSE[verb]} (${vm.state}${vm.host ? ` on ${vm.host}` : ''})`);
}

export function registerVmCommands(program: Command, ctx: CliContext): void {
  const vm = program.command('vm').description('create, list and drive virtual machines');
  registerVmMetricsCommand(vm, ctx);
  registerVmMigrateCommand(vm, ctx);
  registerVmSnapshotCommands(vm, ctx);
  registerVmHardwareCommands(vm, ctx);

  addWaitOptions(
    withOutput(
      vm
        .command('create')
        .description('create a VM and, unless --no-start, start it')
        .argument('<name>', 'VM name: lower-case letters, digits and -')
        .requiredOption('--image <image>', 'image to boot, e.g. tiny')
        .option('--cpus <n>', 'virtual CPUs')
        .option('--memory <size>', 'memory, e.g. 256M or 2G')
        .option('--disk <size>', 'disk size, e.g. 2G')
        .option('--max-cpus <n>', 'vCPUs it may grow to while running (vm resize, live)')
        .option('--max-memory <size>', 'memory it may grow to while running, e.g. 1G')
        .option('--host <host>', 'place the VM on this host')
        .option('--project <project>', 'the project it belongs to (default: default)')
        .option('--kernel-args <args>', 'kernel arguments appended to the image defaults')
        .addOption(restartPolicyOption())
        .addOption(
          new Option(
            '--pool <pool>',
            "where the disk lives: the host's own pool, or the shared one (live migration)",
          ).choices(STORAGE_POOLS),
        )
        .option('--label <key=value>', 'a label, repeatable', collect)
        .option('--description <text>', 'a free-form description')
        .option('--no-start', 'create the VM stopped')
        .addOption(
          new Option(
            '--policy <policy>',
            "how hosts are ranked (the cluster's when absent)",
          ).choices(SCHEDULER_POLICIES),
        )
        .option('--group <group>', 'placement group (per project) for --affinity/--anti-affinity')
        .addOption(
          new Option('--affinity <strength>', 'together with the group').choices(['hard', 'soft']),
        )
        .addOption(
          new Option('--anti-affinity <strength>', 'apart from the group').choices([
            'hard',
            'soft',
          ]),
        )
        .option('--selector <key=value>', 'host label the host must carry, repeatable', collect)
        .option(
          '--ssh-key <file>',
          'cloud-init: OpenSSH public keys for the guest, repeatable',
          collect,
        )
        .option('--user-data <file>', 'cloud-init user-data (#cloud-config or a #! script)')
        .option('--hostname <name>', "cloud-init: the guest's host name (default: the VM name)")
        .option('--network-config <file>', 'cloud-init network-config (version 1 or 2)')
        .option('--dry-run', 'show where the VM would go and why, create nothing'),
    ),
  ).action(
    async (
      name: string,
      options: VmCreateOptions & CloudInitOptions & WaitOptions,
      command: Command,
    ) => {
      // Checked before a client exists: a bad name, size or cloud-init file must not reach the network.
      const request = vmCreateRequest(name, options);
      const cloudInit = await cloudInitFromOptions(options);
      if (cloudInit !== undefined) request.cloudInit = cloudInit;
      const client = await ctx.client();
      if (options.dryRun) {
        const explanation = await client.scheduler.explain({
          ...(request.project === undefined ? {} : { project: request.project }),
          ...(request.cpus === undefined ? {} : { cpus: request.cpus }),
          ...(request.memoryMiB === undefined ? {} : { memoryMiB: request.memoryMiB }),
          ...(request.diskGiB === undefined ? {} : { diskGiB: request.diskGiB }),
          ...(request.host === undefined ? {} : { host: request.host }),
          ...(request.placement === undefined ? {} : { placement: request.placement }),
        });
        const format = formatOf(command);
        ctx.print(
          format ? renderOne(format, explanation, () => []) : renderExplanation(explanation),
        );
        return;
      }
      const operation = await client.vms.create(request);
      await finishAction(ctx, command, client, operation, options, 'create');
    },
  );

  withOutput(
    vm
      .command('list')
      .description('list VMs')
      .addOption(new Option('--state <state>', 'only VMs in this state').choices(VM_STATES))
      .option('--host <host>', 'only VMs on this host')
      .option('--project <project>', 'only VMs of this project')
      .option('--label <key=value>', 'only VMs with this label, repeatable', collect),
  ).action(
    async (
      options: {
        state?: (typeof VM_STATES)[number];
        host?: string;
        project?: string;
        label?: string[];
      },
      command: Command,
    ) => {
      const { state, host, project } = options;
      const label = options.label && labelSelectors(options.label);
      const client = await ctx.client();
      const vms = await listAll((cursor) =>
        client.vms.list({ state, host, project, cursor, ...(label ? { label } : {}) }),
      );
      ctx.print(renderList(formatOf(command) ?? 'table', vms, vmColumns));
    },
  );

  withOutput(
    vm.command('get').description('show one VM').argument('<name>', 'VM name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const client = await ctx.client();
    ctx.print(renderOne(formatOf(command) ?? 'table', await client.vms.get(name), vmFields));
  });

  withOutput(
    vm
      .command('patch')
      .description('change labels, description, restart policy; size only while stopped')
      .argument('<name>', 'VM name or id')
      .option(
        '--label <key=value|key->',
        'set a label (key=value) or remove it (key-), repeatable',
        collect,
      )
      .option('--description <text>', 'a free-form description')
      .addOption(restartPolicyOption())
      .option('--cpus <n>', 'virtual CPUs, from the next start')
      .option('--memory <size>', 'memory, e.g. 512M, from the next start'),
  ).action(async (name: string, options: VmPatchOptions, command: Command) => {
    // Checked before a client exists: a bad label or size must not reach the network.
    const patch = vmPatchRequest(options);
    const client = await ctx.client();
    const vm = await client.vms.patch(name, patch);
    const format = formatOf(command);
    ctx.print(format ? renderOne(format, vm, vmFields) : `vm ${vm.name} changed (${vm.state})`);
  });

  for (const action of VM_ACTIONS) {
    addWaitOptions(
      withOutput(
        vm
          .command(action)
          .description(`${action} a VM`)
          .argument('<name>', 'VM name or id')
          .option('--force', FORCE_HELP[action]),
      ),
    ).action(async (name: string, options: WaitOptions & { force?: boolean }, command: Command) => {
      const client = await ctx.client();
      const operation = await client.vms.action(name, {
        action,
        ...(options.force ? { force: true } : {}),
      });
      await finishAction(ctx, command, client, operation, options, action);
    });
  }

  addWaitOptions(
    withOutput(
      vm
        .command('delete')
        .description('delete a VM and its disks')
        .argument('<name>', 'VM name or id')
        .option('--force', 'delete even when it is running (powers it off)')
        .option(
          '--keep-disks',
          'keep the disk: the host moves it to kept-disks/<name>-<id>/ in its pool (--wait prints where)',
        ),
    ),
  ).action(
    async (
      name: string,
      options: WaitOptions & { force?: boolean; keepDisks?: boolean },
      command: Command,
    ) => {
      const client = await ctx.client();
      const operation = await client.vms.delete(name, {
        force: options.force === true,
        ...(options.keepDisks ? { keepDisks: true } : {}),
      });
      await finishAction(ctx, command, client, operation, options, 'delete');
    },
  );

  vm.command('console')
    .description(
      'attach to the serial console (Ctrl-] detaches), or print the output the host kept (--output)',
    )
    .argument('<name>', 'VM name or id')
    .addOption(
      new Option(
        '-o, --output [format]',
        'print the kept serial output (as text, or wrapped in json/yaml)',
      ).choices(OUTPUT_FORMATS),
    )
    .option('--tail-bytes <n>', 'only the last N bytes', integerArg(1, 1024 * 1024))
    .action(
      async (
        name: string,
        options: { output?: OutputFormat | true; tailBytes?: number },
        command: Command,
      ) => {
        if (options.output === undefined) {
          await attachConsole(ctx, name);
          return;
        }
        const client = await ctx.client();
        const text = await client.vms.consoleOutput(name, { tailBytes: options.tailBytes });
        // `--output` alone means the text itself; a format given here or globally wraps it.
        const format = options.output === true ? formatOf(command) : options.output;
        if (format === 'json') ctx.print(toJson({ vm: name, output: text }));
        else if (format === 'yaml') ctx.print(toYaml({ vm: name, output: text }));
        else ctx.deps.stdout.write(text);
      },
    );
}
