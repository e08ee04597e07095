//! The report: machine description, the fifo-rpc-versus-floor table, every measured figure with
//! its spread over runs, and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::error::{Context, Result};
use crate::stats::Spread;
use crate::sys;

/// Every figure measured, by name, one value per run.
pub(crate) type Figures = BTreeMap<String, Vec<f64>>;

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub(crate) cpu_model: String,
    /// Online CPUs.
    pub(crate) nproc: usize,
    /// Kernel release.
    pub(crate) kernel: String,
    /// `PIPE_BUF`.
    pub(crate) pipe_buf: usize,
    /// /proc/sys/fs/pipe-max-size.
    pub(crate) pipe_max_size: usize,
    /// 1-, 5- and 15-minute load averages when the run started.
    pub(crate) loadavg: String,
}

impl Machine {
    /// Describes this machine.
    pub(crate) fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
            .unwrap_or_default();
        let pipe_max_size = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let loadavg = std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Self {
            cpu_model,
            nproc: sys::online_cpus(),
            kernel: sys::kernel_release(),
            pipe_buf: sys::pipe_buf(),
            pipe_max_size,
            loadavg,
        }
    }
}

/// Which direction of a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    /// Times, CPU, allocations.
    Lower,
    /// Rates.
    Higher,
}

/// One line of the comparison: a fifo-rpc figure against its floor.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Stable name (JSON `name`).
    pub(crate) name: String,
    /// Unit of both figures.
    pub(crate) unit: &'static str,
    /// Direction.
    pub(crate) better: Better,
    /// Figure name of the fifo-rpc measurement.
    pub(crate) fifo_rpc: String,
    /// Figure name of the floor measurement.
    pub(crate) floor: String,
}

/// Builds a row.
pub(crate) fn row(
    name: &str,
    unit: &'static str,
    better: Better,
    fifo_rpc: &str,
    floor: &str,
) -> Row {
    Row {
        name: name.to_owned(),
        unit,
        better,
        fifo_rpc: fifo_rpc.to_owned(),
        floor: floor.to_owned(),
    }
}

/// Everything a report shows.
pub(crate) struct Report<'a> {
    /// Where it ran.
    pub(crate) machine: &'a Machine,
    /// Comparison rows.
    pub(crate) rows: &'a [Row],
    /// Measured figures.
    pub(crate) figures: &'a Figures,
    /// UTC date and time of the start of the run.
    pub(crate) date: &'a str,
    /// The command line.
    pub(crate) command: &'a str,
    /// Whether this was a `--quick` run.
    pub(crate) quick: bool,
}

impl Report<'_> {
    fn spread(&self, name: &str) -> Option<Spread> {
        self.figures.get(name).and_then(|v| Spread::of(v))
    }

    /// The human-readable report.
    pub(crate) fn table(&self) -> String {
        let m = self.machine;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "fifo-rpc benchmark, {} ({}), `{}`",
            self.date,
            if self.quick { "quick" } else { "full" },
            self.command
        );
        let _ = writeln!(
            out,
            "machine: {}, {} CPUs, Linux {}, PIPE_BUF {}, pipe-max-size {}, load {}\n",
            m.cpu_model, m.nproc, m.kernel, m.pipe_buf, m.pipe_max_size, m.loadavg
        );
        let _ = writeln!(out, "| figure | unit | fifo-rpc | floor | ratio |");
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for r in self.rows {
            let rpc = self.spread(&r.fifo_rpc);
            let floor = self.spread(&r.floor);
            let ratio = ratio(rpc, floor)
                .map(|x| format!("{x:.2}x"))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                r.name,
                r.unit,
                fmt_spread(rpc),
                fmt_spread(floor),
                ratio
            );
        }
        let _ = writeln!(out, "\nAll figures (median [min-max] over runs):\n");
        let _ = writeln!(out, "| figure | median | min | max | runs |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for name in self.figures.keys() {
            if let Some(s) = self.spread(name) {
                let _ = writeln!(
                    out,
                    "| {name} | {} | {} | {} | {} |",
                    fmt_num(s.median),
                    fmt_num(s.min),
                    fmt_num(s.max),
                    s.runs
                );
            }
        }
        out
    }

    /// The JSON document: `{"machine", "results": [{"name","unit","fifo_rpc","floor","ratio"}],
    /// "figures"}` plus the date, command and mode.
    pub(crate) fn json(&self) -> serde_json::Value {
        let results: Vec<_> = self
            .rows
            .iter()
            .map(|r| {
                let rpc = self.spread(&r.fifo_rpc);
                let floor = self.spread(&r.floor);
                json!({
                    "name": r.name,
                    "unit": r.unit,
                    "better": match r.better { Better::Lower => "lower", Better::Higher => "higher" },
                    "fifo_rpc": rpc.map(|s| s.median),
                    "floor": floor.map(|s| s.median),
                    "ratio": ratio(rpc, floor),
                    "fifo_rpc_range": rpc.map(|s| [s.min, s.max]),
                    "floor_range": floor.map(|s| [s.min, s.max]),
                })
            })
            .collect();
        let figures: serde_json::Map<String, serde_json::Value> = self
            .figures
            .keys()
            .filter_map(|name| {
                self.spread(name).map(|s| {
                    (
                        name.clone(),
                        json!({"median": s.median, "min": s.min, "max": s.max, "runs": s.runs}),
                    )
                })
            })
            .collect();
        json!({
            "date": self.date,
            "command": self.command,
            "mode": if self.quick { "quick" } else { "full" },
            "machine": self.machine,
            "results": results,
            "figures": figures,
        })
    }

    /// Writes [`Report::json`] to `path`.
    pub(crate) fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.json()).context("encoding the report")?;
        std::fs::write(path, text + "\n").context(format_args!("writing {}", path.display()))
    }
}

fn ratio(rpc: Option<Spread>, floor: Option<Spread>) -> Option<f64> {
    match (rpc, floor) {
        (Some(r), Some(f)) if f.median != 0.0 => Some(r.median / f.median),
        _ => None,
    }
}

fn fmt_spread(s: Option<Spread>) -> String {
    match s {
        Some(s) if s.runs > 1 => format!(
            "{} [{}-{}]",
            fmt_num(s.median),
            fmt_num(s.min),
            fmt_num(s.max)
        ),
        Some(s) => fmt_num(s.median),
        None => "-".into(),
    }
}

/// Three significant digits for small numbers, thousands separated by `_` for large ones.
fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a >= 100_000.0 {
        let whole = x.round() as i64;
        let digits = whole.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push('_');
            }
            grouped.push(c);
        }
        if whole < 0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

/// The current UTC date and time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, mo, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_num(2.194), "2.19");
        assert_eq!(fmt_num(74.04), "74.0");
        assert_eq!(fmt_num(1_160_000.4), "1_160_000");
        assert_eq!(fmt_num(0.0012), "0.0012");
    }

    #[test]
    fn ratio_is_rpc_over_floor() {
        let rpc = Spread::of(&[3.0]);
        let floor = Spread::of(&[2.0]);
        assert_eq!(ratio(rpc, floor), Some(1.5));
        assert_eq!(ratio(rpc, None), None);
    }
}
