import { Vm } from '@novacron/api';
import type { FastifyReply } from 'fastify';
import type { VmCache } from '../../vm-cache.js';

/** One schema object, so Fastify compiles its serializer once. */
const VM_SCHEMA = Vm as unknown as Record<string, unknown>;

/**
 * `vm` as the Vm response schema writes it (fast-json-stringify, as for any response), kept with
 * the cache's entry when the cache holds this VM: each cached VM is serialized once.
 */
export function vmJson(reply: FastifyReply, cache: VmCache, vm: Vm): string {
  const serialize = reply.compileSerializationSchema(VM_SCHEMA) as (vm: Vm) => string;
  return cache.jsonOf(vm, serialize);
}

/** Sends JSON text as it is: it was written by the route's response schema already. */
export function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
