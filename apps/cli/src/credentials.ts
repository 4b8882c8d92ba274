import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CliError } from './errors.js';

/** What `novacron login` keeps for one server. */
export interface StoredCredentials {
  username: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

/** Tokens by server URL, so one user can be logged in to several servers. */
export interface CredentialStore {
  get(serverUrl: string): Promise<StoredCredentials | undefined>;
  save(serverUrl: string, credentials: StoredCredentials): Promise<void>;
  /** False when there was nothing stored for that server. */
  remove(serverUrl: string): Promise<boolean>;
}

interface CredentialsFile {
  version: 1;
  servers: Record<string, StoredCredentials>;
}

/** `http://h:8090/` and `http://h:8090` are the same server. */
export function serverKey(serverUrl: string): string {
  return new URL(serverUrl).href.replace(/\/+$/, '');
}

/** The credentials file (mode 0600, in a 0700 directory) under the user's config directory. */
export class FileCredentialStore implements CredentialStore {
  constructor(readonly file: string) {}

  async get(serverUrl: string): Promise<StoredCredentials | undefined> {
    return (await this.read()).servers[serverKey(serverUrl)];
  }

  async save(serverUrl: string, credentials: StoredCredentials): Promise<void> {
    const content = await this.read();
    content.servers[serverKey(serverUrl)] = credentials;
    await this.write(content);
  }

  async remove(serverUrl: string): Promise<boolean> {
    const content = await this.read();
    const key = serverKey(serverUrl);
    if (!(key in content.servers)) return false;
    delete content.servers[key];
    await this.write(content);
    return true;
  }

  private async read(): Promise<CredentialsFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, servers: {} };
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as Partial<CredentialsFile>;
      if (typeof parsed.servers !== 'object' || parsed.servers === null)
        throw new Error('no servers');
      return { version: 1, servers: parsed.servers };
    } catch {
      throw new CliError(
        'CREDENTIALS_INVALID',
        `${this.file} is not a credentials file NovaCron wrote: remove it and log in again`,
        { file: this.file },
      );
    }
  }

  private async write(content: CredentialsFile): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    // Write then rename: a crash never leaves half a file, and the new file is 0600 from birth.
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, this.file);
  }
}
