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

impl ParamValue {
    /// A command-line parameter value: `true`/`false`, an integer, a float, `[a,b,...]` (a
    /// text list), else text.
    pub fn from_cli(s: &str) -> ParamValue {
        if let Ok(b) = s.parse::<bool>() {
            ParamValue::Boolean(b)
        } else if let Ok(i) = s.parse::<i64>() {
            ParamValue::Integer(i)
        } else if let Ok(f) = s.parse::<f64>() {
            ParamValue::Float(f)
        } else if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            ParamValue::TextList(
                inner
                    .split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        } else {
            ParamValue::Text(s.to_string())
        }
    }
}

/// A policy's parameters by name.
pub type Params = BTreeMap<String, ParamValue>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_params_are_typed() {
        assert_eq!(ParamValue::from_cli("true"), ParamValue::Boolean(true));
        assert_eq!(ParamValue::from_cli("3"), ParamValue::Integer(3));
        assert_eq!(ParamValue::from_cli("0.5"), ParamValue::Float(0.5));
        assert_eq!(
            ParamValue::from_cli("[ab, cd]"),
            ParamValue::TextList(vec!["ab".into(), "cd".into()])
        );
        assert_eq!(ParamValue::from_cli("[]"), ParamValue::TextList(vec![]));
        assert_eq!(ParamValue::from_cli("x"), ParamValue::Text("x".into()));
    }
}
