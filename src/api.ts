// The generated API (aegis.v1 messages, enums and the service descriptor), gathered in one module
// so the package can export it as a namespace: its names (RiskLevel, Decision, ...) would
// otherwise collide with the domain types of the same names.
export * from "../gen/aegis/v1/governance_service_pb.js";
export * from "../gen/aegis/v1/types_pb.js";
