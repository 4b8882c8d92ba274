import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, stat, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isNovaCronError, NovaCronClient } from '@novacron/client';
import {
  CommandRunner,
  freePort,
  killMatching,
  makeTempDir,
  repoRoot,
  stopCommand,
  testCacheDir,
  waitForOutput,
  type RunningCommand,
} from '@novacron/testkit';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The dashboard's admin side in headless Debian Chromium (playwright-core, never a downloaded
// browser) against `novacron up` with one agent: users, projects and quotas, API tokens, the
// audit log of those changes, 2FA enrolment, images uploaded and imported by URL from a local
// HTTP server, the operations list following and cancelling an import, and one tiny VM created
// with cloud-init data and snapshotted from its page. Screenshots of every page go to
// reports/screenshots/.

const PASSWORD = 'admin-e2e-pass';
const SHOTS = join(repoRoot, 'reports/screenshots');
const SLOW_BYTES = 512 * 1024 * 1024;
const USER_DATA = '#cloud-config\nhostname: snap-e2e\n';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let cli: CommandRunner;
let up: RunningCommand | undefined;
let baseUrl: string;
let files: Server;
let filesUrl: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function shot(name: string, target: Page = page): Promise<void> {
  await target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function adminClient(): Promise<NovaCronClient> {
  const { accessToken } = await new NovaCronClient({ baseUrl }).login('admin', PASSWORD);
  return new NovaCronClient({ baseUrl, token: accessToken });
}

/** Serves a small qcow2 at /disk.qcow2 and, at /slow.qcow2, a large body trickled slowly. */
async function serveFiles(folder: string): Promise<void> {
  const disk = join(folder, 'disk.qcow2');
  await promisify(execFile)('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '32M']);
  const { size } = await stat(disk);
  files = createServer((request, response) => {
    if (request.url === '/disk.qcow2') {
      response.writeHead(200, { 'content-length': String(size) });
      createReadStream(disk).pipe(response);
      return;
    }
    if (request.url === '/slow.qcow2') {
      response.writeHead(200, { 'content-length': String(SLOW_BYTES) });
      // 4 MiB/s: about two minutes for the whole, cancelled long before.
      const chunk = Buffer.alloc(1024 * 1024);
      const timer = setInterval(() => response.write(chunk), 250);
      response.on('close', () => clearInterval(timer));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  dir = await makeTempDir();
  const dataDir = join(dir.path, 'data');
  await mkdir(dataDir, { recursive: true });
  await mkdir(SHOTS, { recursive: true });
  await symlink(join(testCacheDir, 'tiny-image'), join(dataDir, 'cache'));
  await serveFiles(dir.path);
  cli = new CommandRunner(join(repoRoot, 'apps/cli/bin/novacron.js'), {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir.path,
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    NOVACRON_DATA_DIR: dataDir,
    NOVACRON_API_PORT: String(await freePort()),
    NOVACRON_AGENT_PORT: String(await freePort()),
    NOVACRON_CLUSTER_PORT: String(await freePort()),
    NOVACRON_WS_PORT: String(await freePort()),
    NOVACRON_ACCEL: 'tcg',
    NOVACRON_ADMIN_PASSWORD: PASSWORD,
    NOVACRON_LOG_LEVEL: 'warn',
  });
  up = cli.start(['up']);
  await waitForOutput(up, 'NovaCron is up', 240_000);
  const url = /API (http:\/\/\S+),/.exec(up.stderr)?.[1];
  if (url === undefined) throw new Error(`no API address in: ${up.stderr}`);
  baseUrl = url;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
}, 300_000);

afterAll(async () => {
  await browser?.close();
  files?.close();
  if (up !== undefined) await stopCommand(up, 'SIGTERM');
  if (dir !== undefined) {
    await killMatching(dir.path);
    await dir.remove();
  }
});

describe('the dashboard for admins', () => {
  it('logs in', async () => {
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.locator('[data-live-status="live"]').waitFor();
  });

  it('creates a project with quotas and shows its usage, then changes a quota', async () => {
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Admin' })
      .click();
    await page.getByRole('heading', { name: 'Admin' }).waitFor();
    await page.getByRole('tab', { name: 'Projects' }).click();
    await page.getByRole('button', { name: 'Create project' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create a project' });
    await dialog.getByLabel('Project name').fill('team-e2e');
    await dialog.getByLabel('Max VMs').fill('3');
    await dialog.getByLabel('Max vCPUs').fill('4');
    await dialog.getByRole('button', { name: 'Create project' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const card = page.locator('[data-project="team-e2e"]');
    await expect.poll(() => card.locator('[data-quota="maxVms"]').textContent()).toBe('0 of 3');
    expect(await card.locator('[data-quota="maxMemoryMiB"]').textContent()).toBe(
      '0 MiB · no limit',
    );
    await page.getByRole('button', { name: 'Edit the quotas of team-e2e' }).click();
    const quotas = page.getByRole('dialog', { name: 'Quotas of team-e2e' });
    await quotas.getByLabel('Max memory (MiB)').fill('2048');
    await quotas.getByLabel('Max VMs').fill('');
    await quotas.getByRole('button', { name: 'Save quotas' }).click();
    await quotas.waitFor({ state: 'hidden' });
    await expect
      .poll(() => card.locator('[data-quota="maxMemoryMiB"]').textContent())
      .toBe('0 MiB of 2 GiB');
    expect(await card.locator('[data-quota="maxVms"]').textContent()).toBe('0 · no limit');
    expect((await (await adminClient()).projects.get('team-e2e')).quotas).toEqual({
      maxVms: null,
      maxVcpus: 4,
      maxMemoryMiB: 2048,
      maxDiskGiB: null,
    });
    await shot('admin-projects');
  });

  it('creates a user with a role in the project; the API refusal of a duplicate shows', async () => {
    await page.getByRole('tab', { name: 'Users' }).click();
    const create = async (username: string) => {
      await page.getByRole('button', { name: 'Create user' }).click();
      const dialog = page.getByRole('dialog', { name: 'Create a user' });
      await dialog.getByLabel('Username').fill(username);
      await dialog.getByLabel('Initial password').fill('alice-password-1');
      await dialog.getByLabel('Role').selectOption('operator');
      await dialog.getByLabel('In project').selectOption('team-e2e');
      await dialog.getByRole('button', { name: 'Create user' }).click();
      return dialog;
    };
    const first = await create('alice');
    await first.waitFor({ state: 'hidden' });
    const users = page.getByRole('table', { name: 'Users' });
    await users.getByText('operator in team-e2e').waitFor();
    const again = await create('alice');
    await expect
      .poll(() => again.getByRole('alert').textContent())
      .toMatch(/The user was not created.*alice/);
    await shot('admin-user-refused');
    await page.keyboard.press('Escape');
    await again.waitFor({ state: 'hidden' });
    // The password reset, as the API allows it; alice logs in with the new one.
    await page.getByRole('button', { name: 'Reset the password of alice' }).click();
    const reset = page.getByRole('dialog', { name: 'Reset the password of alice' });
    await reset.getByLabel('New password').fill('alice-password-2');
    await reset.getByRole('button', { name: 'Set password' }).click();
    await reset.getByRole('status').waitFor();
    await reset.getByRole('button', { name: 'Done' }).click();
    await new NovaCronClient({ baseUrl }).login('alice', 'alice-password-2');
    // Her roles after creation: one given in another project, one changed, then the new one
    // taken away again; each shows in the dialog as the API answers.
    await page.getByRole('button', { name: 'Roles of alice' }).click();
    const roles = page.getByRole('dialog', { name: 'Roles of alice' });
    await roles.getByLabel('Project').selectOption('default');
    await roles.getByLabel('Role', { exact: true }).selectOption('viewer');
    await roles.getByRole('button', { name: 'Grant role' }).click();
    await expect
      .poll(() => roles.getByLabel('Role in default', { exact: true }).inputValue())
      .toBe('viewer');
    await roles.getByLabel('Role in team-e2e', { exact: true }).selectOption('viewer');
    // The select shows the role the users list holds: it turns once the API answered.
    await expect
      .poll(() => roles.getByLabel('Role in team-e2e', { exact: true }).inputValue())
      .toBe('viewer');
    await shot('admin-user-roles');
    await roles.getByRole('button', { name: 'Remove the role in default' }).click();
    await roles.getByLabel('Role in default', { exact: true }).waitFor({ state: 'detached' });
    expect(
      (await (await adminClient()).users.list()).items.find((u) => u.username === 'alice')
        ?.bindings,
    ).toEqual([{ project: 'team-e2e', role: 'viewer' }]);
    await roles.getByRole('button', { name: 'Done' }).click();
    await roles.waitFor({ state: 'hidden' });
    await users.getByText('viewer in team-e2e').waitFor();
    await shot('admin-users');
  });

  it('creates an API token shown once, which works until it is revoked', async () => {
    await page.getByRole('tab', { name: 'API tokens' }).click();
    await page.getByText('No API tokens').waitFor();
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an API token' });
    await dialog.getByLabel('Token name').fill('ci-deploy');
    await dialog.getByLabel('Project').selectOption('team-e2e');
    await dialog.getByLabel('Token role').selectOption('viewer');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'Token ci-deploy created' });
    const secret = await shown.getByTestId('token-secret').inputValue();
    expect(secret.length).toBeGreaterThan(20);
    await shot('admin-token-created');
    const withToken = new NovaCronClient({ baseUrl, token: secret });
    expect((await withToken.vms.list()).items).toEqual([]);
    await shown.getByRole('button', { name: 'Done' }).click();
    const tokens = page.getByRole('table', { name: 'API tokens' });
    await tokens.getByText('viewer in team-e2e').waitFor();
    // Shown once: nothing on the page holds the secret any more.
    expect(await page.content()).not.toContain(secret);
    await page.getByRole('button', { name: 'Revoke token ci-deploy' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke token ci-deploy?' });
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await tokens.locator('[data-token-state="revoked"]').waitFor();
    const refused = await withToken.vms.list().then(
      () => undefined,
      (error: unknown) => (isNovaCronError(error) ? error.code : String(error)),
    );
    expect(refused).toBe('UNAUTHENTICATED');
    await shot('admin-tokens');
  });

  it('shows those actions in the audit log, filtered by action and user', async () => {
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Audit log' })
      .click();
    const log = page.getByRole('table', { name: 'Audit log' });
    for (const action of [
      'project.manage',
      'user.manage',
      'user.password',
      'token.create',
      'token.revoke',
    ]) {
      await log.getByText(action, { exact: true }).first().waitFor();
    }
    // The refused duplicate is there with its error code.
    await log.getByText('USER_NAME_TAKEN').first().waitFor();
    await shot('audit');
    await page.getByLabel('Action').fill('token.revoke');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => log.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Action').fill('');
    await page.getByLabel('User').fill('alice');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    // alice's own login above, and nothing of the admin's.
    await log.getByText('auth.login', { exact: true }).first().waitFor();
    expect(await log.getByText('token.create').count()).toBe(0);
    await shot('audit-filtered');
    // A time window with nothing in it: the empty state says what to do.
    await page.getByLabel('User').fill('');
    await page.getByLabel('Until').fill('2000-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No entry matches these filters').waitFor();
    await page.getByRole('button', { name: 'Clear the filters' }).click();
    await log.getByText('token.revoke').first().waitFor();
  });

  it('enrols a second factor in Settings, verifies a code, and turns it off with a recovery code', async () => {
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Settings' })
      .click();
    await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    const secret = await page.getByTestId('totp-secret').textContent();
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    await page.getByRole('img', { name: /QR code/ }).waitFor();
    const recovery = await page.getByTestId('recovery-codes').locator('li').allTextContents();
    expect(recovery.length).toBeGreaterThan(0);
    await shot('settings-2fa-enrol');
    // A wrong code: the API's refusal, shown.
    await page.getByLabel('Code from the app').fill('000000');
    await page.getByRole('button', { name: 'Verify and turn on' }).click();
    await page.getByRole('alert').filter({ hasText: 'The code was not accepted' }).waitFor();
    const totp = new TOTP({ secret: Secret.fromBase32(secret ?? '') });
    await page.getByLabel('Code from the app').fill(totp.generate());
    await page.getByRole('button', { name: 'Verify and turn on' }).click();
    await page.getByText('The second factor is on').waitFor();
    await page.getByRole('button', { name: 'I saved the recovery codes' }).click();
    await page.locator('[data-testid="totp"][data-enabled="true"]').waitFor();
    // A password alone no longer logs the admin in.
    const refused = await new NovaCronClient({ baseUrl }).login('admin', PASSWORD).then(
      () => undefined,
      (error: unknown) => (isNovaCronError(error) ? error.code : String(error)),
    );
    expect(refused).toBe('SECOND_FACTOR_REQUIRED');
    await shot('settings-2fa-on');
    await page.getByLabel('I lost the app: use a recovery code').check();
    await page.getByLabel('Recovery code', { exact: true }).fill(recovery[0] ?? '');
    await page.getByRole('button', { name: 'Turn off' }).click();
    await page.locator('[data-testid="totp"][data-enabled="false"]').waitFor();
    await shot('settings');
  });

  it('imports an image by URL with its progress, lists it, deletes it', async () => {
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Images' })
      .click();
    const images = page.getByRole('table', { name: 'Images' });
    await images.getByText('tiny').waitFor();
    await page.getByRole('button', { name: 'Import image' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import an image' });
    await dialog.getByRole('radio', { name: 'A disk image by URL' }).check();
    await dialog.getByLabel('Name').fill('disk-e2e');
    await dialog.getByLabel('Disk image URL').fill(`${filesUrl}/disk.qcow2`);
    await dialog.getByRole('button', { name: 'Import' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const progress = page.locator('[data-operation]').first();
    await expect
      .poll(() => progress.getAttribute('data-status'), { timeout: 120_000 })
      .toBe('succeeded');
    const row = images.locator('tr', { hasText: 'disk-e2e' });
    await row.locator('[data-state="ready"]').waitFor({ timeout: 30_000 });
    await shot('images');
    await page.getByRole('button', { name: 'Delete image disk-e2e' }).click();
    await page
      .getByRole('dialog', { name: 'Delete image disk-e2e?' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await row.waitFor({ state: 'detached' });
  });

  it('uploads an image file from the browser; a file that is no image is refused with its reason', async () => {
    await page.getByRole('button', { name: 'Import image' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import an image' });
    await dialog.getByRole('radio', { name: 'A file from this computer' }).check();
    await dialog.getByLabel('Image file').setInputFiles({
      name: 'notes.qcow2',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('not a disk image\n'.repeat(64)),
    });
    expect(await dialog.getByLabel('Name').inputValue()).toBe('notes');
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'The upload was refused' }).waitFor();
    await shot('images-upload-refused');
    await dialog.getByLabel('Image file').setInputFiles(join(dir.path, 'disk.qcow2'));
    await dialog.getByLabel('Name').fill('uploaded-e2e');
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const images = page.getByRole('table', { name: 'Images' });
    await images
      .locator('tr', { hasText: 'uploaded-e2e' })
      .locator('[data-state="ready"]')
      .waitFor({ timeout: 120_000 });
  });

  it('follows an import in Operations, cancels it there, and opens its detail', async () => {
    const op = await (
      await adminClient()
    ).images.import({
      name: 'slow-e2e',
      url: `${filesUrl}/slow.qcow2`,
    });
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Operations' })
      .click();
    const table = page.getByRole('table', { name: 'Operations' });
    await page.getByLabel('Kind').selectOption('image.import');
    await table.getByText('slow-e2e').waitFor();
    // The download's progress comes by operation.updated events.
    const bar = table.getByRole('progressbar', { name: 'image.import of slow-e2e' });
    await expect
      .poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 60_000 })
      .toBeGreaterThan(0);
    await shot('operations');
    await page.getByRole('button', { name: 'Cancel image.import of slow-e2e' }).click();
    const row = table.locator('tr', { hasText: 'slow-e2e' });
    await row.locator('[data-state="cancelled"]').waitFor({ timeout: 60_000 });
    await page.getByLabel('Status').selectOption('cancelled');
    await page.getByLabel('Target').fill('slow-e2e');
    await page.getByLabel('Target').press('Enter');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    await table.getByText('slow-e2e').waitFor();
    await table.getByRole('link', { name: 'image.import' }).first().click();
    await page.waitForURL(/\/operations\/view\?id=/);
    expect(page.url()).toContain(op.id);
    await page.locator('[data-testid="operation-status"][data-status="cancelled"]').waitFor();
    await shot('operation-detail');
  });

  it('creates a VM with cloud-init data from the wizard, and takes and deletes a snapshot on its page', async () => {
    // An OpenSSH ed25519 public key: its type, then the key blob (type and 32 key bytes) in base64.
    const blob = Buffer.concat([
      Buffer.from([0, 0, 0, 11]),
      Buffer.from('ssh-ed25519'),
      Buffer.from([0, 0, 0, 32]),
      Buffer.alloc(32, 7),
    ]);
    const key = `ssh-ed25519 ${blob.toString('base64')} e2e@dashboard`;
    await page.goto(`${baseUrl}/vms/new`);
    await page.getByRole('radio', { name: /tiny/ }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Name').fill('snap-e2e');
    await page.getByLabel('Memory (MiB)').fill('256');
    await page.getByText('cloud-init: user data and SSH keys (optional)').click();
    await page.getByLabel('SSH public keys').fill('not a key');
    await page.getByLabel('User data').fill(USER_DATA);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Create' }).click();
    // The server's check of the key, with the field it names.
    await page.getByRole('alert').filter({ hasText: 'not an OpenSSH public key' }).waitFor();
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByLabel('SSH public keys').fill(key);
    await shot('create-vm-cloud-init');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/vms\/view\?id=/, { timeout: 120_000 });
    const id = new URL(page.url()).searchParams.get('id') ?? '';
    // What the VM keeps of it (the API never shows the user data itself).
    const { accessToken } = await new NovaCronClient({ baseUrl }).login('admin', PASSWORD);
    const summary = (await (
      await fetch(`${baseUrl}/api/v1/vms/${id}/cloud-init`, {
        headers: { authorization: `Bearer ${accessToken}` },
      })
    ).json()) as unknown;
    expect(summary).toMatchObject({ sshKeys: 1, userDataBytes: Buffer.byteLength(USER_DATA) });
    await page.getByRole('tab', { name: 'Snapshots' }).click();
    await page.getByText('No snapshots yet').waitFor();
    await page.getByLabel('Snapshot name').fill('before-upgrade');
    await page.getByLabel('Description').fill('taken by the dashboard test');
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    const progress = page.locator('[data-operation]').last();
    await expect
      .poll(() => progress.getAttribute('data-status'), { timeout: 120_000 })
      .toBe('succeeded');
    const table = page.getByRole('table', { name: 'Snapshots' });
    await table.getByText('before-upgrade').waitFor();
    await shot('vm-snapshots');
    await page.getByRole('button', { name: 'Delete snapshot before-upgrade' }).click();
    await page
      .getByRole('dialog', { name: 'Delete snapshot before-upgrade?' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await page.getByText('No snapshots yet').waitFor({ timeout: 120_000 });
  });

  it('has these pages in the dark theme and at phone width', async () => {
    await page.getByRole('button', { name: 'Use the dark theme' }).click();
    await page.goto(`${baseUrl}/operations`);
    await page.getByRole('table', { name: 'Operations' }).waitFor();
    await page.locator('[data-live-status="live"]').waitFor();
    await shot('operations-dark');
    await page.goto(`${baseUrl}/admin`);
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await page.locator('[data-live-status="live"]').waitFor();
    await shot('admin-dark');
    await page.goto(`${baseUrl}/audit`);
    await page.getByRole('table', { name: 'Audit log' }).waitFor();
    await page.locator('[data-live-status="live"]').waitFor();
    await shot('audit-dark');
    await page.getByRole('button', { name: 'Use the light theme' }).click();
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    phone.on('pageerror', (error) => pageErrors.push(error.message));
    await phone.goto(`${baseUrl}/login?next=%2Fadmin`);
    await phone.getByLabel('Username').fill('admin');
    await phone.getByLabel('Password').fill(PASSWORD);
    await phone.getByRole('button', { name: 'Log in' }).click();
    await phone.getByRole('table', { name: 'Users' }).waitFor();
    await shot('phone-admin', phone);
    await phone.goto(`${baseUrl}/images`);
    await phone.getByRole('table', { name: 'Images' }).waitFor();
    await shot('phone-images', phone);
    await phone.close();
    expect(pageErrors).toEqual([]);
  });
});
