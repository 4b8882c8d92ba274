import type { ServerDeps } from '../../deps.js';
import { SnapshotService } from '../../services/snapshots.js';

const made = new WeakMap<ServerDeps, SnapshotService>();

/** The snapshot service of these deps: the composition root's, or one made over the same parts. */
export function snapshotsOf(deps: ServerDeps): SnapshotService {
  if (deps.snapshots !== undefined) return deps.snapshots;
  let service = made.get(deps);
  if (service === undefined) {
    service = new SnapshotService(deps.store, deps.hosts, deps.operations, deps.vms);
    made.set(deps, service);
  }
  return service;
}
