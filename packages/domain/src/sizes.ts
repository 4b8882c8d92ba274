import { DomainError } from './errors.js';

const UNITS_IN_MIB: Record<string, number> = {
  '': 1,
  M: 1,
  MB: 1,
  MIB: 1,
  G: 1024,
  GB: 1024,
  GIB: 1024,
  T: 1024 * 1024,
  TB: 1024 * 1024,
  TIB: 1024 * 1024,
};

/**
 * Parses a size such as `256M`, `2G` or `512` into MiB (binary units; a bare number is
 * `defaultUnit`). Sizes that are not a whole number of MiB are refused.
 */
export function parseSizeMiB(text: string, defaultUnit: 'M' | 'G' = 'M'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match?.[2]?.toUpperCase() ?? '';
  const factor = UNITS_IN_MIB[unit === '' ? defaultUnit : unit];
  if (!match || factor === undefined) {
    throw new DomainError(
      'INVALID_SIZE',
      `size '${text}' is invalid: use a number with M, G or T`,
      {
        size: text,
      },
    );
  }
  const mib = Number(match[1]) * factor;
  if (!Number.isInteger(mib)) {
    throw new DomainError('INVALID_SIZE', `size '${text}' is not a whole number of MiB`, {
      size: text,
    });
  }
  return mib;
}

/** Parses a disk size into GiB; a bare number means GiB. */
export function parseSizeGiB(text: string): number {
  const mib = parseSizeMiB(text, 'G');
  if (mib % 1024 !== 0) {
    throw new DomainError('INVALID_SIZE', `disk size '${text}' is not a whole number of GiB`, {
      size: text,
    });
  }
  return mib / 1024;
}
