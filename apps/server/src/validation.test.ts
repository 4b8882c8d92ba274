import { AgentVmStatus, VmListQuery } from '@novacron/api';
import type { TSchema } from 'typebox';
import { describe, expect, it } from 'vitest';
import { validatorCompiler } from './validation.js';

function validator(schema: TSchema, httpPart: string) {
  const compiled = validatorCompiler({
    schema,
    httpPart,
    method: 'GET',
    url: '/',
  });
  return (value: unknown) => compiled(value) as { value?: unknown; error?: unknown };
}

describe('request validation', () => {
  it('keeps a body as sent: null stays null, a number is not a string', () => {
    const body = validator(AgentVmStatus, 'body');
    const status = { id: 'a', state: 'stopped', pid: null, reason: null };
    expect(body(status)).toEqual({ value: status });
    expect(body({ ...status, pid: '42' }).error).toBeDefined();
  });

  it('converts query text only when it is exactly the value', () => {
    const query = validator(VmListQuery, 'querystring');
    expect(query({ limit: '5' })).toEqual({ value: { limit: 5 } });
    for (const bad of ['1.5', '5abc', '1e1', '']) {
      expect(query({ limit: bad }).error, bad).toBeDefined();
    }
  });
});
