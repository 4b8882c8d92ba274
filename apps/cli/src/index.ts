/**
 * @novacron/cli — the `novacron` command (commander): every user action, over the REST API
 * through @novacron/client. May import api, client, config and domain (for local checks of names
 * and sizes); never the store or the agent's adapters. `up` and `down` reach the embedded server
 * and agent through `embedded.ts` only.
 */
export { buildProgram, defaultDeps, errorFormat, main, run } from './main.js';
export {
  CliContext,
  formatOf,
  type CliClient,
  type CliDeps,
  type ClientFactory,
  type Writer,
} from './context.js';
export {
  FileCredentialStore,
  serverKey,
  type CredentialStore,
  type StoredCredentials,
} from './credentials.js';
export { CliError, describeError, type ErrorReport } from './errors.js';
export { vmCreateRequest, type VmCreateOptions } from './commands/vm.js';
