import type { LoginResponse, TotpEnrolment, TotpStatus } from '@novacron/api';
import { hashPassword, totpCodeAt } from '@novacron/auth';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../../testing.js';

// The TOTP second factor through the API: enrol, verify, the two-step login, replayed codes,
// codes from the wrong window, recovery codes, and a factor an admin requires.

// Mid-step, so that "one step either side" is exact; only Date is faked, timers run.
const T0 = Date.UTC(2026, 0, 1, 12, 0, 10);
const STEP_MS = 30_000;

let server: TestServer;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  server = await startTestServer();
  await server.store.users.create({
    username: 'dev',
    passwordHash: await hashPassword('dev-password'),
    role: 'admin',
  });
});

afterEach(async () => {
  await server.close();
  vi.useRealTimers();
});

const codeAt = (secret: string, steps: number) =>
  totpCodeAt(secret, new Date(Date.now() + steps * STEP_MS));

function post(url: string, payload: Record<string, unknown>, authorization?: string) {
  return server.app.inject({
    method: 'POST',
    url,
    payload,
    ...(authorization === undefined ? {} : { headers: { authorization } }),
  });
}

async function loginAs(username: string, password: string): Promise<string> {
  const response = await post('/api/v1/auth/login', { username, password });
  expect(response.statusCode).toBe(200);
  return `Bearer ${response.json<LoginResponse>().accessToken}`;
}

async function enrol(authorization: string): Promise<TotpEnrolment> {
  const response = await post('/api/v1/auth/totp/enrol', {}, authorization);
  expect(response.statusCode).toBe(200);
  return response.json<TotpEnrolment>();
}

