import type { LabelsPatch } from '@novacron/api';
import { DomainError } from './errors.js';

/** JSON merge patch of labels (RFC 7386): a string sets the key, null removes it. */
export function mergeLabels(
  labels: Readonly<Record<string, string>>,
  patch: LabelsPatch,
): Record<string, string> {
  // A Map, then fromEntries: a key such as `__proto__` stays an ordinary own key.
  const merged = new Map(Object.entries(labels));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, value);
  }
  return Object.fromEntries(merged);
}

/** Reads `key=value` selectors (the key holds no `=`, the value may be empty) into one record. */
export function parseLabelSelectors(selectors: readonly string[]): Record<string, string> {
  const wanted = new Map<string, string>();
  for (const selector of selectors) {
    const at = selector.indexOf('=');
    if (at < 1) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `label selector '${selector.slice(0, 80)}' is invalid: use key=value`,
        { field: 'label', selector },
      );
    }
    const key = selector.slice(0, at);
    const value = selector.slice(at + 1);
    if (wanted.has(key) && wanted.get(key) !== value) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `label '${key.slice(0, 80)}' is selected with two different values`,
        { field: 'label', key },
      );
    }
    wanted.set(key, value);
  }
  return Object.fromEntries(wanted);
}
