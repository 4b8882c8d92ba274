/**
 * @novacron/domain — entities, the VM state machine, names and sizes, domain errors. Pure: imports
 * only @novacron/api; no IO, no clock, no randomness (time and ids come in through ports).
 */
export {
  assertValidAgentCloudInit,
  assertValidCloudInit,
  cloudInitForClone,
  cloudInitForVm,
  parseSshKeys,
} from './cloud-init.js';
export { DomainError, isDomainError } from './errors.js';
export { mergeLabels, parseLabelSelectors } from './labels.js';
export { assertValidName, isValidName } from './names.js';
export {
  DEFAULT_RESTART_BACKOFF,
  restartDelayMs,
  wantsRestart,
  type Backoff,
  type RestartFacts,
} from './restart-policy.js';
export { parseSizeGiB, parseSizeMiB } from './sizes.js';
export { assertActionAllowed, assertTransition, canTransition, targetStateOf } from './vm-state.js';
export type { Clock, IdSource } from './ports.js';
