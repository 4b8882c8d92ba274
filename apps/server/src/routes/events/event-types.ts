import {
  EVENT_TYPE_PATTERN,
  EVENT_TYPES,
  LIVE_EVENT_TYPES,
  MAX_EVENT_TYPE_PATTERNS,
  type EventType,
  type LiveEventType,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';

const PATTERN = new RegExp(EVENT_TYPE_PATTERN);

/** What a subscription selects: stored types (replayed after `since`) and live ones. */
export interface SelectedTypes {
  types: EventType[];
  live: LiveEventType[];
}

/**
 * The event types a list of patterns selects: `vm.created` itself, `vm.*` every type of the
 * prefix, `*` all, stored and live alike. No patterns means all. A pattern that selects nothing is
 * refused, so that a typo does not become a silent, empty stream.
 */
export function selectEventTypes(patterns: readonly string[] | undefined): SelectedTypes {
  if (patterns === undefined || patterns.length === 0) {
    return { types: [...EVENT_TYPES], live: [...LIVE_EVENT_TYPES] };
  }
  if (patterns.length > MAX_EVENT_TYPE_PATTERNS) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `at most ${MAX_EVENT_TYPE_PATTERNS} event type patterns`,
      {
        count: patterns.length,
      },
    );
  }
  const all: readonly string[] = [...EVENT_TYPES, ...LIVE_EVENT_TYPES];
  const selected = new Set<string>();
  for (const pattern of patterns) {
    if (pattern.length > 64 || !PATTERN.test(pattern)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `'${pattern.slice(0, 64)}' is not an event type pattern`,
        {
          pattern: pattern.slice(0, 64),
          expected: 'an event type, a prefix such as vm.*, or *',
        },
      );
    }
    const matched = all.filter((type) =>
      pattern === '*'
        ? true
        : pattern.endsWith('.*')
          ? type.startsWith(pattern.slice(0, -1))
          : type === pattern,
    );
    if (matched.length === 0) {
      throw new DomainError('VALIDATION_FAILED', `no event type matches '${pattern}'`, {
        pattern,
        eventTypes: all,
      });
    }
    for (const type of matched) selected.add(type);
  }
  // Keep the api's order, so that the same patterns always give the same lists.
  return {
    types: EVENT_TYPES.filter((type) => selected.has(type)),
    live: LIVE_EVENT_TYPES.filter((type) => selected.has(type)),
  };
}

/** `vm.*,operation.updated` -> its patterns; blanks are ignored. */
export function splitPatterns(list: string | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const patterns = list
    .split(',')
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
  return patterns.length === 0 ? undefined : patterns;
}
