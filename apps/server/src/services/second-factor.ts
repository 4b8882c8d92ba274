import type { TotpEnrolment, TotpStatus } from '@novacron/api';
import {
  hashRecoveryCode,
  InvalidChallengeError,
  LoginChallenges,
  matchTotpCode,
  newRecoveryCodes,
  newSigningSecret,
  newTotpSecret,
  qrCodeSvgDataUrl,
  SecretBox,
  totpUri,
  type LoginChallengePurpose,
} from '@novacron/auth';
import { DomainError, type Clock } from '@novacron/domain';
import type { Store, User } from '@novacron/store';

/** A code the user typed: a TOTP code or a recovery code. */
export interface SecondFactorProof {
  code?: string | undefined;
  recoveryCode?: string | undefined;
}

/**
 * TOTP second factors (docs/adr/0018-second-factor-and-login-lockout.md): enrolment, activation
 * with a first code, login checks with replay protection, recovery codes, and whether a user
 * must have a factor. Secrets are sealed at rest and leave the server only at enrolment.
 */
export class SecondFactorService {
  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly challenges: LoginChallenges,
    private readonly clock: Clock,
    /** NOVACRON_TOTP_REQUIRED: every user must have a second factor. */
    readonly requiredForEveryone = false,
  ) {}

  /** What a login of `user` needs after the password: nothing, a code, or an enrolment first. */
  async needed(user: User): Promise<'none' | LoginChallengePurpose> {
    const factor = await this.store.secondFactors.get(user.id);
    if (factor?.enabledAt !== undefined) return 'totp';
    if (this.requiredForEveryone || factor?.required === true) return 'totp-enrol';
    return 'none';
  }

  challenge(user: User, purpose: LoginChallengePurpose) {
    return this.challenges.issue({ sub: user.id, purpose }, this.clock.now());
  }

  /** The user a challenge was issued to; INVALID_SECOND_FACTOR when it is forged or expired. */
  async openChallenge(
    token: string,
    purpose: LoginChallengePurpose,
  ): Promise<{ user: User; purpose: LoginChallengePurpose }> {
    try {
      const challenge = await this.challenges.verify(token, this.clock.now());
      const user = await this.store.users.get(challenge.sub);
      // An enrolment challenge also finishes the login with the first code.
      if (user !== undefined && (challenge.purpose === purpose || purpose === 'totp')) {
        return { user, purpose: challenge.purpose };
      }
    } catch (error) {
      if (!(error instanceof InvalidChallengeError)) throw error;
    }
    throw new DomainError(
      'INVALID_SECOND_FACTOR',
      'login challenge invalid or expired: log in again',
    );
  }

  /**
   * Whether `proof` is good for the user's active factor. A TOTP code counts once (its time step
   * must be newer than the last one used) and only within one step of now; a recovery code once.
   */
  async check(userId: string, proof: SecondFactorProof): Promise<boolean> {
    const factor = await this.store.secondFactors.get(userId);
    if (factor?.secretSealed === undefined) return false;
    if (proof.recoveryCode !== undefined) {
      return this.store.secondFactors.useRecoveryCode(userId, hashRecoveryCode(proof.recoveryCode));
    }
    if (proof.code === undefined) return false;
    const step = await matchTotpCode(
      this.box.open(factor.secretSealed),
      proof.code,
      this.clock.now(),
    );
    return step !== undefined && (await this.store.secondFactors.useStep(userId, step));
  }

  /** A new secret, pending until its first code; SECOND_FACTOR_CONFLICT when one is active. */
  async enrol(user: User): Promise<TotpEnrolment> {
    const secret = await newTotpSecret();
    const recoveryCodes = newRecoveryCodes();
    const started = await this.store.secondFactors.startEnrolment(
      user.id,
      this.box.seal(secret),
      recoveryCodes.map(hashRecoveryCode),
    );
    if (!started) {
      throw new DomainError(
        'SECOND_FACTOR_CONFLICT',
        'a second factor is already enabled: disable it first to enrol a new one',
      );
    }
    const uri = await totpUri(secret, user.username);
    return { secret, uri, qrCode: await qrCodeSvgDataUrl(uri), recoveryCodes };
  }

  /** Activates the pending secret with its first code. */
  async activate(userId: string, code: string): Promise<void> {
    const factor = await this.store.secondFactors.get(userId);
    if (factor?.pendingSecretSealed === undefined) {
      throw new DomainError(
        'SECOND_FACTOR_CONFLICT',
        factor?.enabledAt === undefined
          ? 'nothing to verify: enrol first (POST /api/v1/auth/totp/enrol)'
          : 'the second factor is already enabled',
      );
    }
    const secret = this.box.open(factor.pendingSecretSealed);
    const step = await matchTotpCode(secret, code, this.clock.now());
    if (step === undefined || !(await this.store.secondFactors.activate(userId, step))) {
      throw new DomainError('INVALID_SECOND_FACTOR', 'wrong or expired code');
    }
  }

  /** Turns the factor off, with a current code or a recovery code. */
  async disable(userId: string, proof: SecondFactorProof): Promise<void> {
    const factor = await this.store.secondFactors.get(userId);
    if (factor?.enabledAt === undefined && factor?.pendingSecretSealed === undefined) {
      throw new DomainError('SECOND_FACTOR_CONFLICT', 'no second factor is enabled');
    }
    if (factor.enabledAt !== undefined && !(await this.check(userId, proof))) {
      throw new DomainError('INVALID_SECOND_FACTOR', 'wrong or expired code');
    }
    await this.store.secondFactors.disable(userId);
  }

  async status(userId: string): Promise<TotpStatus> {
    const factor = await this.store.secondFactors.get(userId);
    return {
      enabled: factor?.enabledAt !== undefined,
      pending: factor?.pendingSecretSealed !== undefined,
      required: factor?.required === true,
      requiredForEveryone: this.requiredForEveryone,
      recoveryCodesLeft:
        factor?.enabledAt === undefined
          ? 0
          : await this.store.secondFactors.unusedRecoveryCodes(userId),
    };
  }

  setRequired(userId: string, required: boolean): Promise<void> {
    return this.store.secondFactors.setRequired(userId, required);
  }
}

const SECRET_BOX_KEY = 'auth.second_factor_key';

/**
 * The second-factor service of a server: its sealing key is made once and kept in the settings,
 * so every replica opens the same secrets; login challenges are signed from the token secret.
 */
export async function openSecondFactors(
  store: Store,
  signingSecret: string,
  clock: Clock,
  requiredForEveryone: boolean,
): Promise<SecondFactorService> {
  const key = await store.settings.setIfAbsent(SECRET_BOX_KEY, newSigningSecret());
  return new SecondFactorService(
    store,
    new SecretBox(key),
    new LoginChallenges(signingSecret),
    clock,
    requiredForEveryone,
  );
}
