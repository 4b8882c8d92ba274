import { Type, type Static, type TSchema } from 'typebox';

/** Names of VMs, hosts, images and projects: DNS-label shaped, so they are safe in paths. */
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
export const Name = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63 });

export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

/** A resource addressed by path: its id or its name. */
export const IdOrName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
export const IdOrNameParams = Type.Object({ id: IdOrName });
export type IdOrNameParams = Static<typeof IdOrNameParams>;

export const Timestamp = Type.String({ format: 'date-time' });

// A record's key type does not reach JSON Schema (it becomes `patternProperties`): the key
// bounds are spelled as `propertyNames`, so validators enforce them.
const LABEL_BOUNDS = { propertyNames: { minLength: 1, maxLength: 63 }, maxProperties: 64 };

export const Labels = Type.Record(Type.String(), Type.String({ maxLength: 63 }), LABEL_BOUNDS);

/** A change to labels (JSON merge patch): a string sets the key, null removes it. */
export const LabelsPatch = Type.Record(
  Type.String(),
  Type.Union([Type.String({ maxLength: 63 }), Type.Null()]),
  LABEL_BOUNDS,
);
export type LabelsPatch = Static<typeof LabelsPatch>;

/** One page of a list: `nextCursor` is null on the last page. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
export type ListQuery = Static<typeof ListQuery>;
