import { join } from 'node:path';
import { QemuInstance } from '@novacron/qemu';
import { extraNicKey } from './hardware.js';
import type { AgentLogger } from './logger.js';
import { stopHostNetwork } from './network/host-network.js';
import { agentPaths } from './paths.js';
import { VmStateDir } from './vm-state-dir.js';

export interface StopAllVmsOptions {
  dataDir: string;
  logger: AgentLogger;
  /** How long each guest gets to power off after the ACPI button (default 30 s). */
  timeoutSeconds?: number;
}

/**
 * Stops every VM the agent state folder knows, without an agent (`novacron down`): ACPI
 * power-off, `quit` after the timeout, all VMs at once. Uses each QEMU's auxiliary monitor, so
 * it works even while an agent still holds the main one. Then stops the VM network's dnsmasq.
 * Returns how many VMs were running.
 */
export async function stopAllVms(options: StopAllVmsOptions): Promise<number> {
  const { logger } = options;
  const stateDir = new VmStateDir(agentPaths(options.dataDir));
  const timeoutMs = (options.timeoutSeconds ?? 30) * 1000;
  const ids = await stateDir.listIds();
  const results = await Promise.all(
    ids.map(async (id) => {
      const qemu = await QemuInstance.attach({
        vmId: id,
        files: stateDir.files(id),
        auxiliaryMonitor: true,
        logger,
      });
      if (!qemu) return false;
      try {
        const status = await qemu.queryStatus().catch(() => null);
        if (status?.status === 'paused') {
          await (await qemu.qmp()).execute('cont').catch(() => undefined);
        }
        const off = await qemu.powerdown(timeoutMs).catch(() => false);
        if (!off) {
          logger.warn({ vmId: id }, 'guest did not power off in time; quitting QEMU');
          await qemu.quit();
        }
        await stateDir.writeExit(id, {
          state: 'stopped',
          reason: null,
          at: new Date().toISOString(),
        });
        logger.info({ vmId: id, graceful: off }, 'VM stopped');
      } catch (error) {
        logger.error({ vmId: id, error: String(error) }, 'could not stop VM');
        await qemu.kill().catch(() => undefined);
      }
      return true;
    }),
  );
  // With its VMs down, the host network's dnsmasq and taps go too (the bridge stays).
  // Extra NICs (ADR 23) have taps of their own, keyed by VM id and NIC name.
  const nicKeys = await Promise.all(
    ids.map(async (id) =>
      ((await stateDir.readSpec(id).catch(() => null))?.hardware?.nics ?? []).map((nic) =>
        extraNicKey(id, nic.name),
      ),
    ),
  );
  await stopHostNetwork(
    join(agentPaths(options.dataDir).agentDir, 'network'),
    [...ids, ...nicKeys.flat()],
    logger,
  );
  return results.filter(Boolean).length;
}
