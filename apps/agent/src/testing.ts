import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentVmSpec } from '@novacron/api';
import {
  ClusterCa,
  clusterAgent,
  clusterRequest,
  readText,
  SERVER_PEER_NAME,
  type TlsIdentity,
} from '@novacron/auth';
import {
  ensureTinyImage,
  TINY_INITRD_FILE,
  TINY_KERNEL_FILE,
  type TinyImage,
} from '@novacron/qemu';
import { killMatching, makeTempDir, testCacheDir } from '@novacron/testkit';
import { startAgent, type RunningAgent } from './start-agent.js';

// Test support for the agent's integration tests (never used on a user path).

/** A logger that says nothing. */
export const silentLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * One call to an agent's API over mutual TLS, as the server makes it (`serverTls`), checking the
 * agent's certificate names `hostName`. JSON answers are parsed; others come back as text.
 */
export async function callAgent<T>(
  serverTls: TlsIdentity,
  agent: RunningAgent,
  hostName: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const tls = clusterAgent(serverTls, { role: 'agent', name: hostName });
  try {
    const response = await clusterRequest(new URL(path, agent.url), {
      method,
      agent: tls,
      body,
      timeoutMs: 90_000,
    });
    const text = await readText(response);
    const type = response.headers['content-type'] ?? '';
    return {
      status: response.statusCode ?? 0,
      body: (type.includes('json') ? JSON.parse(text) : text) as T,
    };
  } finally {
    tls.destroy();
  }
}

/** Puts the tiny image where a pull from the server leaves it: `<id>/<sha256>/` in the agent's cache. */
export async function seedTinyImage(dataDir: string, image: TinyImage): Promise<void> {
  const cached = join(dataDir, 'agent', 'images', 'tiny', image.sha256);
  await mkdir(cached, { recursive: true });
  await copyFile(image.kernelPath, join(cached, TINY_KERNEL_FILE));
  await copyFile(image.initrdPath, join(cached, TINY_INITRD_FILE));
}

/** The tiny image as a VM spec names it (its id and name are `tiny`). */
export function tinyImageRef(image: TinyImage): AgentVmSpec['image'] {
  return {
    id: 'tiny',
    name: 'tiny',
    kind: 'kernel',
    sha256: image.sha256,
    defaultKernelArgs: image.defaultKernelArgs,
  };
}

export type PairHost = 'a' | 'b';

/** Two real agents in this process on loopback, as migration tests use them. */
export interface AgentPair {
  readonly image: TinyImage;
  /** Holds each host's data folder (`a`, `b`) and, with `sharedPool`, the shared pool (`pool`). */
  readonly dir: string;
  readonly hosts: Record<PairHost, { name: string; tls: TlsIdentity; dataDir: string }>;
  /** The running agents; a test may close one and put another in its place. */
  readonly agents: Partial<Record<PairHost, RunningAgent>>;
  /** The server's identity, for calls made as the server. */
  readonly serverTls: TlsIdentity;
  /** Calls host `key`'s agent as the server does. */
  call<T>(
    key: PairHost,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>;
  /** A new agent on the same data folder: QEMU keeps running, the agent re-attaches. */
  restart(key: PairHost): Promise<void>;
  /** Closes both agents, kills what QEMU they left and deletes the folder. */
  close(): Promise<void>;
}

/**
 * Starts agents `host-a` and `host-b`, each with its own data folder holding the tiny image,
 * certificates from one new cluster CA, and with `sharedPool` one pool folder both see.
 */
export async function startAgentPair(options: {
  tempPrefix: string;
  sharedPool: boolean;
}): Promise<AgentPair> {
  const image = await ensureTinyImage({
    cacheDir: join(testCacheDir, 'tiny-image'),
    outDir: join(testCacheDir, 'tiny-image', 'images', 'tiny'),
  });
  const temp = await makeTempDir(options.tempPrefix);
  const agents: Partial<Record<PairHost, RunningAgent>> = {};
  const close = async () => {
    for (const agent of Object.values(agents)) await agent.close().catch(() => undefined);
    await killMatching(temp.path);
    await temp.remove();
  };
  try {
    const sharedPoolDir = options.sharedPool ? join(temp.path, 'pool') : undefined;
    if (sharedPoolDir !== undefined) await mkdir(sharedPoolDir);
    const ca = await ClusterCa.create();
    const serverTls = await ca.issueIdentity({ role: 'server', name: SERVER_PEER_NAME });
    const hosts = {} as AgentPair['hosts'];
    const start = (key: PairHost) =>
      startAgent({
        config: {
          agentHost: '127.0.0.1',
          agentPort: 0,
          accel: 'auto',
          dataDir: hosts[key].dataDir,
          ...(sharedPoolDir === undefined ? {} : { sharedPoolDir }),
        },
        logger: silentLogger,
        identity: { name: hosts[key].name, tls: hosts[key].tls },
        probeImage: () => Promise.resolve(image),
      });
    for (const key of ['a', 'b'] as const) {
      const name = `host-${key}`;
      const dataDir = join(temp.path, key);
      hosts[key] = {
        name,
        dataDir,
        tls: await ca.issueIdentity({ role: 'agent', name }, { addresses: ['127.0.0.1'] }),
      };
      await seedTinyImage(dataDir, image);
      agents[key] = await start(key);
    }
    return {
      image,
      dir: temp.path,
      hosts,
      agents,
      serverTls,
      call<T>(key: PairHost, method: string, path: string, body?: unknown) {
        const agent = agents[key];
        if (!agent) throw new Error(`agent ${key} is not running`);
        return callAgent<T>(serverTls, agent, hosts[key].name, method, path, body);
      },
      async restart(key) {
        await agents[key]?.close();
        agents[key] = await start(key);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
