import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentVmSpec } from '@novacron/api';
import { killMatching, makeTempDir, testCacheDir, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQemuArgs } from './command-line.js';
import { probeGuestBoot } from './probe.js';
import { createOverlay, createQcow2, imageInfo, resizeImage } from './qemu-img.js';
import { QemuInstance } from './qemu-instance.js';
import { ensureTinyImage, type TinyImage } from './tiny-image/ensure.js';
import { GUEST_READY_MARKER } from './tiny-image/init-script.js';
import { vmFiles, type VmFiles } from './vm-files.js';

// Real QEMU under TCG with the tiny Debian guest. The image is built once into the test cache
// (outside the checkout) and reused by later runs and fresh clones.
const GiB = 1024 ** 3;
let image: TinyImage;
let temp: { path: string; remove(): Promise<void> };
const instances: QemuInstance[] = [];

beforeAll(async () => {
  const started = Date.now();
  image = await ensureTinyImage({
    cacheDir: join(testCacheDir, 'tiny-image'),
    outDir: join(testCacheDir, 'tiny-image', 'images', 'tiny'),
  });
  console.info(`tiny image ready in ${Date.now() - started} ms (${image.sizeBytes} bytes)`);
  temp = await makeTempDir('nc-qemu-');
}, 600_000);

afterAll(async () => {
  for (const instance of instances) await instance.kill().catch(() => undefined);
  // Whatever a failed test left behind: every QEMU whose command line names our temp folder.
  if (temp) {
    await killMatching(temp.path);
    await temp.remove();
  }
});

function spec(id: string, kernelArgs = ''): AgentVmSpec {
  return {
    id,
    name: id,
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    image: {
      id: 'tiny',
      name: 'tiny',
      kind: 'kernel',
      sha256: image.sha256,
      defaultKernelArgs: image.defaultKernelArgs,
    },
    kernelArgs,
    machineType: 'pc-q35-7.2',
    desiredState: 'running',
  };
}

async function boot(
  id: string,
  kernelArgs = '',
): Promise<{ qemu: QemuInstance; files: VmFiles; args: string[] }> {
  const files = vmFiles(join(temp.path, id));
  await mkdir(files.dir, { recursive: true });
  await createQcow2(files.disk, GiB);
  const args = buildQemuArgs(
    spec(id, kernelArgs),
    { ...files, kernel: image.kernelPath, initrd: image.initrdPath },
    'tcg',
  );
  const qemu = await QemuInstance.launch({ vmId: id, args, files });
  instances.push(qemu);
  return { qemu, files, args };
}

async function consoleText(files: VmFiles): Promise<string> {
  return readFile(files.consoleLog, 'utf8').catch(() => '');
}

function heartbeats(text: string): number {
  return text.split('\n').filter((line) => /^HEARTBEAT \d+ \d+\.\d+\s*$/.test(line)).length;
}

