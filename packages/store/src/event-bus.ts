import type { Event } from '@novacron/api';

export type EventListener = (events: readonly Event[]) => void;

/** A transaction's place in the delivery queue, taken while it holds the event lock. */
export interface Ticket {
  events: readonly Event[] | undefined;
}

/**
 * The embedded, in-process event bus. Listeners get each transaction's events after it commits,
 * in seq order: a transaction takes a ticket while it holds the event lock (so tickets are in
 * seq order), and a ticket is delivered only once every earlier ticket has settled, even when
 * the commits resolve in a different order on the JavaScript side.
 */
export class EventBus {
  readonly #queue: Ticket[] = [];
  readonly #listeners = new Set<EventListener>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  reserve(): Ticket {
    const ticket: Ticket = { events: undefined };
    this.#queue.push(ticket);
    return ticket;
  }

  /** Commit delivers the events; a rollback settles with none. */
  settle(ticket: Ticket, events: readonly Event[]): void {
    ticket.events = events;
    while (this.#queue[0]?.events !== undefined) {
      const head = this.#queue.shift();
      if (head?.events === undefined || head.events.length === 0) continue;
      for (const listener of this.#listeners) {
        // A failing listener must neither hide the events from the others nor fail a write
        // that has already committed.
        try {
          listener(head.events);
        } catch (error) {
          this.onListenerError(error);
        }
      }
    }
  }
}
