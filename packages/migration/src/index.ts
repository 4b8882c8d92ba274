/**
 * @novacron/migration — the live-migration planner and phase machine. Pure: imports only
 * @novacron/api and @novacron/domain; no IO, no clock, no randomness (the caller passes readings
 * and times in, and does every agent and store call itself).
 *
 * How the server's migration service uses it, in order:
 * 1. `resolveLimits(request, defaults)`, measure the dirty rate and the link, then `predict(...)`
 *    for every strategy (a documented model of QEMU's pre-copy series, post-copy and auto-converge;
 *    its constants are `MIGRATION_MODEL`, overridable for calibration by a benchmark).
 * 2. `migrationSettings(request, defaults, predictions)` checks the request (VALIDATION_FAILED on
 *    combinations QEMU rejects), resolves `auto` with `choose` (MIGRATION_NOT_POSSIBLE when nothing
 *    can finish) and gives the AgentMigrationSettings both QEMUs get.
 * 3. Record each phase (`MIGRATION_PHASES`, `assertPhaseTransition`); `canCancel(phase)` says whether
 *    a cancel is still honoured (never after the switch to post-copy).
 * 4. While the stream runs, feed each source reading to `observeMigration` (state from
 *    `startStallWatch`, policy from `stallPolicyFor`): continue, escalate to throttle or post-copy, or give up and roll back.
 *    `progressPercent` and `progressEvent` build what users see.
 * 5. At the end `migrationResult(finalStatus, plan, run)`.
 * After a server restart, `recoveryDecision(phase, sourceView(report), targetView(report))` says
 * whether to resume, complete, roll back, wait, or flag the VM (lost, conflict): never two running
 * copies, never a guest silently gone.
 */
export {
  DEFAULT_TOLERABLE_THROTTLE_PERCENT,
  choose,
  migrationSettings,
  resolveLimits,
  type Choice,
  type ChoiceLimits,
  type MigrationDefaults,
} from './choose.js';
export {
  MIGRATION_MODEL,
  predict,
  predictionFor,
  toWirePrediction,
  type MigrationModel,
  type Prediction,
  type PredictionDetail,
  type PredictionInput,
} from './model.js';
export {
  MIGRATION_PHASES,
  SOURCE_VIEWS,
  TARGET_VIEWS,
  assertPhaseTransition,
  canCancel,
  canEnterPhase,
  isMigrationPhase,
  isTerminalPhase,
  recoveryDecision,
  sourceView,
  targetView,
  type HostReport,
  type MigrationPhase,
  type RecoveryAction,
  type RecoveryDecision,
  type SourceView,
  type TargetView,
} from './phases.js';
export {
  migrationResult,
  progressEvent,
  progressPercent,
  type ProgressContext,
  type RunFacts,
} from './progress.js';
export {
  DEFAULT_STALL_POLICY,
  observeMigration,
  stallPolicyFor,
  startStallWatch,
  type StallPolicy,
  type StallState,
  type StallVerdict,
} from './stall.js';
