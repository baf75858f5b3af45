//! Latency percentiles (nearest rank) of measured durations.

use serde::Serialize;
use std::time::Duration;

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

pub fn latency(samples: &[Duration]) -> Latency {
    if samples.is_empty() {
        return Latency::default();
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // Nearest rank.
    let pick = |p: f64| ms[((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Latency {
        count: ms.len(),
        p50_ms: pick(50.0),
        p90_ms: pick(90.0),
        p99_ms: pick(99.0),
        max_ms: *ms.last().unwrap(),
        mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}
