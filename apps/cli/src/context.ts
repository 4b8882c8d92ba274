import type { Command } from 'commander';
import type {
  HostsResource,
  ImagesResource,
  NovaCronClient,
  OperationsResource,
  SchedulerResource,
  VmsResource,
} from '@novacron/client';
import type { Config } from '@novacron/config';
import type { CredentialStore } from './credentials.js';
import type { OutputFormat } from './output.js';

/** The public surface of a class: what a fake must provide (private fields are left out). */
type Public<T> = { [K in keyof T]: T[K] };

/** The part of NovaCronClient the CLI uses; tests inject a fake of it. */
export interface CliClient {
  login: NovaCronClient['login'];
  vms: Public<VmsResource>;
  hosts: Public<HostsResource>;
  images: Public<ImagesResource>;
  operations: Public<OperationsResource>;
  scheduler: Public<SchedulerResource>;
  events: NovaCronClient['events'];
  /** Optional so test fakes without a console still fit. */
  console?: NovaCronClient['console'];
  /** The second factor (`novacron 2fa`, the second step of `login`); optional for test fakes. */
  loginSecondFactor?: NovaCronClient['loginSecondFactor'];
  loginTotpEnrol?: NovaCronClient['loginTotpEnrol'];
  totpStatus?: NovaCronClient['totpStatus'];
  totpEnrol?: NovaCronClient['totpEnrol'];
  totpVerify?: NovaCronClient['totpVerify'];
  totpDisable?: NovaCronClient['totpDisable'];
  setTotpRequired?: NovaCronClient['setTotpRequired'];
  /** Users, projects, API tokens, audit (`novacron user|project|token|audit`); optional for test fakes. */
  users?: NovaCronClient['users'];
  projects?: NovaCronClient['projects'];
  tokens?: NovaCronClient['tokens'];
  audit?: NovaCronClient['audit'];
  logout?: NovaCronClient['logout'];
  refresh?: NovaCronClient['refresh'];
}

export type ClientFactory = (options: { baseUrl: string; token?: string }) => CliClient;

export interface Writer {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Everything the CLI touches outside itself, injected so that tests run it in-process. */
export interface CliDeps {
  stdout: Writer;
  stderr: Writer;
  createClient: ClientFactory;
  loadConfig: () => Config;
  credentials: CredentialStore;
  readPassword: (request: { prompt: string; fromStdin: boolean }) => Promise<string>;
}

/** One run of the CLI: its dependencies, plus the config and client made once on first use. */
export class CliContext {
  private config: Config | undefined;

  constructor(readonly deps: CliDeps) {}

  /** Loaded on first use, so `--help` works even with a broken environment. */
  getConfig(): Config {
    this.config ??= this.deps.loadConfig();
    return this.config;
  }

  /**
   * A client with NOVACRON_TOKEN, else the token `novacron login` stored for this server; a
   * stored access token about to expire is first traded for new tokens with its refresh token.
   */
  async client(): Promise<CliClient> {
    const config = this.getConfig();
    if (config.token !== undefined) {
      return this.deps.createClient({ baseUrl: config.serverUrl, token: config.token });
    }
    const stored = await this.deps.credentials.get(config.serverUrl);
    let token = stored?.accessToken;
    if (stored !== undefined && expiresSoon(stored.expiresAt)) {
      // A refused refresh (session ended) leaves the old token: the server says why it fails.
      const fresh = await this.anonymousClient()
        .refresh?.(stored.refreshToken)
        .catch(() => undefined);
      if (fresh !== undefined) {
        await this.deps.credentials.save(config.serverUrl, { ...stored, ...fresh });
        token = fresh.accessToken;
      }
    }
    return this.deps.createClient({ baseUrl: config.serverUrl, token });
  }

  /** A client without a token, for login. */
  anonymousClient(): CliClient {
    return this.deps.createClient({ baseUrl: this.getConfig().serverUrl });
  }

  print(text: string): void {
    this.deps.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  }
}

/** Whether an access token expiring at `expiresAt` has less than a minute left. */
function expiresSoon(expiresAt: string): boolean {
  const at = Date.parse(expiresAt);
  return Number.isNaN(at) || at - Date.now() < 60_000;
}

/**
 * The `-o` a command was given, on itself or on an ancestor (`novacron -o json vm list`);
 * undefined when none was, so each command picks its own default.
 */
export function formatOf(command: Command): OutputFormat | undefined {
  for (let cmd: Command | null = command; cmd; cmd = cmd.parent) {
    const value = cmd.getOptionValue('output') as unknown;
    if (value === 'table' || value === 'json' || value === 'yaml') return value;
  }
  return undefined;
}
