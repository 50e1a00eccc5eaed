//! Routing targets: where a provisioned number sends its calls.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Queue,
    Extension,
    Ivr,
}

impl TargetKind {
    pub const ALL: [TargetKind; 3] = [TargetKind::Queue, TargetKind::Extension, TargetKind::Ivr];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Queue => "queue",
            TargetKind::Extension => "extension",
            TargetKind::Ivr => "ivr",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TargetKind::Queue => "Queue",
            TargetKind::Extension => "Extension",
            TargetKind::Ivr => "IVR / flow",
        }
    }

    /// Only extensions are created on the fly; queues and IVRs are designed by an admin.
    pub fn created_on_demand(self) -> bool {
        self == TargetKind::Extension
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TargetKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown target type “{s}”: use queue, extension or ivr"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetKind,
    pub id: String,
    pub name: String,
}

/// The `target` of a request: its type (`queue`, `extension`, `ivr`, checked where it is
/// resolved so the error names the field) and the platform's id or the target's name.
#[derive(Debug, Clone, Deserialize)]
pub struct TargetSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_kinds_parse() {
        assert_eq!("ivr".parse::<TargetKind>(), Ok(TargetKind::Ivr));
        assert!(
            "skill"
                .parse::<TargetKind>()
                .unwrap_err()
                .contains("queue, extension or ivr")
        );
        assert!(TargetKind::Extension.created_on_demand());
        assert!(!TargetKind::Queue.created_on_demand());
    }
}
