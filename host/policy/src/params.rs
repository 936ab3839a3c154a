//! Typed policy parameters, from the configuration file.

use std::collections::BTreeMap;

/// One parameter value (mirrors the WIT `param-value`).
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// A boolean.
    Boolean(bool),
    /// A signed integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
    /// A list of strings.
    TextList(Vec<String>),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

/// A policy's parameters by name.
pub type Params = BTreeMap<String, ParamValue>;
