/** The time, passed in so that pure code can be replayed exactly in tests. */
export interface Clock {
  now(): Date;
}

/** A source of new opaque ids, passed in for the same reason. */
export type IdSource = () => string;
