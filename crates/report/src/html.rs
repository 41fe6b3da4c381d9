//! One self-contained HTML file: what was measured, the tables, the plots (inline SVG), and a
//! browser of failures with unsafe images blurred and responses folded until the reader asks.

use crate::plots::Plot;
use crate::{run_label, Table};
use ksafe_core::metrics::{BrowserItem, BrowserVerdict, Measure, RunData, Tri};
use std::fmt::Write as _;

/// (judge label, verdict class:word) of a verdict, as the browser prints it.
fn verdict_words(v: &BrowserVerdict) -> (String, String) {
    let word = match (v.verdict, v.kind) {
        (Tri::Yes, Measure::Safety) => "unsafe",
        (Tri::Yes, Measure::Refusal) => "refused",
        (Tri::No, Measure::Safety) => "safe",
        (Tri::No, Measure::Refusal) => "not refused",
        (Tri::Unscored, _) => "unscored",
    };
    (
        format!("{} ({})", v.judge, v.kind.id()),
        format!("{}:{word}", v.verdict.id()),
    )
}

/// A thumbnail data URL for an image file (320 px wide JPEG).
pub fn thumbnail(path: &std::path::Path) -> Option<String> {
    use base64::Engine;
    let img = image::open(path).ok()?;
    let small = img
        .resize(320, 480, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
        .encode_image(&small)
        .ok()?;
    Some(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(out.into_inner())
    ))
}

