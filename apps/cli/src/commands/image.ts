import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { VmCreate } from '@novacron/api';
import { InvalidArgumentError, type Command } from 'commander';
import { formatOf, type CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { integerArg, withOutput } from '../options.js';
import {
  formatMiB,
  imageColumns,
  imageFields,
  operationFields,
  renderList,
  renderOne,
  vmFields,
} from '../output.js';
import { listAll } from '../paging.js';
import { assertSucceeded, DEFAULT_WAIT_SECONDS, waitForOperation } from '../wait.js';

interface ImportOptions {
  url?: string;
  kernelUrl?: string;
  initrdUrl?: string;
  kernelArgs?: string;
  sha256?: string;
  kernelSha256?: string;
  initrdSha256?: string;
  wait?: boolean;
  waitTimeout: number;
  vm?: string;
}

const GiB = 1024 ** 3;

/** A SHA-256 as printed by sha256sum; upper case is accepted and sent in lower case. */
function sha256Arg(value: string): string {
  const hex = value.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new InvalidArgumentError('expected a SHA-256: 64 hex digits.');
  }
  return hex;
}

/** Streams a local file to the server's upload endpoint (never read whole into memory). */
async function upload(
  client: Awaited<ReturnType<CliContext['client']>>,
  name: string,
  file: string,
  options: ImportOptions,
) {
  if (options.kernelArgs !== undefined) {
    throw new CliError('USAGE', '--kernel-args goes with --kernel-url and --initrd-url', {}, 2);
  }
  const info = await stat(file).catch((error: Error) => {
    throw new CliError('USAGE', `cannot read ${file}: ${error.message}`, {}, 2);
  });
  if (!info.isFile()) throw new CliError('USAGE', `${file} is not a file`, {}, 2);
  const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
  return client.images.upload(
    { name, ...(options.sha256 === undefined ? {} : { sha256: options.sha256 }) },
    body,
  );
}

