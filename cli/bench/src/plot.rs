//! The report's plots (plotters, SVG backend) and the self-contained HTML
//! page that holds them: it opens from disk, with no server and no script.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plotters::prelude::*;

use crate::report::Report;

const SIZE: (u32, u32) = (760, 360);

/// The plots of a report, as SVG documents.
pub struct Plots {
    pub throughput: String,
    pub latency: String,
    pub block_time: String,
}

fn plot_error(what: &str, error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the {what} plot: {error}")
}

/// Draws the three plots.
pub fn draw(report: &Report) -> anyhow::Result<Plots> {
    Ok(Plots {
        throughput: throughput(report).map_err(|e| plot_error("throughput", e))?,
        latency: latency(report).map_err(|e| plot_error("latency", e))?,
        block_time: block_time(report).map_err(|e| plot_error("block time", e))?,
    })
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

fn throughput(report: &Report) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let samples = &report.throughput.per_second;
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = samples.len().max(1) as f64;
        let y_max = samples
            .iter()
            .map(|s| s.committed.max(s.submitted))
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption("Throughput over time", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("seconds from start")
            .y_desc("transactions per second")
            .draw()?;
        let series = |pick: fn(&crate::report::SecondSample) -> u64| {
            samples
                .iter()
                .map(move |s| (s.second as f64 + 0.5, pick(s) as f64))
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(LineSeries::new(
                series(|s| s.submitted),
                BLUE.stroke_width(2),
            ))?
            .label("submitted")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                series(|s| s.committed),
                GREEN.stroke_width(2),
            ))?
            .label("committed")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], GREEN.stroke_width(2)));
        if report.workload.warmup_seconds > 0.0 {
            let w = report.workload.warmup_seconds;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (w, y_max)],
                BLACK.mix(0.06).filled(),
            )))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

