//! AWS list prices, in one place, for the cost report (`make cost`).
//! Source: /work/shared/REFERENCES.md ("AWS figures"), us-east-1, after
//! DynamoDB's November 2024 on-demand price cut.

/// API Gateway HTTP API, per million requests (first 300 million a month).
pub const API_GATEWAY_PER_MILLION: f64 = 1.00;
/// API Gateway HTTP API beyond 300 million requests a month.
pub const API_GATEWAY_PER_MILLION_AT_VOLUME: f64 = 0.90;
/// Lambda, per million requests.
pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
/// Lambda on arm64, per GB-second of billed duration (1 ms granularity).
pub const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// DynamoDB on-demand, per million write request units (1 KB each).
pub const DYNAMODB_PER_MILLION_WRU: f64 = 0.625;
/// DynamoDB on-demand, per million read request units (4 KB strongly
/// consistent, half a unit eventually consistent).
pub const DYNAMODB_PER_MILLION_RRU: f64 = 0.125;
/// An assumed in-region DynamoDB round trip, to turn the emulator's calls
/// into billed Lambda time (DynamoDB's single-digit-millisecond latency).
pub const DYNAMODB_ROUND_TRIP_MS: f64 = 5.0;