export function registerImageCommands(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('images VMs boot from');

  withOutput(image.command('list').description('list images')).action(
    async (_options: unknown, command: Command) => {
      const client = await ctx.client();
      const images = await listAll((cursor) => client.images.list({ cursor }));
      ctx.print(renderList(formatOf(command) ?? 'table', images, imageColumns));
    },
  );

  withOutput(
    image.command('get').description('show one image').argument('<name>', 'image name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const client = await ctx.client();
    ctx.print(renderOne(formatOf(command) ?? 'table', await client.images.get(name), imageFields));
  });

  withOutput(
    image
      .command('import')
      .description(
        'import an image: a file uploaded from here, or a URL the server downloads; a disk image (qcow2, raw, VMDK, VHD/VHDX, VDI) or an OVA, stored as qcow2; or a kernel and initrd by URL',
      )
      .argument('<name>', 'name of the new image')
      .argument('[source]', 'a local file to upload, or an http(s) URL (as --url)')
      .option('--url <url>', 'a disk image (qcow2, raw, VMDK, VHD/VHDX, VDI), stored as qcow2')
      .option('--kernel-url <url>', 'a kernel to boot directly (with --initrd-url)')
      .option('--initrd-url <url>', 'the initramfs that goes with --kernel-url')
      .option('--kernel-args <args>', 'kernel arguments every VM of this image boots with')
      .option(
        '--sha256 <hex>',
        'the SHA-256 --url must have; a mismatch fails the import',
        sha256Arg,
      )
      .option('--kernel-sha256 <hex>', 'the SHA-256 --kernel-url must have', sha256Arg)
      .option('--initrd-sha256 <hex>', 'the SHA-256 --initrd-url must have', sha256Arg)
      .option('--wait', 'wait until the import ends; fail if it fails')
      .option(
        '--vm <name>',
        "then create and start a VM of this name from it (waits): an OVA's vCPUs and memory, a disk of the image's size",
      )
      .option(
        '--wait-timeout <seconds>',
        'how long --wait waits',
        integerArg(0, 24 * 3600),
        DEFAULT_WAIT_SECONDS,
      ),
  ).action(
    async (name: string, source: string | undefined, options: ImportOptions, command: Command) => {
      if (source !== undefined && /^https?:\/\//.test(source)) {
        if (options.url !== undefined) {
          throw new CliError('USAGE', 'give the URL once: as SOURCE or as --url', {}, 2);
        }
        options.url = source;
        source = undefined;
      }
      const byUrl =
        options.url !== undefined ||
        options.kernelUrl !== undefined ||
        options.initrdUrl !== undefined;
      if (
        source === undefined &&
        (options.url === undefined) ===
          (options.kernelUrl === undefined && options.initrdUrl === undefined)
      ) {
        throw new CliError(
          'USAGE',
          'give a FILE or URL, or --url, or --kernel-url and --initrd-url',
          {},
          2,
        );
      }
      if (source !== undefined && byUrl) {
        throw new CliError('USAGE', 'give either a file to upload or URLs, not both', {}, 2);
      }
      const client = await ctx.client();
      const accepted =
        source !== undefined
          ? await upload(client, name, source, options)
          : await client.images.import({
              name,
              ...(options.url === undefined ? {} : { url: options.url }),
              ...(options.kernelUrl === undefined ? {} : { kernelUrl: options.kernelUrl }),
              ...(options.initrdUrl === undefined ? {} : { initrdUrl: options.initrdUrl }),
              ...(options.kernelArgs === undefined
                ? {}
                : { defaultKernelArgs: options.kernelArgs }),
              ...(options.sha256 === undefined ? {} : { sha256: options.sha256 }),
              ...(options.kernelSha256 === undefined ? {} : { kernelSha256: options.kernelSha256 }),
              ...(options.initrdSha256 === undefined ? {} : { initrdSha256: options.initrdSha256 }),
            });
      const format = formatOf(command);
      if (!options.wait && options.vm === undefined) {
        ctx.print(
          format
            ? renderOne(format, accepted, operationFields)
            : `image ${name}: importing, operation ${accepted.id}`,
        );
        return;
      }
      const operation = await waitForOperation(
        client,
        accepted,
        options.waitTimeout,
        ctx.deps.stderr,
      );
      assertSucceeded(operation, options.waitTimeout);
      const imported = await client.images.get(name);
      if (options.vm !== undefined) {
        const sizing = vmSizing(operation.result);
        const creating = await client.vms.create({ name: options.vm, image: name, ...sizing });
        const created = await waitForOperation(
          client,
          creating,
          options.waitTimeout,
          ctx.deps.stderr,
        );
        assertSucceeded(created, options.waitTimeout);
        const vm = await client.vms.get(options.vm);
        ctx.print(
          format
            ? renderOne(format, vm, vmFields)
            : `image ${name} imported; VM ${vm.name} created from it (${vm.cpus} vCPUs, ${formatMiB(vm.memoryMiB)}, ${vm.diskGiB}G disk), ${vm.state}`,
        );
        return;
      }
      ctx.print(
        format
          ? renderOne(format, imported, imageFields)
          : `image ${name} imported (${imported.sizeBytes} bytes)`,
      );
    },
  );

  withOutput(
    image
      .command('delete')
      .description('delete an image no VM uses')
      .argument('<name>', 'image name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const client = await ctx.client();
    const deleted = await client.images.delete(name);
    const format = formatOf(command);
    ctx.print(format ? renderOne(format, deleted, imageFields) : `image ${deleted.name} deleted`);
  });
}

/**
 * A VM made straight from an import: the vCPUs and memory an OVA's descriptor asks for (the
 * server's defaults otherwise) and a disk at least the image's virtual size.
 */
function vmSizing(
  result: Record<string, unknown> | null,
): Pick<VmCreate, 'cpus' | 'memoryMiB' | 'diskGiB'> {
  const ovf = (result?.ovf ?? {}) as { cpus?: number | null; memoryMiB?: number | null };
  const virtualSizeBytes = result?.virtualSizeBytes;
  return {
    ...(typeof ovf.cpus === 'number' ? { cpus: ovf.cpus } : {}),
    ...(typeof ovf.memoryMiB === 'number' ? { memoryMiB: ovf.memoryMiB } : {}),
    ...(typeof virtualSizeBytes === 'number'
      ? { diskGiB: Math.max(1, Math.ceil(virtualSizeBytes / GiB)) }
      : {}),
  };
}
