import { TERMINAL_OPERATION_STATUSES, type Operation } from '@novacron/api';

/** Whether an operation still runs (or waits to), so that a cancel makes sense. */
export function isActive(operation: Pick<Operation, 'status'>): boolean {
  return !TERMINAL_OPERATION_STATUSES.includes(operation.status);
}

/** Where an operation's target is shown: a VM or host page, or the images list. */
export function targetHref(target: Operation['target']): string {
  switch (target.type) {
    case 'vm':
      return `/vms/view?id=${encodeURIComponent(target.id)}`;
    case 'host':
      return `/hosts/view?id=${encodeURIComponent(target.id)}`;
    case 'image':
      return '/images';
  }
}

export function operationHref(operation: Pick<Operation, 'id'>): string {
  return `/operations/view?id=${encodeURIComponent(operation.id)}`;
}

/** How long it ran: until its last update once finished, until now while it runs. */
export function elapsedMs(operation: Operation, now: number = Date.now()): number {
  const end = isActive(operation) ? now : Date.parse(operation.updatedAt);
  return end - Date.parse(operation.createdAt);
}

/**
 * The later of two copies of an operation, by `updatedAt`: the answer to a request can arrive
 * after an event that already reported a later state (a cancel answered `running` after the event
 * that said `cancelled`), and must not overwrite it.
 */
export function laterOf(cached: Operation | undefined, answer: Operation): Operation {
  if (cached === undefined || cached.id !== answer.id) return answer;
  return Date.parse(cached.updatedAt) > Date.parse(answer.updatedAt) ? cached : answer;
}
