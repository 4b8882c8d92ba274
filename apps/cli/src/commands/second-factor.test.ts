import type { LoginResponse, TotpEnrolment } from '@novacron/api';
import { NovaCronApiError } from '@novacron/client';
import { loadConfig } from '@novacron/config';
import { describe, expect, it, vi } from 'vitest';
import type { CliClient, CliDeps } from '../context.js';
import type { CredentialStore, StoredCredentials } from '../credentials.js';
import { run } from '../main.js';

// `novacron login` with a second factor and `novacron 2fa`, over a fake of the client.

const SERVER = 'http://127.0.0.1:8090';
const TOKENS: LoginResponse = { accessToken: 'access', refreshToken: 'refresh', expiresAt: 'soon' };
const ENROLMENT: TotpEnrolment = {
  secret: 'JBSWY3DPEHPK3PXP',
  uri: 'otpauth://totp/NovaCron:ops?secret=JBSWY3DPEHPK3PXP',
  qrCode: 'data:image/svg+xml;base64,',
  recoveryCodes: ['aaaaa-bbbbb', 'ccccc-ddddd'],
};

const required = (enrol: boolean) =>
  new NovaCronApiError(401, 'SECOND_FACTOR_REQUIRED', 'second factor', {
    challenge: 'the-challenge',
    enrol,
  });

function fakeClient(enrol: boolean) {
  return {
    login: vi.fn((_u: string, _p: string, factor?: { totpCode?: string }) =>
      factor?.totpCode === undefined ? Promise.reject(required(enrol)) : Promise.resolve(TOKENS),
    ),
    loginSecondFactor: vi.fn(() => Promise.resolve(TOKENS)),
    loginTotpEnrol: vi.fn(() => Promise.resolve(ENROLMENT)),
    totpEnrol: vi.fn(() => Promise.resolve(ENROLMENT)),
    totpVerify: vi.fn(() =>
      Promise.resolve({
        enabled: true,
        pending: false,
        required: false,
        requiredForEveryone: false,
        recoveryCodesLeft: 10,
      }),
    ),
  } as unknown as CliClient & {
    login: ReturnType<typeof vi.fn>;
    loginSecondFactor: ReturnType<typeof vi.fn>;
    totpVerify: ReturnType<typeof vi.fn>;
  };
}

async function cli(args: string[], client: CliClient, answers: string[]) {
  let stdout = '';
  let stderr = '';
  const saved = new Map<string, StoredCredentials>();
  const credentials: CredentialStore = {
    get: (url) => Promise.resolve(saved.get(url)),
    save: (url, value) => Promise.resolve(void saved.set(url, value)),
    remove: (url) => Promise.resolve(saved.delete(url)),
  };
  const readPassword = vi.fn(() => Promise.resolve(answers.shift() ?? ''));
  const deps: CliDeps = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    createClient: () => client,
    loadConfig: () => loadConfig({ NOVACRON_SERVER_URL: SERVER, NOVACRON_TOKEN: 't' }),
    credentials,
    readPassword,
  };
  const code = await run(['node', 'novacron', ...args], deps);
  return { code, stdout, stderr, saved, readPassword };
}

describe('login with a second factor', () => {
  it('prompts for the code after the password and finishes with the challenge', async () => {
    const client = fakeClient(false);
    const result = await cli(['login', '--username', 'ops'], client, ['pw', '123456']);
    expect(result.code).toBe(0);
    expect(result.readPassword).toHaveBeenCalledTimes(2);
    expect(client.loginSecondFactor).toHaveBeenCalledWith('the-challenge', { code: '123456' });
    expect(result.saved.size).toBe(1);
  });

  it('sends --totp-code with the password, and takes a recovery code at the prompt', async () => {
    const direct = fakeClient(false);
    const one = await cli(['login', '--username', 'ops', '--totp-code', '654321'], direct, ['pw']);
    expect(one.code).toBe(0);
    expect(direct.login).toHaveBeenCalledWith('ops', 'pw', { totpCode: '654321' });

    const recovery = fakeClient(false);
    await cli(['login', '--username', 'ops'], recovery, ['pw', 'aaaaa-bbbbb']);
    expect(recovery.loginSecondFactor).toHaveBeenCalledWith('the-challenge', {
      recoveryCode: 'aaaaa-bbbbb',
    });
  });

  it('enrols a user who must have a factor, showing the secret and recovery codes once', async () => {
    const client = fakeClient(true);
    const result = await cli(['login', '--username', 'ops'], client, ['pw', '111111']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(ENROLMENT.uri);
    expect(result.stderr).toContain('ccccc-ddddd');
    expect(client.loginSecondFactor).toHaveBeenCalledWith('the-challenge', { code: '111111' });
  });
});

describe('novacron 2fa enrol', () => {
  it('shows the enrolment and verifies the first code', async () => {
    const client = fakeClient(false);
    const result = await cli(['2fa', 'enrol', '--code', '222222'], client, []);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(ENROLMENT.secret);
    expect(client.totpVerify).toHaveBeenCalledWith('222222');
    expect(result.stdout).toMatch(/enabled:\s+yes/);
  });
});
