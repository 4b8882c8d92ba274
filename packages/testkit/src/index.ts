/**
 * @novacron/testkit — what tests share: temporary folders with short paths, the cache kept between
 * runs, process clean-up and polling. Test code only: no product package may import it.
 */
export {
  CommandRunner,
  freePort,
  stopCommand,
  waitForOutput,
  type CommandResult,
  type RunningCommand,
} from './cli.js';
export { makeTempDir, repoRoot, testCacheDir } from './paths.js';
export { killMatching, pidsMatching, waitFor } from './processes.js';
