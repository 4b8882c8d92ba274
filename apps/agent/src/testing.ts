import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterAgent, clusterRequest, readText, type TlsIdentity } from '@novacron/auth';
import { TINY_INITRD_FILE, TINY_KERNEL_FILE, type TinyImage } from '@novacron/qemu';
import type { RunningAgent } from './start-agent.js';

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
