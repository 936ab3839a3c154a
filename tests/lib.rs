//! Helpers shared by the integration tests: topology generators and an independent
//! shortest-path oracle.
#![forbid(unsafe_code)]
