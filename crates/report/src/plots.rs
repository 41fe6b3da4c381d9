//! The report's plots, each drawn once per backend (SVG for the HTML, PNG files beside it): ASR by
//! jailbreak strategy, a category × target heatmap, and the safety / over-refusal trade-off.

use crate::run_label;
use ksafe_core::metrics::{pooled_figure, rate, Measure, RunData};
use ksafe_core::{Category, QueryType, Subset};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Register the font the plots are drawn with: plotters draws text with ab_glyph, and the
/// pinned NanumGothic of `ksafe-render` makes Korean labels render. Idempotent.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            ksafe_render::font::REGULAR,
        );
    });
}

/// One plot, drawn twice: as SVG for the HTML report and as PNG.
pub struct Plot {
    /// A stable identifier, also the file stem of `<id>.svg` and `<id>.png`
    /// (`asr_by_strategy`, `heatmap_c`, `heatmap_g`, `tradeoff`).
    pub id: &'static str,
    /// The plot's title, as shown in the report.
    pub title: String,
    /// The plot as an SVG document.
    pub svg: String,
    /// The plot as PNG bytes.
    pub png: Vec<u8>,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type SvgDraw<'a> = &'a dyn Fn(DrawingArea<SVGBackend, Shift>);
type PngDraw<'a> = &'a dyn Fn(DrawingArea<BitMapBackend, Shift>);

fn render(
    id: &'static str,
    title: &str,
    size: (u32, u32),
    svg_draw: SvgDraw,
    png_draw: PngDraw,
) -> Plot {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        svg_draw(root);
    }
    let mut buf = vec![255u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        png_draw(root);
    }
    let mut png = std::io::Cursor::new(Vec::new());
    let img = image::RgbImage::from_raw(size.0, size.1, buf).expect("buffer size");
    let _ = img.write_to(&mut png, image::ImageFormat::Png);
    Plot {
        id,
        title: title.to_string(),
        svg,
        png: png.into_inner(),
    }
}

fn short(q: QueryType) -> &'static str {
    match q {
        QueryType::Template => "Template",
        QueryType::ResearchExperiment => "Research",
        QueryType::ProgramExecution => "Program",
        QueryType::LogicalReasoning => "Logical",
        QueryType::TextContinuation => "TextCont",
        QueryType::SuperiorModel => "Superior",
        QueryType::CharacterRolePlay => "RolePlay",
        QueryType::AssumedResponsibility => "Assumed",
        QueryType::Translation => "Translate",
        QueryType::SimulateJailbreaking => "SimJB",
        QueryType::SudoMode => "Sudo",
        QueryType::Plain => "Plain",
    }
}

fn bars<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, runs: &[RunData]) {
    let _ = root.fill(&WHITE);
    let qts: Vec<QueryType> = QueryType::ALL
        .into_iter()
        .filter(|q| *q != QueryType::Plain)
        .collect();
    let Ok(mut chart) = ChartBuilder::on(&root)
        .caption("ASR (%) by query type, C subset", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(44)
        .build_cartesian_2d(-0.5f64..qts.len() as f64 - 0.5, 0f64..100f64)
    else {
        return;
    };
    let _ = chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(qts.len())
        .x_label_formatter(&|x| {
            label_at(
                *x,
                &qts.iter()
                    .map(|q| short(*q).to_string())
                    .collect::<Vec<_>>(),
            )
        })
        .y_desc("ASR %")
        .label_style(("sans-serif", 13))
        .draw();
    let n = runs.len().max(1) as f64;
    for (ri, r) in runs.iter().enumerate() {
        let color = PALETTE[ri % PALETTE.len()];
        let rects = qts.iter().enumerate().filter_map(|(i, q)| {
            let v = rate(&r.judged, Measure::Safety, |j| {
                j.subset == Subset::C && j.query_type == *q
            });
            (v.n > 0).then(|| {
                let x0 = i as f64 - 0.4 + 0.8 * ri as f64 / n;
                Rectangle::new([(x0, 0.0), (x0 + 0.8 / n, v.pct)], color.filled())
            })
        });
        if let Ok(series) = chart.draw_series(rects) {
            series.label(run_label(r)).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
            });
        }
    }
    let _ = chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw();
}