describe('TOTP second factor', () => {
  it('enrols, verifies, then makes login a two-step affair', async () => {
    const dev = await loginAs('dev', 'dev-password');
    const enrolment = await enrol(dev);
    expect(enrolment.uri).toBe(
      `otpauth://totp/NovaCron:dev?issuer=NovaCron&secret=${enrolment.secret}&algorithm=SHA1&digits=6&period=30`,
    );
    expect(enrolment.qrCode).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(enrolment.recoveryCodes).toHaveLength(10);

    // Not active until verified: logins still need only the password.
    await loginAs('dev', 'dev-password');
    const wrong = await post('/api/v1/auth/totp/verify', { code: '000000' }, dev);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { code: 'INVALID_SECOND_FACTOR' } });
    const verified = await post(
      '/api/v1/auth/totp/verify',
      { code: await codeAt(enrolment.secret, 0) },
      dev,
    );
    expect(verified.statusCode).toBe(200);
    expect(verified.json<TotpStatus>()).toEqual({
      enabled: true,
      pending: false,
      required: false,
      requiredForEveryone: false,
      recoveryCodesLeft: 10,
    });
    // The secret is never shown again: a second enrolment is refused while one is active.
    const again = await post('/api/v1/auth/totp/enrol', {}, dev);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'SECOND_FACTOR_CONFLICT' } });

    const first = await post('/api/v1/auth/login', { username: 'dev', password: 'dev-password' });
    expect(first.statusCode).toBe(401);
    const { error } = first.json<{
      error: { code: string; details: { challenge: string; enrol: boolean; expiresAt: string } };
    }>();
    expect(error.code).toBe('SECOND_FACTOR_REQUIRED');
    expect(error.details.enrol).toBe(false);
    expect(error.details.expiresAt).toBe(new Date(T0 + 300_000).toISOString());
    expect(JSON.stringify(first.json())).not.toContain(enrolment.secret);

    const next = await codeAt(enrolment.secret, 1);
    const second = await post('/api/v1/auth/login/second-factor', {
      challenge: error.details.challenge,
      code: next,
    });
    expect(second.statusCode).toBe(200);
    const tokens = second.json<LoginResponse>();
    const me = await server.app.inject({
      method: 'GET',
      url: '/api/v1/auth/totp',
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    expect(me.json<TotpStatus>().enabled).toBe(true);

    // The same code again (same time step): refused, with the challenge or in the login body.
    for (const replay of [
      post('/api/v1/auth/login/second-factor', { challenge: error.details.challenge, code: next }),
      post('/api/v1/auth/login', { username: 'dev', password: 'dev-password', totpCode: next }),
    ]) {
      const refused = await replay;
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ error: { code: 'INVALID_SECOND_FACTOR' } });
    }
    // A code of a step outside the window (a minute and a half ahead, or behind): refused.
    for (const steps of [3, -3]) {
      const outside = await post('/api/v1/auth/login', {
        username: 'dev',
        password: 'dev-password',
        totpCode: await codeAt(enrolment.secret, steps),
      });
      expect(outside.statusCode).toBe(401);
      expect(outside.json()).toMatchObject({ error: { code: 'INVALID_SECOND_FACTOR' } });
    }
    // A minute later, the code of the step after is good in the login body.
    vi.setSystemTime(T0 + 2 * STEP_MS);
    const oneShot = await post('/api/v1/auth/login', {
      username: 'dev',
      password: 'dev-password',
      totpCode: await codeAt(enrolment.secret, 0),
    });
    expect(oneShot.statusCode).toBe(200);
  });

  it('takes each recovery code once, and needs a code to turn the factor off', async () => {
    const dev = await loginAs('dev', 'dev-password');
    const { secret, recoveryCodes } = await enrol(dev);
    await post('/api/v1/auth/totp/verify', { code: await codeAt(secret, 0) }, dev);
    const recovery = recoveryCodes[3] ?? '';

    const withRecovery = { username: 'dev', password: 'dev-password', recoveryCode: recovery };
    expect((await post('/api/v1/auth/login', withRecovery)).statusCode).toBe(200);
    const reused = await post('/api/v1/auth/login', withRecovery);
    expect(reused.statusCode).toBe(401);
    expect(reused.json()).toMatchObject({ error: { code: 'INVALID_SECOND_FACTOR' } });
    // Case and dashes do not matter.
    const upper = (recoveryCodes[4] ?? '').toUpperCase().replace('-', '');
    const login = await post('/api/v1/auth/login', { ...withRecovery, recoveryCode: upper });
    expect(login.statusCode).toBe(200);
    const session = `Bearer ${login.json<LoginResponse>().accessToken}`;

    const noCode = await post('/api/v1/auth/totp/disable', {}, session);
    expect(noCode.statusCode).toBe(401);
    expect(noCode.json()).toMatchObject({ error: { code: 'INVALID_SECOND_FACTOR' } });
    const off = await post('/api/v1/auth/totp/disable', { code: await codeAt(secret, 1) }, session);
    expect(off.statusCode).toBe(200);
    expect(off.json<TotpStatus>()).toMatchObject({ enabled: false, recoveryCodesLeft: 0 });
    await loginAs('dev', 'dev-password');
  });

  it('asks a user an admin requires a factor of to enrol during the login', async () => {
    const required = await server.app.inject({
      method: 'PUT',
      url: '/api/v1/users/dev/totp-required',
      headers: server.auth,
      payload: { required: true },
    });
    expect(required.statusCode).toBe(200);

    const first = await post('/api/v1/auth/login', { username: 'dev', password: 'dev-password' });
    expect(first.statusCode).toBe(401);
    const { details } = first.json<{ error: { details: { challenge: string; enrol: boolean } } }>()
      .error;
    expect(details.enrol).toBe(true);

    const enrolment = await post('/api/v1/auth/login/totp-enrol', {
      challenge: details.challenge,
    });
    expect(enrolment.statusCode).toBe(200);
    const { secret } = enrolment.json<TotpEnrolment>();
    const wrong = await post('/api/v1/auth/login/second-factor', {
      challenge: details.challenge,
      code: await codeAt(secret, -2),
    });
    expect(wrong.statusCode).toBe(401);
    const done = await post('/api/v1/auth/login/second-factor', {
      challenge: details.challenge,
      code: await codeAt(secret, 0),
    });
    expect(done.statusCode).toBe(200);

    // A challenge is not a token, and a forged or expired challenge is refused.
    const asToken = await server.app.inject({
      method: 'GET',
      url: '/api/v1/auth/totp',
      headers: { authorization: `Bearer ${details.challenge}` },
    });
    expect(asToken.statusCode).toBe(401);
    vi.setSystemTime(T0 + 301_000);
    const expired = await post('/api/v1/auth/login/second-factor', {
      challenge: details.challenge,
      code: await codeAt(secret, 0),
    });
    expect(expired.statusCode).toBe(401);
    expect(expired.json()).toMatchObject({ error: { code: 'INVALID_SECOND_FACTOR' } });
  });
});
