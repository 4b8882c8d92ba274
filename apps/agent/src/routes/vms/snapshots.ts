import {
  AgentCloneReply,
  AgentCloneRequest,
  AgentSnapshot,
  AgentSnapshotCreate,
  AgentSnapshotList,
  AgentSnapshotParams,
  IdOrNameParams,
} from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';
import { DiskSnapshots } from '../../snapshots.js';

/**
 * Snapshots of a VM's disk (list, take, revert, delete) and the disk of a clone made from it
 * (docs/adr/0022-snapshots-clones-templates.md). Each runs in the VM's action queue.
 */
export function registerVmSnapshots(app: AgentFastify, deps: AgentAppDeps): void {
  const snapshots = new DiskSnapshots(deps.vms, deps.logger);
  app.get(
    '/v1/vms/:id/snapshots',
    { schema: { params: IdOrNameParams, response: { 200: AgentSnapshotList } } },
    (request) => snapshots.list(request.params.id),
  );
  app.post(
    '/v1/vms/:id/snapshots',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentSnapshotCreate,
        response: { 200: AgentSnapshot },
      },
    },
    (request) => snapshots.create(request.params.id, request.body),
  );
  app.post(
    '/v1/vms/:id/snapshots/:snapshot/revert',
    { schema: { params: AgentSnapshotParams, response: { 200: AgentSnapshot } } },
    (request) => snapshots.revert(request.params.id, request.params.snapshot),
  );
  app.delete(
    '/v1/vms/:id/snapshots/:snapshot',
    { schema: { params: AgentSnapshotParams } },
    async (request, reply) => {
      await snapshots.delete(request.params.id, request.params.snapshot);
      return reply.code(204).send();
    },
  );
  app.post(
    '/v1/vms/:id/clone',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentCloneRequest,
        response: { 200: AgentCloneReply },
      },
    },
    (request) => snapshots.clone(request.params.id, request.body),
  );
}
