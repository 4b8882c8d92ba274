import { NAME_PATTERN } from '@novacron/api';
import { DomainError } from './errors.js';

const namePattern = new RegExp(NAME_PATTERN);

/** True for a name that is safe as a path segment, a QEMU argument and a DNS label. */
export function isValidName(name: string): boolean {
  return namePattern.test(name);
}

export function assertValidName(name: string, what = 'name'): void {
  if (!isValidName(name)) {
    throw new DomainError(
      'INVALID_NAME',
      `${what} '${printable(name)}' is invalid: use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
      { name },
    );
  }
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}
