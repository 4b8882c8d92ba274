import type { Command } from 'commander';
import {
  SNAPSHOT_NAME_PATTERN,
  type Operation,
  type VmClone,
  type VmSnapshot,
} from '@novacron/api';
import { assertValidName, parseLabelSelectors } from '@novacron/domain';
import { formatOf, type CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { collect } from '../labels.js';
import { withOutput } from '../options.js';
import { formatBytes, renderList, renderOne, vmFields } from '../output.js';
import { addWaitOptions, finishOperation, type WaitOptions } from '../wait.js';

// Snapshots, clones and templates (docs/adr/0022-snapshots-clones-templates.md):
// `vm snapshot create|list|revert|delete`, `vm clone`, `vm template`.

const SNAPSHOT_NAME = new RegExp(SNAPSHOT_NAME_PATTERN);

export interface VmCloneOptions {
  snapshot?: string;
  full?: boolean;
  /** False with --no-start. */
  start: boolean;
  label?: string[];
  description?: string;
}

/** The request of `vm clone`, checked before anything is sent. */
export function vmCloneRequest(name: string, options: VmCloneOptions): VmClone {
  assertValidName(name, 'VM name');
  const request: VmClone = { name };
  if (options.snapshot !== undefined) request.snapshot = snapshotName(options.snapshot);
  if (options.full) request.full = true;
  if (!options.start) request.start = false;
  if (options.label !== undefined) request.labels = parseLabelSelectors(options.label);
  if (options.description !== undefined) request.description = options.description;
  return request;
}

/** A snapshot name as the API takes it, else VALIDATION_FAILED before anything is sent. */
export function snapshotName(name: string): string {
  if (!SNAPSHOT_NAME.test(name)) {
    throw new CliError(
      'VALIDATION_FAILED',
      `'${name}' is not a snapshot name: a letter, then up to 62 letters, digits, _ or -`,
      { snapshot: name },
    );
  }
  return name;
}

export const snapshotColumns = [
  { header: 'NAME', value: (s: VmSnapshot) => s.name },
  { header: 'MEMORY', value: (s: VmSnapshot) => (s.memory ? formatBytes(s.vmStateBytes) : 'no') },
  { header: 'VM STATE', value: (s: VmSnapshot) => s.vmState },
  { header: 'CREATED', value: (s: VmSnapshot) => s.createdAt },
  { header: 'DESCRIPTION', value: (s: VmSnapshot) => s.description },
];

export function registerVmSnapshotCommands(vm: Command, ctx: CliContext): void {
  const snapshot = vm
    .command('snapshot')
    .description('take, list, revert to and delete snapshots of a VM');

  addWaitOptions(
    withOutput(
      snapshot
        .command('create')
        .description(
          "take a snapshot of the VM's disk; --memory also saves the running guest, so a revert resumes it",
        )
        .argument('<vm>', 'VM name or id')
        .argument('<snapshot>', 'snapshot name: a letter, then letters, digits, _ or -')
        .option('--memory', 'save RAM and device state too (running or paused VM)')
        .option('--description <text>', 'a free-form description'),
    ),
  ).action(
    async (
      name: string,
      snap: string,
      options: WaitOptions & { memory?: boolean; description?: string },
      command: Command,
    ) => {
      const request = {
        name: snapshotName(snap),
        ...(options.memory ? { memory: true } : {}),
        ...(options.description === undefined ? {} : { description: options.description }),
      };
      const client = await ctx.client();
      await finish(
        ctx,
        command,
        options,
        await client.vms.createSnapshot(name, request),
        (op) =>
          `snapshot ${snap} of vm ${op.target.name} taken` +
          (op.result?.memory === true
            ? ` with ${formatBytes(Number(op.result.vmStateBytes ?? 0))} of guest state`
            : ' (disk only)'),
      );
    },
  );

  withOutput(
    snapshot.command('list').description("the VM's snapshots").argument('<vm>', 'VM name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const { items } = await (await ctx.client()).vms.listSnapshots(name);
    ctx.print(renderList(formatOf(command) ?? 'table', items, snapshotColumns));
  });

  addWaitOptions(
    withOutput(
      snapshot
        .command('revert')
        .description(
          'return the VM to a snapshot: with memory the guest continues from it; disk only, a running guest restarts from the reverted disk (what was written since is lost)',
        )
        .argument('<vm>', 'VM name or id')
        .argument('<snapshot>', 'snapshot name'),
    ),
  ).action(async (name: string, snap: string, options: WaitOptions, command: Command) => {
    const client = await ctx.client();
    const accepted = await client.vms.revertSnapshot(name, snapshotName(snap));
    await finish(ctx, command, options, accepted, (op) => {
      const state = typeof op.result?.state === 'string' ? ` (${op.result.state})` : '';
      return `vm ${op.target.name} reverted to snapshot ${snap}${state}`;
    });
  });

  addWaitOptions(
    withOutput(
      snapshot
        .command('delete')
        .description('delete a snapshot; the VM and its current disk are untouched')
        .argument('<vm>', 'VM name or id')
        .argument('<snapshot>', 'snapshot name'),
    ),
  ).action(async (name: string, snap: string, options: WaitOptions, command: Command) => {
    const client = await ctx.client();
    const accepted = await client.vms.deleteSnapshot(name, snapshotName(snap));
    await finish(
      ctx,
      command,
      options,
      accepted,
      (op) => `snapshot ${snap} of vm ${op.target.name} deleted`,
    );
  });

  addWaitOptions(
    withOutput(
      vm
        .command('clone')
        .description(
          'a new VM from a VM (running or stopped), one of its snapshots, or a template (a linked clone unless --full); it gets its own name, id and MAC address and lands on the source host',
        )
        .argument('<source>', 'VM or template name or id')
        .argument('<name>', 'name of the new VM')
        .option('--snapshot <snapshot>', "clone the source's disk as it was in this snapshot")
        .option('--full', 'from a template: copy its disk instead of linking to it')
        .option('--no-start', 'leave the clone stopped')
        .option('--label <key=value>', 'a label, repeatable (default: the source labels)', collect)
        .option('--description <text>', 'a free-form description'),
    ),
  ).action(
    async (
      source: string,
      name: string,
      options: WaitOptions & VmCloneOptions,
      command: Command,
    ) => {
      const request = vmCloneRequest(name, options);
      const client = await ctx.client();
      await finish(ctx, command, options, await client.vms.clone(source, request), (op) => {
        const how = typeof op.result?.method === 'string' ? op.result.method : 'copy';
        const state = typeof op.result?.state === 'string' ? `, ${op.result.state}` : '';
        return `vm ${op.target.name} cloned from ${source} (${how}${state})`;
      });
    },
  );

  withOutput(
    vm
      .command('template')
      .description(
        'make a stopped VM a template: it can no longer start or change, only be cloned (vm clone)',
      )
      .argument('<vm>', 'VM name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const template = await (await ctx.client()).vms.markTemplate(name);
    const format = formatOf(command);
    ctx.print(
      format ? renderOne(format, template, vmFields) : `vm ${template.name} is a template\n`,
    );
  });
}

/** The operation without --wait; with --wait its outcome as one line, or its error. */
async function finish(
  ctx: CliContext,
  command: Command,
  options: WaitOptions,
  accepted: Operation,
  outcome: (operation: Operation) => string,
): Promise<void> {
  const operation = await finishOperation(ctx, command, options, accepted);
  if (operation) ctx.print(`${outcome(operation)}\n`);
}