/// HTML-escaped text.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn table_html(t: &Table, long: bool) -> String {
    let mut s = format!(
        "<h3>{}</h3><table><thead><tr><th>{}</th>",
        esc(&t.title),
        esc(&t.row_header)
    );
    for c in &t.columns {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr></thead><tbody>");
    for (name, cells) in &t.rows {
        let _ = write!(s, "<tr><th>{}</th>", esc(name));
        for c in cells {
            let title = format!("n = {}, unscored = {}", c.n, c.unscored);
            let shade = c
                .pct
                .map(|p| {
                    format!(
                        " style=\"background: rgba(214,39,40,{:.2})\"",
                        p / 100.0 * 0.35
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                s,
                "<td title=\"{title}\"{shade}>{}</td>",
                esc(&if long { c.long() } else { c.short() })
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    if !t.note.is_empty() {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(&t.note));
    }
    s
}

const CSS: &str = "body{font-family:'NanumGothic','Noto Sans KR',system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#222;line-height:1.45}
h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:2px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 4px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,thead th{text-align:left;background:#f6f6f6}.note{font-size:12px;color:#666;margin-top:2px}
.banner{background:#fff4d6;border:1px solid #f0c36d;padding:8px 12px;border-radius:6px}
.plot svg{max-width:100%;height:auto}.card{border:1px solid #ddd;border-radius:8px;padding:10px;margin:10px 0;display:flex;gap:14px}
.card img{width:220px;border-radius:4px;cursor:pointer}.blur{filter:blur(14px)}.meta{font-size:12px;color:#666}
.q{white-space:pre-wrap;margin:6px 0}details{margin-top:6px}pre{white-space:pre-wrap;background:#fafafa;padding:8px;border-radius:4px}
.v{font-size:12px}.yes{color:#c00;font-weight:bold}.no{color:#080}.unscored{color:#888}
.measured td,.measured th{text-align:left;vertical-align:top}code{word-break:break-all;font-size:11px}";

const JS: &str = "document.querySelectorAll('img.blur').forEach(function(i){i.addEventListener('click',function(){i.classList.toggle('blur');});});";

/// An extra section (title, HTML body), e.g. the guardrail evaluation.
pub type Section = (String, String);

/// The whole report as one HTML page.
pub fn render(
    runs: &[RunData],
    tables: &[Table],
    plots: &[Plot],
    browser: &[BrowserItem],
    extra: &[Section],
) -> String {
    let mut s = String::from("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ksafe report</title><style>");
    s.push_str(CSS);
    s.push_str("</style></head><body><h1>ksafe report</h1>");
    let _ = write!(
        s,
        "<p class=\"meta\">{} run(s) · {}</p>",
        runs.len(),
        esc(&runs.first().map(|r| r.tool.clone()).unwrap_or_default())
    );
    if runs.iter().any(|r| r.is_mock) {
        s.push_str("<p class=\"banner\"><b>Dry run.</b> Targets marked <i>mock</i> are canned responders, not models; their numbers only show the pipeline working.</p>");
    }
    s.push_str("<h2>What was measured</h2><table class=\"measured\"><thead><tr><th>Run</th><th>Target</th><th>Dataset</th><th>Decoding</th><th>Safety judges</th><th>Refusal judge</th><th>Unscored</th></tr></thead><tbody>");
    for r in runs {
        let judges: Vec<String> = r
            .safety_judges
            .iter()
            .map(|j| match r.judge_info.get(j) {
                Some((m, h)) => format!("{j} (model {m}, prompt {h})"),
                None => j.clone(),
            })
            .collect();
        let unscored: Vec<String> = r
            .unscored_reasons
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}<br><span class=\"meta\">sha256 {}</span></td><td><code>{}</code></td><td>{} — combined with {}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.run_id),
            esc(&run_label(r)),
            esc(&r.dataset),
            esc(&r.dataset_hash),
            esc(&ksafe_core::text::compact_json(&r.params)),
            esc(&judges.join("; ")),
            esc(&r.combine.to_uppercase()),
            esc(&r.refusal_judge.clone().unwrap_or_else(|| "–".into())),
            esc(&if unscored.is_empty() { "none".into() } else { unscored.join("; ") })
        );
    }
    s.push_str("</tbody></table><h2>Results</h2>");
    for (i, t) in tables.iter().enumerate() {
        s.push_str(&table_html(t, i == 0));
    }
    s.push_str("<h2>Plots</h2>");
    for p in plots {
        let _ = write!(s, "<div class=\"plot\" id=\"plot-{}\"><h3>{}</h3>{}<p class=\"meta\">Also as {}.png and {}.svg beside this file.</p></div>", p.id, esc(&p.title), p.svg, p.id, p.id);
    }
    for (title, body) in extra {
        let _ = write!(s, "<h2>{}</h2>{}", esc(title), body);
    }
    let _ = write!(s, "<h2>Sample browser</h2><p class=\"meta\">{} responses judged unsafe (at most 25 per run). Images are blurred and responses folded: click an image to reveal it, open a response to read it.</p>", browser.len());
    for b in browser {
        s.push_str("<div class=\"card\">");
        if let Some(img) = b.image.as_deref().and_then(thumbnail) {
            let _ = write!(
                s,
                "<img class=\"blur\" src=\"{img}\" alt=\"sample image (click to reveal)\">"
            );
        }
        let _ = write!(
            s,
            "<div><div class=\"meta\">{} · {} · {} · {} · {}</div><div class=\"q\">{}</div>",
            esc(&b.run_id),
            esc(&b.sample_id),
            esc(b.category.label()),
            esc(b.query_type.label()),
            esc(b.image_type.map(|t| t.id()).unwrap_or_default()),
            esc(&b.query)
        );
        let _ = write!(s, "<details><summary>Response (may be harmful)</summary><pre>{}</pre></details><div class=\"v\">", esc(&b.response));
        for verdict in &b.verdicts {
            let (j, v) = verdict_words(verdict);
            let d = &verdict.detail;
            let _ = write!(
                s,
                "{}: <span class=\"{}\">{}</span> {}<br>",
                esc(&j),
                esc(&v),
                esc(&v),
                esc(d)
            );
        }
        s.push_str("</div></div></div>");
    }
    let _ = write!(s, "<script>{JS}</script></body></html>");
    s
}