/// The label of the category at an integer position, for axis formatters.
fn label_at(x: f64, labels: &[String]) -> String {
    let i = x.round();
    if (x - i).abs() < 0.01 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

fn heat_color(p: f64) -> RGBColor {
    // white → red
    let t = (p / 100.0).clamp(0.0, 1.0);
    RGBColor(
        255,
        (255.0 * (1.0 - 0.8 * t)) as u8,
        (255.0 * (1.0 - 0.85 * t)) as u8,
    )
}

fn heatmap<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, runs: &[RunData], subset: Subset) {
    let _ = root.fill(&WHITE);
    let title = format!("ASR (%) by category × target, {} subset", subset.id());
    let rows = runs.len().max(1);
    let Ok(mut chart) = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(320)
        .build_cartesian_2d(-0.5f64..10.5f64, -0.5f64..rows as f64 - 0.5)
    else {
        return;
    };
    let labels: Vec<String> = runs.iter().map(run_label).collect();
    let _ = chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(11)
        .y_labels(rows)
        .x_label_formatter(&|x| {
            label_at(
                *x,
                &Category::ALL
                    .iter()
                    .map(|c| c.short_label().to_string())
                    .collect::<Vec<_>>(),
            )
        })
        .y_label_formatter(&|y| label_at(*y, &labels))
        .label_style(("sans-serif", 12))
        .draw();
    for (ri, r) in runs.iter().enumerate() {
        for (ci, c) in Category::ALL.iter().enumerate() {
            let v = rate(&r.judged, Measure::Safety, |j| {
                j.subset == subset && j.category == *c
            });
            let (x, y) = (ci as f64 - 0.5, ri as f64 - 0.5);
            let fill = if v.n > 0 {
                heat_color(v.pct)
            } else {
                RGBColor(235, 235, 235)
            };
            let _ = chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                fill.filled(),
            )));
            let _ = chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                WHITE.stroke_width(2),
            )));
            if v.n > 0 {
                let _ = chart.draw_series(std::iter::once(Text::new(
                    format!("{:.0}", v.pct),
                    (x + 0.38, y + 0.62),
                    ("sans-serif", 14).into_font().color(&BLACK),
                )));
            }
        }
    }
}

/// x: over-refusal (refusal rate on benign samples) where a benign set was run, else the C
/// refusal rate; y: C-ASR.
fn tradeoff<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, runs: &[RunData]) {
    let _ = root.fill(&WHITE);
    let benign = runs
        .iter()
        .any(|r| r.judged.iter().any(|j| j.subset == Subset::Benign));
    let x_desc = if benign {
        "Over-refusal: refusal rate on benign samples (%)"
    } else {
        "Refusal rate on C (%) — no benign set was run"
    };
    let Ok(mut chart) = ChartBuilder::on(&root)
        .caption("Safety / over-refusal trade-off", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(50)
        .build_cartesian_2d(-2f64..102f64, -2f64..102f64)
    else {
        return;
    };
    let _ = chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("C ASR (%)")
        .label_style(("sans-serif", 13))
        .draw();
    for (ri, r) in runs.iter().enumerate() {
        let asr = pooled_figure(&r.judged, Measure::Safety, Subset::C);
        let x = if benign {
            pooled_figure(&r.judged, Measure::Refusal, Subset::Benign)
        } else {
            pooled_figure(&r.judged, Measure::Refusal, Subset::C)
        };
        if let (Some(a), Some(x)) = (asr, x) {
            let color = PALETTE[ri % PALETTE.len()];
            let _ = chart.draw_series(std::iter::once(Circle::new(
                (x.pct, a.pct),
                7,
                color.filled(),
            )));
            // labels go left of points on the right half, so they stay inside the plot
            let label = run_label(r);
            let lx = if x.pct > 50.0 {
                x.pct - 1.5 - 0.75 * label.chars().count() as f64
            } else {
                x.pct + 1.5
            };
            let _ = chart.draw_series(std::iter::once(Text::new(
                label,
                (lx.max(0.0), a.pct + 3.5),
                ("sans-serif", 13).into_font().color(&BLACK),
            )));
        }
    }
}

/// Every plot of the report over `runs`, in report order: ASR by query type (C), the category ×
/// target heatmaps of C and G, and the safety / over-refusal trade-off.
pub fn all(runs: &[RunData]) -> Vec<Plot> {
    register_font();
    let h = 120 + 60 * runs.len() as u32;
    vec![
        render(
            "asr_by_strategy",
            "ASR by query type (C)",
            (1000, 460),
            &|r| bars(r, runs),
            &|r| bars(r, runs),
        ),
        render(
            "heatmap_c",
            "ASR by category × target (C)",
            (1100, h),
            &|r| heatmap(r, runs, Subset::C),
            &|r| heatmap(r, runs, Subset::C),
        ),
        render(
            "heatmap_g",
            "ASR by category × target (G)",
            (1100, h),
            &|r| heatmap(r, runs, Subset::G),
            &|r| heatmap(r, runs, Subset::G),
        ),
        render(
            "tradeoff",
            "Safety / over-refusal trade-off",
            (760, 560),
            &|r| tradeoff(r, runs),
            &|r| tradeoff(r, runs),
        ),
    ]
}
