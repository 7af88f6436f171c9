// Policy versions in the database: history, the one active version, activation in order.
export { POLICY_MIGRATIONS } from "./migrations.js";
export {
  type ActivationCondition,
  type Candidate,
  POLICY_CHANNEL,
  type PolicyVersion,
  PolicyVersionStore,
  type VersionSource,
  type VersionSummary,
} from "./version-store.js";
