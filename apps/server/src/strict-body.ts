import { DomainError } from '@novacron/domain';
import type { FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import type { ServerApp } from './deps.js';

const validators = new WeakMap<object, Validator>();

/**
 * Checks each JSON body against its route's schema exactly as sent, before Fastify's own
 * validation. That one coerces types, which query strings need (`?limit=5`) and JSON bodies must
 * not get: `{"cordoned": 1}` would pass as true and `{"labels": {"a": 1}}` be stored as "1".
 */
export function strictBodies(app: ServerApp): void {
  app.addHook('preValidation', (request, _reply, done) => {
    const error = bodyError(request);
    if (error === undefined) done();
    else done(error);
  });
}

function bodyError(request: FastifyRequest): DomainError | undefined {
  const schema: unknown = request.routeOptions.schema?.body;
  if (typeof schema !== 'object' || schema === null) return undefined;
  let validator = validators.get(schema);
  if (validator === undefined) {
    validator = Compile(schema as TSchema);
    validators.set(schema, validator);
  }
  if (validator.Check(request.body)) return undefined;
  const issues = validator.Errors(request.body).slice(0, 10);
  const first = issues[0];
  return new DomainError(
    'VALIDATION_FAILED',
    first === undefined ? 'body is invalid' : `body${first.instancePath} ${first.message}`,
    {
      context: 'body',
      issues: issues.map((issue) => ({
        path: issue.instancePath,
        message: issue.message,
        params: issue.params,
      })),
    },
  );
}
