import type { ServerDeps } from '../../deps.js';
import { HardwareService } from '../../services/hardware.js';

/**
 * The resize and hotplug service: the composition root's, or one over the same deps (tests),
 * made at the first request so that registering a route touches no service.
 */
export function hardwareService(deps: ServerDeps): () => HardwareService {
  let service: HardwareService | undefined;
  return () =>
    (service ??=
      deps.hardware ?? new HardwareService(deps.store, deps.hosts, deps.operations, deps.vms));
}
