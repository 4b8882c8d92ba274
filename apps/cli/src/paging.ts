import { CliError } from './errors.js';

/** Follows `nextCursor` to the last page. */
export async function listAll<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
    // A server that hands back a cursor twice would otherwise keep us here forever.
    if (cursor !== undefined && seen.has(cursor)) {
      throw new CliError(
        'INVALID_RESPONSE',
        `the server returned the page cursor '${cursor}' twice`,
      );
    }
    if (cursor !== undefined) seen.add(cursor);
  } while (cursor !== undefined);
  return items;
}
