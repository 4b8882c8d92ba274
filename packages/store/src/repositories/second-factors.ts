import type { Selectable } from 'kysely';
import { now, write, type Scope, type StoreContext } from '../context.js';
import type { SecondFactorsTable } from '../schema.js';

/** A user's TOTP factor as stored: secrets sealed by the server, never in clear. */
export interface SecondFactor {
  userId: string;
  /** Set once enrolment was verified with a code. */
  secretSealed?: string;
  /** Enrolled, waiting for its first code. */
  pendingSecretSealed?: string;
  enabledAt?: string;
  /** Last time step whose code was accepted. */
  lastStep?: number;
  /** This user must have a second factor to log in (set by an admin). */
  required: boolean;
}

export interface SecondFactorRepository {
  get(userId: string): Promise<SecondFactor | undefined>;
  /**
   * Stores a new pending secret and replaces the user's recovery codes (their hashes). Refused
   * (false) when the user already has an enabled factor: disable it first.
   */
  startEnrolment(
    userId: string,
    pendingSecretSealed: string,
    codeHashes: string[],
  ): Promise<boolean>;
  /** Makes the pending secret the active one, `step` its first used step; false when none is pending. */
  activate(userId: string, step: number): Promise<boolean>;
  /**
   * Records that the code of `step` was used; false when that step or a later one was used
   * before (a replayed code). Atomic, so two replicas cannot both accept one code.
   */
  useStep(userId: string, step: number): Promise<boolean>;
  /** Marks an unused recovery code used; false when it does not exist or was used. */
  useRecoveryCode(userId: string, codeHash: string): Promise<boolean>;
  unusedRecoveryCodes(userId: string): Promise<number>;
  /** Removes the factor and its recovery codes; the `required` flag stays. */
  disable(userId: string): Promise<void>;
  setRequired(userId: string, required: boolean): Promise<void>;
}

export function createSecondFactorRepository(
  ctx: StoreContext,
  scope: Scope,
): SecondFactorRepository {
  const { db } = scope;
  return {
    async get(userId) {
      const row = await db
        .selectFrom('second_factors')
        .selectAll()
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return row && toSecondFactor(row);
    },

    startEnrolment(userId, pendingSecretSealed, codeHashes) {
      return write(ctx, scope, async ({ db: tx }) => {
        const at = now(ctx);
        const row = await tx
          .insertInto('second_factors')
          .values({
            user_id: userId,
            secret_sealed: null,
            pending_secret_sealed: pendingSecretSealed,
            enabled_at: null,
            last_step: null,
            updated_at: at,
          })
          .onConflict((oc) =>
            oc
              .column('user_id')
              .doUpdateSet({ pending_secret_sealed: pendingSecretSealed, updated_at: at })
              .where('second_factors.enabled_at', 'is', null),
          )
          .returning('user_id')
          .executeTakeFirst();
        if (row === undefined) return false;
        await tx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
        if (codeHashes.length > 0) {
          await tx
            .insertInto('recovery_codes')
            .values(codeHashes.map((hash) => ({ user_id: userId, code_hash: hash, used_at: null })))
            .execute();
        }
        return true;
      });
    },

    async activate(userId, step) {
      const at = now(ctx);
      const result = await db
        .updateTable('second_factors')
        .set((eb) => ({
          secret_sealed: eb.ref('pending_secret_sealed'),
          pending_secret_sealed: null,
          enabled_at: at,
          last_step: step,
          updated_at: at,
        }))
        .where('user_id', '=', userId)
        .where('pending_secret_sealed', 'is not', null)
        .where('enabled_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    async useStep(userId, step) {
      const result = await db
        .updateTable('second_factors')
        .set({ last_step: step, updated_at: now(ctx) })
        .where('user_id', '=', userId)
        .where('enabled_at', 'is not', null)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    async useRecoveryCode(userId, codeHash) {
      const result = await db
        .updateTable('recovery_codes')
        .set({ used_at: now(ctx) })
        .where('user_id', '=', userId)
        .where('code_hash', '=', codeHash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    async unusedRecoveryCodes(userId) {
      const row = await db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    disable(userId) {
      return write(ctx, scope, async ({ db: tx }) => {
        await tx
          .updateTable('second_factors')
          .set({
            secret_sealed: null,
            pending_secret_sealed: null,
            enabled_at: null,
            last_step: null,
            updated_at: now(ctx),
          })
          .where('user_id', '=', userId)
          .execute();
        await tx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      });
    },

    async setRequired(userId, required) {
      const at = now(ctx);
      await db
        .insertInto('second_factors')
        .values({
          user_id: userId,
          secret_sealed: null,
          pending_secret_sealed: null,
          enabled_at: null,
          last_step: null,
          required: required ? 1 : 0,
          updated_at: at,
        })
        .onConflict((oc) =>
          oc.column('user_id').doUpdateSet({ required: required ? 1 : 0, updated_at: at }),
        )
        .execute();
    },
  };
}

function toSecondFactor(row: Selectable<SecondFactorsTable>): SecondFactor {
  return {
    userId: row.user_id,
    ...(row.secret_sealed !== null && { secretSealed: row.secret_sealed }),
    ...(row.pending_secret_sealed !== null && { pendingSecretSealed: row.pending_secret_sealed }),
    ...(row.enabled_at !== null && { enabledAt: row.enabled_at }),
    ...(row.last_step !== null && { lastStep: Number(row.last_step) }),
    required: row.required === 1,
  };
}