describe('tiny guest under TCG', () => {
  it('boots to READY, heartbeats into console.log, and powers off on ACPI', async () => {
    const started = Date.now();
    const { qemu, files } = await boot('idle1');
    await waitFor(
      'READY',
      async () => ((await consoleText(files)).includes(GUEST_READY_MARKER) ? true : undefined),
      60_000,
      50,
    );
    const readyMs = Date.now() - started;
    await waitFor(
      'two heartbeats',
      async () => (heartbeats(await consoleText(files)) >= 2 ? true : undefined),
      30_000,
    );
    expect((await qemu.queryStatus()).status).toBe('running');

    const stopping = Date.now();
    expect(await qemu.powerdown(20_000)).toBe(true);
    const stopMs = Date.now() - stopping;
    const exit = await qemu.exited;
    expect(exit).toMatchObject({
      abnormal: false,
      code: 0,
      shutdown: { guest: true, reason: 'guest-shutdown' },
    });
    expect(await consoleText(files)).toContain('NOVACRON-GUEST-POWEROFF');
    console.info(`TCG boot to READY ${readyMs} ms; ACPI power-off to QEMU exit ${stopMs} ms`);
  });

  it('keeps heartbeating while the dirty workload overwrites memory', async () => {
    const { qemu, files } = await boot('dirty1', 'workload=dirty dirty_mib_s=32 wss_mib=64');
    await waitFor(
      'two DIRTY reports',
      async () => {
        const text = await consoleText(files);
        return (text.match(/^DIRTY \d+ /gm) ?? []).length >= 2 ? text : undefined;
      },
      60_000,
    );
    const text = await consoleText(files);
    expect(text).toContain('NOVACRON-GUEST-DIRTY rate_mib_s=32 wss_mib=64');
    const reports = [...text.matchAll(/^DIRTY (\d+) ([\d.]+)/gm)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    const [first, second] = reports as [[number, number], [number, number]];
    const rate = (second[0] - first[0]) / (second[1] - first[1]);
    console.info(`dirty workload measured at ${rate.toFixed(1)} MiB/s (asked 32)`);
    expect(rate).toBeGreaterThan(16);
    expect(rate).toBeLessThan(40);
    const before = heartbeats(text);
    await waitFor(
      'heartbeats to go on',
      async () => (heartbeats(await consoleText(files)) >= before + 2 ? true : undefined),
      10_000,
    );
    expect((await qemu.quit()).requested).toBe(true);
  });

  it('re-attaches to a running QEMU through its pidfile and notices it being killed', async () => {
    const { qemu, files, args } = await boot('attach1');
    // A second QEMU for the same VM would steal its sockets: refused.
    await expect(QemuInstance.launch({ vmId: 'attach1', args, files })).rejects.toMatchObject({
      code: 'VM_INVALID_STATE',
    });
    await qemu.detach();
    const attached = await QemuInstance.attach({ vmId: 'attach1', files });
    expect(attached?.pid).toBe(qemu.pid);
    if (!attached) return;
    instances.push(attached);
    expect((await attached.queryStatus()).status).toBe('running');
    expect(await QemuInstance.attach({ vmId: 'attach1-other', files })).toBeNull();

    process.kill(attached.pid, 'SIGKILL');
    const exit = await attached.exited;
    expect(exit).toMatchObject({ abnormal: true, requested: false, shutdown: null });
    expect(await QemuInstance.attach({ vmId: 'attach1', files })).toBeNull();
  });

  it('reports why QEMU refused to start, from qemu.log', async () => {
    const files = vmFiles(join(temp.path, 'broken1'));
    await mkdir(files.dir, { recursive: true });
    const args = buildQemuArgs(
      spec('broken1'),
      { ...files, kernel: image.kernelPath, initrd: image.initrdPath },
      'tcg',
    );
    // No disk was created: QEMU exits at once naming the file it could not open.
    await expect(QemuInstance.launch({ vmId: 'broken1', args, files })).rejects.toMatchObject({
      code: 'QEMU_FAILED',
      message: expect.stringContaining('disk.qcow2') as unknown,
    });
  });

  it('detects the marker the way the KVM probe does (run under TCG here)', async () => {
    const result = await probeGuestBoot({ ...image, accelerator: 'tcg', deadlineMs: 60_000 });
    expect(result).toMatchObject({ ok: true });
    const late = await probeGuestBoot({ ...image, accelerator: 'tcg', deadlineMs: 200 });
    expect(late).toEqual({
      ok: false,
      reason: expect.stringContaining('did not print its ready marker') as unknown,
    });
  });
});

describe('qemu-img', () => {
  it('creates, overlays, inspects and resizes qcow2 images', async () => {
    const base = join(temp.path, 'base.qcow2');
    const overlay = join(temp.path, 'overlay.qcow2');
    await createQcow2(base, GiB);
    await createOverlay(overlay, base, 'qcow2', 2 * GiB);
    const info = await imageInfo(overlay);
    expect(info).toMatchObject({
      format: 'qcow2',
      virtualSizeBytes: 2 * GiB,
      backingFile: base,
      backingFormat: 'qcow2',
    });
    await resizeImage(overlay, 3 * GiB);
    expect((await imageInfo(overlay)).virtualSizeBytes).toBe(3 * GiB);
    await expect(imageInfo(join(temp.path, 'absent.qcow2'))).rejects.toMatchObject({
      code: 'QEMU_FAILED',
    });
    await expect(createQcow2('relative.qcow2', GiB)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
