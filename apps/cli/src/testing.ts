import { join } from 'node:path';
import { stopAllVms } from '@novacron/agent';
import { NovaCronClient } from '@novacron/client';
import { loadConfig } from '@novacron/config';
import { createLogger } from '@novacron/telemetry';
import { killMatching, makeTempDir, testCacheDir } from '@novacron/testkit';
import { startEmbedded, type Embedded } from './embedded.js';

// Test support: one server and its local agent on free ports in a temporary data directory, with
// a logged-in client. Never used on a user path.

export const TEST_ADMIN_PASSWORD = 'integration-test';

export interface EmbeddedTestbed {
  embedded: Embedded;
  client: NovaCronClient;
  dataDir: string;
  /** Stops server and agent, kills every QEMU started under the data directory, removes it. */
  close(): Promise<void>;
}

/** Starts the embedded server and agent under TCG; `env` adds or overrides NOVACRON_* settings. */
export async function startEmbeddedTestbed(
  env: Record<string, string> = {},
): Promise<EmbeddedTestbed> {
  const dataDir = await makeTempDir();
  const cleanup = async (embedded?: Embedded) => {
    await embedded?.close();
    await killMatching(dataDir.path);
    // With QEMU gone, this removes the VMs' tap devices (they would outlive the folder).
    await stopAllVms({ dataDir: dataDir.path, logger: createLogger({ level: 'silent' }) });
    await dataDir.remove();
  };
  let embedded: Embedded | undefined;
  try {
    const config = loadConfig({
      NOVACRON_DATA_DIR: dataDir.path,
      NOVACRON_API_PORT: '0',
      NOVACRON_AGENT_PORT: '0',
      NOVACRON_CLUSTER_PORT: '0',
      NOVACRON_WS_PORT: '0',
      NOVACRON_ACCEL: 'tcg',
      NOVACRON_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      NOVACRON_LOG_LEVEL: 'warn',
      ...env,
    });
    embedded = await startEmbedded(config, createLogger({ level: 'warn' }), {
      imageCacheDir: join(testCacheDir, 'tiny-image'),
      hostPollMs: 500,
    });
    const baseUrl = embedded.server.url;
    const login = await new NovaCronClient({ baseUrl }).login('admin', TEST_ADMIN_PASSWORD);
    const started = embedded;
    return {
      embedded,
      client: new NovaCronClient({ baseUrl, token: login.accessToken }),
      dataDir: dataDir.path,
      close: () => cleanup(started),
    };
  } catch (error) {
    await cleanup(embedded);
    throw error;
  }
}
