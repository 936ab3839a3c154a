//! The documents a [`Reply::Info`](crate::Reply::Info) carries, one per kind of request
//! that asks for one.

use crate::{FlowInfo, IpcpInfo, NameInfo, PolicyStats, Status};
use serde::{Deserialize, Serialize};

/// A document the daemon answers with. On the wire it is the document itself (no tag): a
/// client decodes it as the type its request asks for ([`Reply::decode`](crate::Reply)
/// with `I` = [`Status`], `Vec<FlowInfo>`, ...). Decoded as `Info`, the variant is
/// guessed from the fields, and an empty list reads as [`Info::Flows`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Info {
    /// The answer to [`Request::Status`](crate::Request::Status).
    Status(Box<Status>),
    /// The answer to [`Request::ListFlows`](crate::Request::ListFlows).
    Flows(Vec<FlowInfo>),
    /// The answer to [`Request::ListNames`](crate::Request::ListNames).
    Names(Vec<NameInfo>),
    /// The answer to [`Request::ListIpcps`](crate::Request::ListIpcps).
    Ipcps(Vec<IpcpInfo>),
    /// The answer to [`Request::PolicyStats`](crate::Request::PolicyStats).
    Policies(Vec<PolicyStats>),
}
