import type { CloudInit } from '@novacron/api';

/** What the wizard holds of a VM's cloud-init data, as typed. */
export interface CloudInitDraft {
  userData: string;
  sshKeys: string;
  hostname: string;
}

export const EMPTY_CLOUD_INIT: CloudInitDraft = { userData: '', sshKeys: '', hostname: '' };

/** One key a line; blank lines and `#` comments dropped. */
export function sshKeysOf(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The `cloudInit` of a VmCreate: absent when nothing was typed (the server checks the rest). */
export function cloudInitOf(draft: CloudInitDraft): { cloudInit?: CloudInit } {
  const keys = sshKeysOf(draft.sshKeys);
  const cloudInit: CloudInit = {
    ...(draft.userData.trim() === '' ? {} : { userData: draft.userData }),
    ...(keys.length === 0 ? {} : { sshKeys: keys }),
    ...(draft.hostname.trim() === '' ? {} : { hostname: draft.hostname.trim() }),
  };
  return Object.keys(cloudInit).length === 0 ? {} : { cloudInit };
}
