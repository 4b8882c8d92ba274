import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@novacron/config';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliClient, CliDeps } from '../context.js';
import type { CredentialStore } from '../credentials.js';
import { run } from '../main.js';

// `image import NAME FILE|URL` and `vm create --ssh-key/--user-data`, against a stand-in client.
let dir: string;
const operation = {
  id: 'op-1',
  kind: 'image.import',
  status: 'running',
  target: { type: 'image', id: 'i1', name: 'x' },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nc-cli-import-'));
  await writeFile(join(dir, 'disk.vmdk'), Buffer.alloc(4096, 7));
  await writeFile(join(dir, 'ud'), '#!/bin/sh\necho hi\n');
  await writeFile(join(dir, 'key.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== me@host\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const client = {
    images: {
      upload: vi.fn(async (_query: unknown, body: ReadableStream<Uint8Array>) => {
        let bytes = 0;
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          bytes += chunk.length;
        }
        uploaded = bytes;
        return operation;
      }),
      import: vi.fn(() => Promise.resolve(operation)),
      get: vi.fn(() => Promise.resolve({ id: 'i1', name: 'appliance', sizeBytes: 1 })),
    },
    operations: {
      // The import of an OVA as the server reports it, then the VM's create.
      wait: vi.fn((id: string) =>
        Promise.resolve(
          id === operation.id
            ? {
                ...operation,
                status: 'succeeded',
                result: {
                  image: 'i1',
                  virtualSizeBytes: 1.5 * 1024 ** 3,
                  ovf: { bootDisk: 'disk1.vmdk', cpus: 2, memoryMiB: 384 },
                },
              }
            : { id, kind: 'vm.create', status: 'succeeded', result: null },
        ),
      ),
    },
    vms: {
      get: vi.fn(() =>
        Promise.resolve({
          name: 'app',
          cpus: 2,
          memoryMiB: 384,
          diskGiB: 2,
          state: 'running',
        }),
      ),
      create: vi.fn(() =>
        Promise.resolve({
          ...operation,
          kind: 'vm.create',
          target: { type: 'vm', id: 'v1', name: 'web' },
        }),
      ),
    },
  };
  let uploaded = 0;
  let stdout = '';
  let stderr = '';
  const credentials: CredentialStore = {
    load: () => Promise.resolve(undefined),
    save: () => Promise.resolve(),
    remove: () => Promise.resolve(false),
  } as unknown as CredentialStore;
  const deps: CliDeps = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    createClient: vi.fn(() => client as unknown as CliClient),
    loadConfig: () =>
      loadConfig({ NOVACRON_SERVER_URL: 'http://server:8090', NOVACRON_TOKEN: 'token' }),
    credentials,
    readPassword: vi.fn(() => Promise.resolve('x')),
  };
  const code = await run(['node', 'novacron', ...args], deps);
  return { code, stdout, stderr, client, uploaded: () => uploaded };
}

describe('image import', () => {
  it('uploads a local file as a stream, with the expected SHA-256', async () => {
    const sha = 'a'.repeat(64);
    const result = await cli([
      'image',
      'import',
      'legacy',
      join(dir, 'disk.vmdk'),
      '--sha256',
      sha,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.client.images.upload).toHaveBeenCalledTimes(1);
    expect(result.client.images.upload.mock.calls[0]?.[0]).toEqual({ name: 'legacy', sha256: sha });
    expect(result.uploaded()).toBe(4096);
    expect(result.client.images.import).not.toHaveBeenCalled();
  });

  it('takes a URL as SOURCE like --url', async () => {
    const result = await cli(['image', 'import', 'appliance', 'https://example.org/a.ova']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.client.images.import).toHaveBeenCalledWith({
      name: 'appliance',
      url: 'https://example.org/a.ova',
    });
  });

  it('--vm creates a VM from the import, sized by the OVA and the disk', async () => {
    const result = await cli([
      'image',
      'import',
      'appliance',
      'https://example.org/a.ova',
      '--vm',
      'app',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.client.vms.create).toHaveBeenCalledWith({
      name: 'app',
      image: 'appliance',
      cpus: 2,
      memoryMiB: 384,
      diskGiB: 2,
    });
    expect(result.stdout).toContain('VM app created from it (2 vCPUs, 384M, 2G disk), running');
  });

  it('refuses a missing file, and a file with URLs, as usage errors', async () => {
    expect((await cli(['image', 'import', 'x', join(dir, 'nope.vmdk')])).code).toBe(2);
    expect(
      (await cli(['image', 'import', 'x', join(dir, 'disk.vmdk'), '--url', 'https://e.org/a']))
        .code,
    ).toBe(2);
    expect((await cli(['image', 'import', 'x'])).code).toBe(2);
  });
});

describe('vm create with cloud-init', () => {
  it('sends the files as cloudInit', async () => {
    const result = await cli([
      'vm',
      'create',
      'web',
      '--image',
      'debian',
      '--ssh-key',
      join(dir, 'key.pub'),
      '--user-data',
      join(dir, 'ud'),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.client.vms.create).toHaveBeenCalledWith(
      expect.objectContaining({
        name: 'web',
        cloudInit: {
          sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== me@host'],
          userData: '#!/bin/sh\necho hi\n',
        },
      }),
    );
  });
});
