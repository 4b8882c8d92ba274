import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Vm } from '@novacron/api';
import { NovaCronClient } from '@novacron/client';
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
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

// The dashboard in headless Debian Chromium (playwright-core, never a downloaded browser) against
// `novacron up --hosts 2`: two agents in network namespaces, real QEMU guests under TCG. One VM
// goes through the whole life a user gives it in the browser: create, watch it run, read its
// serial console, migrate it, change it through the API and see the page follow, stop, delete.
// Screenshots of every page go to reports/screenshots/.

const PREFIX = 'ncw';
const SUBNET = '10.199.60.0/24';
const PASSWORD = 'dashboard-e2e';
const VM = 'web1';
const SHOTS = join(repoRoot, 'reports/screenshots');

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let cli: CommandRunner;
let up: RunningCommand | undefined;
let baseUrl: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

/** A screenshot of the whole page; of the viewport only while a dialog covers it. */
async function shot(name: string, target: Page = page, fullPage = true): Promise<void> {
  await target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/** The VM's state as the open page shows it. */
async function shownState(): Promise<string | null> {
  return page.locator('[data-testid="vm-state"] [data-state]').first().getAttribute('data-state');
}

async function apiClient(): Promise<NovaCronClient> {
  const anonymous = new NovaCronClient({ baseUrl });
  const { accessToken } = await anonymous.login('admin', PASSWORD);
  return new NovaCronClient({ baseUrl, token: accessToken });
}

beforeAll(async () => {
  dir = await makeTempDir();
  const dataDir = join(dir.path, 'data');
  await mkdir(dataDir, { recursive: true });
  await mkdir(SHOTS, { recursive: true });
  await symlink(join(testCacheDir, 'tiny-image'), join(dataDir, 'cache'));
  cli = new CommandRunner(join(repoRoot, 'apps/cli/bin/novacron.js'), {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir.path,
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    NOVACRON_DATA_DIR: dataDir,
    NOVACRON_API_PORT: String(await freePort()),
    NOVACRON_WS_PORT: String(await freePort()),
    NOVACRON_CLUSTER_PORT: String(await freePort()),
    NOVACRON_CLUSTER_SUBNET: SUBNET,
    NOVACRON_CLUSTER_PREFIX: PREFIX,
    NOVACRON_ACCEL: 'tcg',
    NOVACRON_ADMIN_PASSWORD: PASSWORD,
    NOVACRON_HEARTBEAT_INTERVAL_MS: '1000',
    NOVACRON_METRICS_INTERVAL_MS: '1000',
    NOVACRON_LOG_LEVEL: 'warn',
  });
  up = cli.start(['up', '--hosts', '2']);
  await waitForOutput(up, 'NovaCron is up', 180_000);
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

/** Waits until the chart has at least two samples (a CPU % needs two) and shows a latest value. */
async function chartFilled(title: string): Promise<void> {
  const chart = page.locator(`figure[data-chart="${title}"]`);
  await expect
    .poll(async () => Number(await chart.getAttribute('data-samples')), { timeout: 60_000 })
    .toBeGreaterThanOrEqual(2);
  await expect.poll(() => chart.getByTestId('chart-latest').textContent()).toMatch(/\d/);
}

afterEach(async (context) => {
  // What the page showed when a step failed.
  if (context.task.result?.state === 'fail' && page !== undefined) {
    await shot(`failed-${context.task.name.replace(/\W+/g, '-').slice(0, 40)}`).catch(() => {});
  }
});

afterAll(async () => {
  await browser?.close();
  if (up !== undefined) await stopCommand(up, 'SIGTERM');
  if (cli !== undefined) await cli.run(['down']);
  if (dir !== undefined) {
    await killMatching(dir.path);
    await dir.remove();
  }
});

describe('the dashboard', () => {
  it('logs in', async () => {
    await page.goto(`${baseUrl}/`);
    // Signed out: the shell sends the browser to the login page.
    await page.waitForURL(/\/login/);
    await shot('login');
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    // The API's own message, not a generic one.
    const refusal = page.getByRole('alert').filter({ hasText: 'Login failed' });
    await expect.poll(() => refusal.textContent()).toMatch(/wrong username or password/i);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.locator('[data-live-status="live"]').waitFor();
    await page.getByRole('table', { name: 'Hosts' }).getByText('host2').waitFor();
    await shot('overview-empty');
  });

  it('asks a user with a second factor for the code', async () => {
    // A user who enrolled through the API: the login page then asks for the code.
    await (await apiClient()).users.create({ username: 'ops', password: 'ops-password-1' });
    const { accessToken } = await new NovaCronClient({ baseUrl }).login('ops', 'ops-password-1');
    const ops = new NovaCronClient({ baseUrl, token: accessToken });
    const totp = new TOTP({ secret: Secret.fromBase32((await ops.totpEnrol()).secret) });
    await ops.totpVerify(totp.generate());
    const tab = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    try {
      await tab.goto(`${baseUrl}/login`);
      await tab.getByLabel('Username', { exact: true }).fill('ops');
      await tab.getByLabel('Password', { exact: true }).fill('ops-password-1');
      await tab.getByRole('button', { name: 'Log in' }).click();
      const code = tab.getByLabel('Authentication code', { exact: true });
      await code.fill('000000');
      await tab.getByRole('button', { name: 'Verify' }).click();
      await tab.getByRole('alert').filter({ hasText: 'Login failed' }).waitFor();
      await shot('login-second-factor', tab);
      // The verified code's step is used: the next step's code (the server allows one step of skew).
      await code.fill(totp.generate({ timestamp: Date.now() + 30_000 }));
      await tab.getByRole('button', { name: 'Verify' }).click();
      await tab.getByRole('heading', { name: 'Overview' }).waitFor();
      expect(await tab.getByTestId('username').textContent()).toBe('ops');
      await tab.getByRole('button', { name: 'Log out' }).click();
      await tab.waitForURL(/\/login/);
    } finally {
      await tab.close();
    }
  });

  it('creates a VM from tiny on a chosen host, with the scheduler explaining', async () => {
    await page.getByRole('link', { name: 'Create VM' }).click();
    await page.getByRole('heading', { name: 'Create VM' }).waitFor();
    await page.getByRole('radio', { name: /tiny/ }).check();
    await shot('create-vm-image');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Name', { exact: true }).fill(VM);
    await page.getByLabel('Memory (MiB)', { exact: true }).fill('256');
    await page.getByRole('button', { name: 'Next' }).click();
    // Automatic placement: the scheduler's explanation, host by host.
    await page.getByTestId('scheduler-explanation').waitFor();
    await expect
      .poll(() => page.getByTestId('scheduler-explanation').textContent())
      .toMatch(/picks host[12]/);
    await shot('create-vm-placement');
    await page.getByRole('radio', { name: 'On a host I choose' }).check();
    await page.getByLabel('Host', { exact: true }).selectOption('host1');
    await expect
      .poll(() => page.getByTestId('scheduler-explanation').textContent())
      .toContain('picks host1');
    await page.getByRole('button', { name: 'Create' }).click();
    // The wizard follows the create operation, then opens the VM.
    await page.waitForURL(/\/vms\/view\?id=/, { timeout: 120_000 });
    await expect.poll(shownState, { timeout: 120_000 }).toBe('running');
    await expect.poll(() => page.getByTestId('vm-host').textContent()).toBe('host1');
  });

  it('shows the guest on its serial console and its display on VNC', async () => {
    await page.getByRole('tab', { name: 'Serial console' }).click();
    const serial = page.getByTestId('serial-console');
    await expect
      .poll(() => serial.textContent(), { timeout: 90_000 })
      .toContain('NOVACRON-GUEST-READY');
    await shot('vm-serial-console');
    await page.getByRole('tab', { name: 'VNC console' }).click();
    await page.locator('[data-vnc-status="connected"]').waitFor({ timeout: 30_000 });
    await shot('vm-vnc-console');
    await page.getByRole('tab', { name: 'Metrics' }).click();
    // Charts fed by metrics.sample events.
    await chartFilled('CPU (% of one core)');
    await chartFilled('Memory');
    await shot('vm-detail');
  });

  it('migrates it to the other host and follows the progress bar to the end', async () => {
    await page.getByRole('button', { name: 'Migrate' }).click();
    const dialog = page.getByRole('dialog', { name: `Migrate ${VM}` });
    await dialog.getByLabel('Target host', { exact: true }).selectOption('host2');
    // The planner's prediction for each strategy.
    const plan = dialog.getByRole('table', { name: 'Predictions per strategy' });
    await plan.waitFor({ timeout: 60_000 });
    for (const strategy of ['precopy', 'postcopy', 'autoconverge']) {
      await plan.getByRole('cell', { name: new RegExp(`^${strategy}`) }).waitFor();
    }
    await shot('vm-migrate-plan', page, false);
    await dialog.getByRole('button', { name: 'Migrate' }).click();
    const progress = dialog.getByTestId('migration-progress');
    await progress.waitFor();
    await expect
      .poll(() => progress.getAttribute('data-status'), { timeout: 180_000 })
      .toBe('succeeded');
    const bar = progress.getByRole('progressbar', { name: 'Migration progress' });
    expect(await bar.getAttribute('aria-valuenow')).toBe('100');
    await shot('vm-migrate-done', page, false);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => page.getByTestId('vm-host').textContent()).toBe('host2');
    await expect.poll(shownState).toBe('running');
  });

  it('shows a change made through the API in the open page, without a reload', async () => {
    const api = await apiClient();
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    const sent = Date.now();
    await api.vms.action(VM, { action: 'pause' });
    let seenAfterMs = -1;
    await expect
      .poll(
        async () => {
          const state = await shownState();
          if (state === 'paused' && seenAfterMs < 0) seenAfterMs = Date.now() - sent;
          return state;
        },
        { timeout: 30_000, interval: 50 },
      )
      .toBe('paused');
    expect(navigations).toEqual([]);
    // A measurement, not an assertion: the machine is shared and slow.
    await writeFile(
      join(SHOTS, 'live-update.json'),
      `${JSON.stringify({ change: 'pause through the API', seenAfterMs })}\n`,
    );
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(shownState, { timeout: 60_000 }).toBe('running');
  });

  it('reconnects after the server restarts, and resumes from the last event it saw', async () => {
    if (up === undefined) throw new Error('not up');
    // A crash: the agents and the guest run on; the page's stream drops.
    await stopCommand(up, 'SIGKILL');
    await page.locator('[data-live-status="reconnecting"]').waitFor({ timeout: 60_000 });
    up = cli.start(['up', '--hosts', '2']);
    await waitForOutput(up, 'NovaCron is up', 180_000);
    const api = await apiClient();
    await expect
      .poll(async () => (await api.hosts.get('host2')).state, { timeout: 60_000 })
      .toBe('ready');
    // A change made while the page may still be waiting to reconnect reaches it when it does.
    await api.vms.action(VM, { action: 'pause' });
    await expect.poll(shownState, { timeout: 60_000 }).toBe('paused');
    await page.locator('[data-live-status="live"]').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(shownState, { timeout: 60_000 }).toBe('running');
  });

  it('has every page, at desktop and phone width, light and dark', async () => {
    await page.goto(`${baseUrl}/vms`);
    await page.getByRole('table', { name: 'Virtual machines' }).getByText(VM).waitFor();
    await page.getByLabel('Search', { exact: true }).fill('web');
    await shot('vms');
    await page.goto(`${baseUrl}/hosts`);
    await page.getByRole('table', { name: 'Hosts' }).getByText('host2').waitFor();
    await shot('hosts');
    await page.getByRole('link', { name: 'host2' }).click();
    await page.getByRole('heading', { name: 'host2' }).waitFor();
    await page.getByRole('list', { name: 'VMs on host2' }).getByText(VM).waitFor();
    await chartFilled('CPU (all cores)');
    await shot('host-detail');
    // Cordon and uncordon: the host's badge follows the API's answer.
    await page.getByRole('button', { name: 'Cordon' }).click();
    await page.getByText('cordoned', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Uncordon' }).click();
    await page.getByRole('button', { name: 'Cordon' }).waitFor();
    await page.goto(`${baseUrl}/`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await expect
      .poll(() => page.locator('[data-vm-state-count="running"]').textContent())
      .toBe('1');
    // After a reload too: the events before the stream's start are replayed once.
    await page.getByRole('list', { name: 'Recent events' }).getByText(VM).first().waitFor();
    await shot('overview');
    await page.getByRole('button', { name: 'Use the dark theme' }).click();
    await shot('overview-dark');
    await page.goto(`${baseUrl}/no-such-page`);
    await page.getByText('No such page').waitFor();
    await shot('not-found');
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    // The tab's session is per tab: a phone-sized tab logs in itself.
    await phone.goto(`${baseUrl}/login`);
    await phone.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await phone.getByRole('button', { name: 'Log in' }).click();
    await phone.getByRole('heading', { name: 'Overview' }).waitFor();
    await phone.locator('[data-live-status="live"]').waitFor();
    await phone.getByRole('list', { name: 'Recent events' }).waitFor();
    // Nothing wider than the phone.
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await shot('phone-overview', phone);
    await phone.getByRole('button', { name: 'Open the menu' }).click();
    await phone.getByRole('navigation', { name: 'Main' }).waitFor();
    await shot('phone-menu', phone);
    await phone.close();
    await page.getByRole('button', { name: 'Use the light theme' }).click();
  });

  it('stops and deletes the VM', async () => {
    const vms = (await (await apiClient()).vms.list()).items as Vm[];
    const vm = vms.find((v) => v.name === VM);
    expect(vm).toBeDefined();
    await page.goto(`${baseUrl}/vms/view?id=${vm?.id ?? ''}`);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(shownState, { timeout: 120_000 }).toBe('stopped');
    await page.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: `Delete ${VM}?` });
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/\/vms$/, { timeout: 120_000 });
    await page.getByText('No virtual machines yet').waitFor({ timeout: 30_000 });
    await shot('vms-empty');
    expect(pageErrors).toEqual([]);
  });
});
