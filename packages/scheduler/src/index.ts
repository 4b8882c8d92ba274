/**
 * @novacron/scheduler — where a VM runs. Pure: imports only @novacron/api and @novacron/domain; no
 * IO, no clock, no randomness (the caller passes a snapshot of the cluster and a random source).
 *
 * The server builds a `ClusterSnapshot` (hosts with what is allocated on them, group rules, the
 * project's quota), calls `place(snapshot, request, options)`, commits the chosen host with a
 * version check and retries on a stale snapshot. `explain` gives, on demand, which filter removed
 * each host and how each candidate scored. `HostIndex` keeps one snapshot across many decisions
 * (`assign` records each), for large clusters and the benchmark.
 */
export {
  DEFAULT_SAMPLE,
  POLICY_WEIGHTS,
  SOFT_GROUP_WEIGHT,
  type ClusterSnapshot,
  type GroupRule,
  type HostSnapshot,
  type NoFit,
  type Overcommit,
  type PlaceOptions,
  type Placed,
  type Placement,
  type PlacementRequest,
  type QuotaSnapshot,
  type Resources,
} from './model.js';
export { HOST_FILTERS, HostIndex, explain, isNoFit, place, type HostFilter } from './place.js';
export { seededRandom } from './random.js';