fn latency(report: &Report) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let bins = &report.latency_ms.histogram;
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = bins.last().map_or(1.0, |b| b.upper_ms).max(1e-3);
        let width = bins.first().map_or(1.0, |b| b.upper_ms);
        let y_max = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64 * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Submit → commit latency (p50 {:.1} ms, p99 {:.1} ms)",
                    report.latency_ms.p50, report.latency_ms.p99
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("latency (ms)")
            .y_desc("transactions")
            .draw()?;
        chart.draw_series(bins.iter().map(|b| {
            Rectangle::new(
                [(b.upper_ms - width, 0.0), (b.upper_ms, b.count as f64)],
                BLUE.mix(0.7).filled(),
            )
        }))?;
        for (p, value) in [
            ("p50", report.latency_ms.p50),
            ("p99", report.latency_ms.p99),
        ] {
            chart
                .draw_series(LineSeries::new(
                    vec![(value, 0.0), (value, y_max)],
                    RED.stroke_width(1),
                ))?
                .label(format!("{p} {value:.1} ms"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

fn block_time(report: &Report) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let blocks = &report.blocks.per_block;
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = blocks.last().map_or(1.0, |b| b.at_ms / 1000.0).max(1e-3) * 1.02;
        let y_max = blocks
            .iter()
            .map(|b| b.interval_ms)
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Block time ({} blocks, {:.1} tx per block on average)",
                    report.blocks.count, report.blocks.transactions_mean
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("seconds from start")
            .y_desc("ms since the previous block")
            .draw()?;
        chart.draw_series(LineSeries::new(
            blocks
                .iter()
                .skip(1)
                .map(|b| (b.at_ms / 1000.0, b.interval_ms)),
            MAGENTA.stroke_width(1),
        ))?;
        chart.draw_series(
            blocks
                .iter()
                .skip(1)
                .map(|b| Circle::new((b.at_ms / 1000.0, b.interval_ms), 2, MAGENTA.filled())),
        )?;
        root.present()?;
    }
    Ok(svg)
}

/// The files a report is written to.
pub struct Written {
    pub json: PathBuf,
    pub html: PathBuf,
    pub svgs: Vec<PathBuf>,
}

/// Writes `bench-report.json`, `bench-report.html` and the plots as
/// `bench-throughput.svg`, `bench-latency.svg`, `bench-block-time.svg` into `dir`.
pub fn write_all(report: &Report, dir: &Path) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = dir.join("bench-report.json");
    report.write(&json)?;
    let plots = draw(report)?;
    let mut svgs = Vec::new();
    for (name, svg) in [
        ("bench-throughput.svg", &plots.throughput),
        ("bench-latency.svg", &plots.latency),
        ("bench-block-time.svg", &plots.block_time),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        svgs.push(path);
    }
    let html = dir.join("bench-report.html");
    std::fs::write(&html, html_page(report, &plots))
        .with_context(|| format!("writing {}", html.display()))?;
    Ok(Written { json, html, svgs })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The figures as (label, value) rows, shared by the page and the terminal.
pub fn summary_rows(report: &Report) -> Vec<(String, String)> {
    let t = &report.transactions;
    let l = &report.latency_ms;
    let b = &report.blocks;
    let p = &report.process;
    let g = &report.generator;
    let mut rows = vec![
        ("target".to_owned(), report.target.clone()),
        (
            "transactions".to_owned(),
            format!(
                "{} submitted, {} accepted, {} committed, {} failed ({} in warm-up)",
                t.submitted, t.accepted, t.committed, t.failed, t.warmup
            ),
        ),
    ];
    for (reason, count) in &t.failures {
        rows.push(("  failed".to_owned(), format!("{count} × {reason}")));
    }
    rows.extend([
        (
            "throughput".to_owned(),
            format!(
                "{:.1} tx/s committed ({:.1} tx/s offered) over {:.1} s",
                report.throughput.committed_tps,
                report.throughput.submitted_tps,
                report.throughput.measured_seconds
            ),
        ),
        (
            "latency".to_owned(),
            format!(
                "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
                l.p50, l.p90, l.p99, l.max, l.samples
            ),
        ),
        (
            "blocks".to_owned(),
            format!(
                "{} blocks, {:.1} tx/block (max {}), interval mean {:.1} ms, p50 {:.1} ms, max {:.1} ms, {} round change(s){}",
                b.count,
                b.transactions_mean,
                b.transactions_max,
                b.interval_ms_mean,
                b.interval_ms_p50,
                b.interval_ms_max,
                b.round_changes,
                b.round_timeouts
                    .map_or_else(String::new, |t| format!(", {t} round timer expiries on node 0"))
            ),
        ),
        (
            "process".to_owned(),
            format!(
                "{}: CPU {:.2} cores mean, {:.2} max; RSS {:.0} MiB max",
                p.role, p.cpu_cores_mean, p.cpu_cores_max, p.rss_mib_max
            ),
        ),
        (
            "generator".to_owned(),
            format!(
                "signed {} tx in {:.2} s ({:.0} tx/s) before the run; ceiling {}; most behind schedule {:.1} ms",
                report.workload.planned_transactions,
                g.presign_seconds,
                g.presign_tps,
                g.ceiling_tps
                    .map_or_else(|| "not measured".to_owned(), |c| format!("{c:.0} tx/s")),
                g.max_lag_ms
            ),
        ),
    ]);
    rows
}

fn html_page(report: &Report, plots: &Plots) -> String {
    let rows: String = summary_rows(report)
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>\n", escape(k), escape(v)))
        .collect();
    let figure = |id: &str, svg: &str| {
        // Drop the XML prolog: the SVG sits inside HTML.
        let svg = svg.trim_start();
        let svg = if svg.starts_with("<?xml") {
            svg.split_once("?>").map_or(svg, |(_, rest)| rest)
        } else {
            svg
        };
        format!("<figure id=\"{id}\" class=\"plot\">{svg}</figure>\n")
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>forja bench report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th {{ text-align: left; padding: 0.2em 1em 0.2em 0; vertical-align: top; }}
td {{ padding: 0.2em 0; }}
figure.plot {{ margin: 0 0 1.5em 0; }}
</style>
</head>
<body>
<h1>forja bench</h1>
<p>Workload: {calls}; {senders} senders; {shape}.</p>
<table id="summary">
{rows}</table>
{throughput}{latency}{block_time}<p>Figures: bench-report.json (the same data, fields documented in forja-bench's docs).</p>
</body>
</html>
"#,
        calls = escape(&report.workload.calls.join(", ")),
        senders = report.workload.senders,
        shape = escape(&report.workload.shape.to_string()),
        throughput = figure("plot-throughput", &plots.throughput),
        latency = figure("plot-latency", &plots.latency),
        block_time = figure("plot-block-time", &plots.block_time),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{self, BlockSample, SecondSample};

    #[test]
    fn plots_hold_their_text_and_data() {
        let mut report = report::tests::sample();
        report.throughput.per_second = (0..5)
            .map(|second| SecondSample {
                second,
                submitted: 100,
                committed: 90 + second,
            })
            .collect();
        report.latency_ms = report::latency((1..=200).map(|i| i as f64 / 4.0).collect());
        report.blocks.per_block = (0..10)
            .map(|i| BlockSample {
                number: i,
                at_ms: i as f64 * 100.0,
                interval_ms: 100.0,
                transactions: 20,
                round: Some(0),
            })
            .collect();
        let plots = draw(&report).unwrap();
        // Text is drawn as SVG <text> (no font files needed), data as paths and rects.
        assert!(plots.throughput.contains("Throughput over time"));
        assert!(plots.throughput.contains("<polyline"));
        assert!(plots.latency.contains("<rect"));
        assert!(plots.latency.contains("p50"));
        assert!(plots.block_time.contains("<circle"));

        let dir = tempfile::tempdir().unwrap();
        let written = write_all(&report, dir.path()).unwrap();
        let html = std::fs::read_to_string(&written.html).unwrap();
        for id in ["plot-throughput", "plot-latency", "plot-block-time"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(!html.contains("<?xml"));
        let back = Report::load(&written.json).unwrap();
        assert_eq!(back.latency_ms.samples, 200);
        assert_eq!(written.svgs.len(), 3);
    }
}
