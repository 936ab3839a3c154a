//! Per-policy call metrics: calls, failures, latency percentiles, fuel.

use std::sync::Mutex;
use std::time::Duration;

/// How many recent call latencies the percentiles are computed over.
const WINDOW: usize = 4096;

/// Metrics of one loaded policy, shared by every user of it (interior mutability).
#[derive(Debug, Default)]
pub struct PolicyMetrics {
    /// The policy's name (the `policy` field of its log events).
    name: String,
    inner: Mutex<Inner>,
}

/// Guest log lines passed on to `tracing` per policy per second; the rest are counted and
/// reported in one line when the next second starts.
const TRACED_LINES_PER_SEC: u32 = 20;

#[derive(Debug, Default)]
struct Inner {
    calls: u64,
    failures: u64,
    fuel_used: u64,
    /// Ring of recent latencies in nanoseconds.
    latencies: Vec<u64>,
    next: usize,
    last_error: Option<String>,
    /// Recent guest log lines, oldest first.
    logs: std::collections::VecDeque<String>,
    /// Start of the current rate-limit second, lines traced in it, lines suppressed.
    log_window: Option<std::time::Instant>,
    traced_in_window: u32,
    suppressed_in_window: u64,
    logs_suppressed: u64,
}

/// Guest log lines kept per policy.
const LOG_LINES: usize = 64;

/// A point-in-time copy of [`PolicyMetrics`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Calls made.
    pub calls: u64,
    /// Calls that trapped, timed out, returned an error or invalid output.
    pub failures: u64,
    /// Fuel consumed over all calls (0 unless fuel metering is on).
    pub fuel_used: u64,
    /// Median latency over the recent calls.
    pub p50: Duration,
    /// 99th percentile latency over the recent calls.
    pub p99: Duration,
    /// The most recent failure, if any.
    pub last_error: Option<String>,
    /// Guest log lines not passed on to `tracing` (rate limit).
    pub logs_suppressed: u64,
}

impl PolicyMetrics {
    /// Metrics of the policy called `name`.
    pub fn named(name: &str) -> Self {
        PolicyMetrics {
            name: name.to_string(),
            inner: Mutex::default(),
        }
    }

    /// A guest log line at `level` (`trace` .. `error`): kept (see [`PolicyMetrics::logs`])
    /// and passed on to `tracing` with the policy's name, at most
    /// 20 lines per second per policy; the excess is counted and summarised.
    pub fn guest_log(&self, level: &str, message: &str) {
        self.log(format!("{level}: {message}"));
        let (trace, suppressed) = {
            let Ok(mut m) = self.inner.lock() else { return };
            let now = std::time::Instant::now();
            let mut suppressed = 0;
            if m.log_window
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
            {
                m.log_window = Some(now);
                m.traced_in_window = 0;
                suppressed = std::mem::take(&mut m.suppressed_in_window);
            }
            let trace = m.traced_in_window < TRACED_LINES_PER_SEC;
            if trace {
                m.traced_in_window += 1;
            } else {
                m.suppressed_in_window += 1;
                m.logs_suppressed += 1;
            }
            (trace, suppressed)
        };
        let policy = self.name.as_str();
        if suppressed > 0 {
            tracing::warn!(
                policy,
                suppressed,
                "policy log lines suppressed (rate limit)"
            );
        }
        if !trace {
            return;
        }
        match level {
            "error" => tracing::error!(policy, "{message}"),
            "warn" => tracing::warn!(policy, "{message}"),
            "info" => tracing::info!(policy, "{message}"),
            "debug" => tracing::debug!(policy, "{message}"),
            _ => tracing::trace!(policy, "{message}"),
        }
    }

    /// Record one call.
    pub fn record(&self, latency: Duration, fuel: u64, error: Option<String>) {
        let Ok(mut m) = self.inner.lock() else { return };
        m.calls += 1;
        m.fuel_used = m.fuel_used.saturating_add(fuel);
        if error.is_some() {
            m.failures += 1;
            m.last_error = error;
        }
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        if m.latencies.len() < WINDOW {
            m.latencies.push(ns);
        } else {
            let i = m.next;
            m.latencies[i] = ns;
        }
        m.next = (m.next + 1) % WINDOW;
    }

    /// Keep a guest log line (the oldest is dropped beyond 64).
    pub fn log(&self, line: String) {
        let Ok(mut m) = self.inner.lock() else { return };
        if m.logs.len() == LOG_LINES {
            m.logs.pop_front();
        }
        m.logs.push_back(line);
    }

    /// Recent guest log lines, oldest first.
    pub fn logs(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|m| m.logs.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A copy of the current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let Ok(m) = self.inner.lock() else {
            return MetricsSnapshot::default();
        };
        let mut sorted = m.latencies.clone();
        sorted.sort_unstable();
        let pct = |p: usize| -> Duration {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let i = ((sorted.len() - 1) * p).div_ceil(100);
            Duration::from_nanos(sorted[i.min(sorted.len() - 1)])
        };
        MetricsSnapshot {
            calls: m.calls,
            failures: m.failures,
            fuel_used: m.fuel_used,
            p50: pct(50),
            p99: pct(99),
            last_error: m.last_error.clone(),
            logs_suppressed: m.logs_suppressed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_counts() {
        let m = PolicyMetrics::default();
        for i in 1..=100 {
            let err = (i % 10 == 0).then(|| format!("e{i}"));
            m.record(Duration::from_micros(i), 2, err);
        }
        let s = m.snapshot();
        assert_eq!((s.calls, s.failures, s.fuel_used), (100, 10, 200));
        assert_eq!(s.p50, Duration::from_micros(51));
        assert_eq!(s.p99, Duration::from_micros(100));
        assert_eq!(s.last_error.as_deref(), Some("e100"));
    }

    #[test]
    fn guest_logs_are_kept_and_rate_limited() {
        let m = PolicyMetrics::named("chatty");
        for i in 0..50 {
            m.guest_log("info", &format!("line {i}"));
        }
        assert_eq!(m.logs().len(), 50);
        assert_eq!(m.logs()[0], "info: line 0");
        // Within one second only 20 lines reach tracing.
        assert_eq!(m.snapshot().logs_suppressed, 30);
    }
}
