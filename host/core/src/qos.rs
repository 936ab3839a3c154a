//! QoS specifications, presets and the QoS cubes they map to.

use std::fmt;

/// What an application asks of a flow (the Ouroboros `qos_spec` fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QosSpec {
    /// Maximum one-way delay in milliseconds (`u32::MAX`: don't care).
    pub delay_ms: u32,
    /// Bandwidth in bits per second (0: don't care).
    pub bandwidth_bps: u64,
    /// Availability class, in "nines" (0: don't care).
    pub availability: u8,
    /// Maximum packet loss, in packets per million (`u32::MAX`: don't care; 0: reliable).
    pub loss_ppm: u32,
    /// Maximum bit error rate, in errors per billion bits (`u32::MAX`: don't care).
    pub ber: u32,
    /// True if the flow must deliver in order.
    pub in_order: bool,
    /// Maximum gap between delivered packets in milliseconds (`u32::MAX`: don't care).
    pub max_gap_ms: u32,
    /// Peer timeout in milliseconds: the flow is declared down after this much silence.
    pub timeout_ms: u32,
}

impl QosSpec {
    /// No guarantees at all.
    pub const RAW: QosSpec = QosSpec {
        delay_ms: u32::MAX,
        bandwidth_bps: 0,
        availability: 0,
        loss_ppm: u32::MAX,
        ber: u32::MAX,
        in_order: false,
        max_gap_ms: u32::MAX,
        timeout_ms: 120_000,
    };
    /// Best effort: the default.
    pub const BEST_EFFORT: QosSpec = QosSpec {
        ber: 1,
        ..QosSpec::RAW
    };
    /// Video: bandwidth-heavy, some delay tolerance, little loss.
    pub const VIDEO: QosSpec = QosSpec {
        delay_ms: 100,
        bandwidth_bps: 100_000_000,
        availability: 3,
        loss_ppm: 1,
        ber: 1,
        in_order: false,
        max_gap_ms: 100,
        timeout_ms: 120_000,
    };
    /// Voice: low delay, low bandwidth.
    pub const VOICE: QosSpec = QosSpec {
        delay_ms: 50,
        bandwidth_bps: 100_000,
        availability: 5,
        loss_ppm: 100,
        ber: 1,
        in_order: false,
        max_gap_ms: 50,
        timeout_ms: 120_000,
    };
    /// Data: reliable and in order.
    pub const DATA: QosSpec = QosSpec {
        delay_ms: 1000,
        bandwidth_bps: 0,
        availability: 0,
        loss_ppm: 0,
        ber: 0,
        in_order: true,
        max_gap_ms: 2000,
        timeout_ms: 120_000,
    };

    /// The preset called `name` (`raw`, `best-effort`, `video`, `voice`, `data`).
    pub fn preset(name: &str) -> Option<QosSpec> {
        Some(match name {
            "raw" => QosSpec::RAW,
            "best-effort" | "be" => QosSpec::BEST_EFFORT,
            "video" => QosSpec::VIDEO,
            "voice" => QosSpec::VOICE,
            "data" => QosSpec::DATA,
            _ => return None,
        })
    }

    /// The QoS cube that serves this spec: the tightest delay bound wins, then reliability.
    pub fn cube(&self) -> QosCube {
        if self.delay_ms <= 50 {
            QosCube::Voice
        } else if self.delay_ms <= 100 {
            QosCube::Video
        } else if self.loss_ppm == 0 {
            QosCube::Data
        } else if self.ber == u32::MAX {
            QosCube::Raw
        } else {
            QosCube::BestEffort
        }
    }
}

impl Default for QosSpec {
    fn default() -> Self {
        QosSpec::BEST_EFFORT
    }
}

/// A QoS cube: a class of service with its own queue at every hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum QosCube {
    /// Raw: no guarantees.
    Raw = 0,
    /// Best effort.
    BestEffort = 1,
    /// Video.
    Video = 2,
    /// Voice.
    Voice = 3,
    /// Reliable data.
    Data = 4,
}

impl QosCube {
    /// Number of cubes.
    pub const COUNT: usize = 5;

    /// The cube with wire value `v`, if any.
    pub fn from_u8(v: u8) -> Option<QosCube> {
        Some(match v {
            0 => QosCube::Raw,
            1 => QosCube::BestEffort,
            2 => QosCube::Video,
            3 => QosCube::Voice,
            4 => QosCube::Data,
            _ => return None,
        })
    }
}

impl fmt::Display for QosCube {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QosCube::Raw => "raw",
            QosCube::BestEffort => "best-effort",
            QosCube::Video => "video",
            QosCube::Voice => "voice",
            QosCube::Data => "data",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_map_to_their_cubes() {
        for (name, cube) in [
            ("raw", QosCube::Raw),
            ("best-effort", QosCube::BestEffort),
            ("video", QosCube::Video),
            ("voice", QosCube::Voice),
            ("data", QosCube::Data),
        ] {
            let spec = QosSpec::preset(name).expect("known preset");
            assert_eq!(spec.cube(), cube, "{name}");
            assert_eq!(QosCube::from_u8(cube as u8), Some(cube));
        }
        assert!(QosSpec::preset("gold").is_none());
        assert!(QosCube::from_u8(5).is_none());
    }
}
