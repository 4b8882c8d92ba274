import type { Command } from 'commander';
import { MAX_VM_CPUS, type Operation, type VmHardwareView, type VmResize } from '@novacron/api';
import { parseSizeGiB, parseSizeMiB } from '@novacron/domain';
import { formatOf, type CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { integerArg, withOutput } from '../options.js';
import { renderList } from '../output.js';
import { addWaitOptions, finishOperation, type WaitOptions } from '../wait.js';

// Resize and hotplug (docs/adr/0023-resize-and-hotplug.md): `vm resize`, `vm disk add|remove|list`,
// `vm nic add|remove|list`. Each change is an operation; --wait prints its outcome.

export interface VmResizeOptions {
  cpus?: number;
  memory?: string;
  disk?: string;
  maxCpus?: number;
  maxMemory?: string;
}

/** The request of `vm resize`, sizes read and checked before anything is sent. */
export function vmResizeRequest(options: VmResizeOptions): VmResize {
  const request: VmResize = {};
  if (options.cpus !== undefined) request.cpus = options.cpus;
  if (options.memory !== undefined) request.memoryMiB = parseSizeMiB(options.memory);
  if (options.disk !== undefined) request.diskGiB = parseSizeGiB(options.disk);
  if (options.maxCpus !== undefined) request.maxCpus = options.maxCpus;
  if (options.maxMemory !== undefined) request.maxMemoryMiB = parseSizeMiB(options.maxMemory);
  if (Object.keys(request).length === 0) {
    throw new CliError(
      'VALIDATION_FAILED',
      'say what to change: --cpus, --memory, --disk, --max-cpus or --max-memory',
    );
  }
  return request;
}

export function registerVmHardwareCommands(vm: Command, ctx: CliContext): void {
  addWaitOptions(
    withOutput(
      vm
        .command('resize')
        .description(
          'change vCPUs, memory or disk size: live on a running VM (vCPUs and memory grow up to --max-cpus/--max-memory set while stopped; the disk grows), anything else while stopped; a disk never shrinks',
        )
        .argument('<name>', 'VM name or id')
        .option('--cpus <n>', 'vCPUs', integerArg(1, MAX_VM_CPUS))
        .option('--memory <size>', 'memory, e.g. 512M or 1G (live: in steps of 128M)')
        .option('--disk <size>', 'boot disk size, e.g. 4G (only grows)')
        .option(
          '--max-cpus <n>',
          'stopped VMs: vCPUs it may grow to while running',
          integerArg(1, MAX_VM_CPUS),
        )
        .option('--max-memory <size>', 'stopped VMs: memory it may grow to while running'),
    ),
  ).action(async (name: string, options: VmResizeOptions & WaitOptions, command: Command) => {
    const request = vmResizeRequest(options);
    const client = await ctx.client();
    await finish(ctx, command, options, await client.vms.resize(name, request));
  });

  const disk = vm.command('disk').description("a VM's data disks (hot-plugged while it runs)");
  addWaitOptions(
    withOutput(
      disk
        .command('add')
        .description(
          "add an empty qcow2 data disk in the VM's pool; the guest sees a new block device",
        )
        .argument('<name>', 'VM name or id')
        .requiredOption('--size <size>', 'disk size, e.g. 2G')
        .option('--disk-name <disk>', 'disk1..disk9 (default: the first free one)'),
    ),
  ).action(
    async (
      name: string,
      options: { size: string; diskName?: string } & WaitOptions,
      command: Command,
    ) => {
      const sizeGiB = parseSizeGiB(options.size);
      const client = await ctx.client();
      const accepted = await client.vms.addDisk(name, {
        sizeGiB,
        ...(options.diskName === undefined ? {} : { name: options.diskName }),
      });
      await finish(ctx, command, options, accepted);
    },
  );
  addWaitOptions(
    withOutput(
      disk
        .command('remove')
        .description('unplug a data disk (the guest must release it) and delete its file')
        .argument('<name>', 'VM name or id')
        .argument('<disk>', 'disk1..disk9'),
    ),
  ).action(async (name: string, device: string, options: WaitOptions, command: Command) => {
    const client = await ctx.client();
    await finish(ctx, command, options, await client.vms.removeDisk(name, device));
  });
  withOutput(
    disk.command('list').description("the VM's data disks").argument('<name>', 'VM name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const hardware = await (await ctx.client()).vms.hardware(name);
    const format = formatOf(command) ?? 'table';
    const rows = [
      { name: 'disk0', sizeGiB: hardware.diskGiB, slot: null as number | null },
      ...hardware.disks,
    ];
    ctx.print(
      renderList(format, format === 'table' ? rows : hardware.disks, [
        { header: 'NAME', value: (d) => d.name },
        { header: 'SIZE', value: (d) => `${d.sizeGiB} GiB` },
        { header: 'SLOT', value: (d) => (d.slot === null ? 'boot' : `hotplug${d.slot}`) },
      ]),
    );
  });

  const nic = vm
    .command('nic')
    .description("a VM's extra NICs on its host's network (hot-plugged while it runs)");
  addWaitOptions(
    withOutput(
      nic
        .command('add')
        .description("add a NIC on the host's VM network")
        .argument('<name>', 'VM name or id')
        .option('--nic-name <nic>', 'net1..net9 (default: the first free one)'),
    ),
  ).action(async (name: string, options: { nicName?: string } & WaitOptions, command: Command) => {
    const client = await ctx.client();
    const accepted = await client.vms.addNic(
      name,
      options.nicName === undefined ? {} : { name: options.nicName },
    );
    await finish(ctx, command, options, accepted);
  });
  addWaitOptions(
    withOutput(
      nic
        .command('remove')
        .description('unplug an extra NIC (the guest must release it)')
        .argument('<name>', 'VM name or id')
        .argument('<nic>', 'net1..net9'),
    ),
  ).action(async (name: string, device: string, options: WaitOptions, command: Command) => {
    const client = await ctx.client();
    await finish(ctx, command, options, await client.vms.removeNic(name, device));
  });
  withOutput(
    nic.command('list').description("the VM's extra NICs").argument('<name>', 'VM name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const hardware = await (await ctx.client()).vms.hardware(name);
    ctx.print(
      renderList(formatOf(command) ?? 'table', hardware.nics, [
        { header: 'NAME', value: (n) => n.name },
        { header: 'MAC', value: (n) => n.mac },
        { header: 'SLOT', value: (n) => `hotplug${n.slot}` },
      ]),
    );
  });
}

/** The operation without --wait; with --wait the VM's hardware after it, or its error. */
async function finish(
  ctx: CliContext,
  command: Command,
  options: WaitOptions,
  accepted: Operation,
): Promise<void> {
  const operation = await finishOperation(ctx, command, options, accepted);
  if (!operation) return;
  const client = await ctx.client();
  const live = operation.result?.live === true ? 'live' : 'while stopped';
  const hardware = await client.vms.hardware(operation.target.id);
  ctx.print(`vm ${operation.target.name} changed (${live}): ${hardwareLine(hardware)}`);
}

export function hardwareLine(hardware: VmHardwareView): string {
  const disks = hardware.disks.map((d) => `${d.name} ${d.sizeGiB} GiB`);
  const nics = hardware.nics.map((n) => n.name);
  return (
    `${hardware.cpus} vCPUs (max ${hardware.maxCpus}), ${hardware.memoryMiB} MiB (max ${hardware.maxMemoryMiB}), ` +
    `disk0 ${hardware.diskGiB} GiB` +
    (disks.length > 0 ? `, ${disks.join(', ')}` : '') +
    (nics.length > 0 ? `, NICs ${nics.join(', ')}` : '')
  );
}
