import type { LabelsPatch } from '@novacron/api';
import { parseLabelSelectors } from '@novacron/domain';
import { CliError } from './errors.js';

/**
 * Reads label changes as kubectl writes them: `key=value` sets a label, `key-` removes it. The
 * result is the merge patch the API takes.
 */
export function parseLabelChanges(changes: readonly string[]): LabelsPatch {
  const patch = new Map<string, string | null>();
  for (const change of changes) {
    const at = change.indexOf('=');
    if (at > 0) patch.set(change.slice(0, at), change.slice(at + 1));
    else if (at < 0 && change.length > 1 && change.endsWith('-'))
      patch.set(change.slice(0, -1), null);
    else {
      throw new CliError(
        'VALIDATION_FAILED',
        `label '${change.slice(0, 80)}' is invalid: use key=value to set a label, key- to remove it`,
        { label: change },
        2,
      );
    }
  }
  return Object.fromEntries(patch);
}

/** Checks `key=value` selectors before they are sent, with the API's own rules. */
export function labelSelectors(selectors: readonly string[]): string[] {
  parseLabelSelectors(selectors);
  return [...selectors];
}

/** Commander collector for a repeatable option. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
