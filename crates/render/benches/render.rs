//! Rendering throughput: images per second on one and two threads (`cargo bench -p ksafe-render`).
//! Prints the median of several rounds; these machines are noisy, so compare medians.

use ksafe_render::scene::render_scene;
use ksafe_render::{encode_png, typography, Fonts, SceneKind, SceneSpec, TypoOptions};
use std::time::Instant;

fn work(i: usize, fonts: &Fonts, style: &ksafe_render::SceneStyle) -> usize {
    let kind = SceneKind::ALL[i % SceneKind::ALL.len()];
    let spec = SceneSpec {
        kind,
        title: format!("보이스피싱 현금 수거 고액 알바 모집 {i}"),
        lines: vec![
            "오늘 역삼역에서 현금만 받아서 전달하면 일당 50만원".into(),
            "신분증 사진 먼저 보내주세요".into(),
            "ㄴ 그거 수거책이에요 하지 마세요".into(),
        ],
    };
    let a = encode_png(&render_scene(fonts, &spec, style, i as u64).unwrap());
    let b = encode_png(&typography(fonts, "현금 수거 알바", &TypoOptions::default()).unwrap());
    a.len() + b.len()
}

fn round(threads: usize, n: usize, fonts: &Fonts, style: &ksafe_render::SceneStyle) -> f64 {
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            s.spawn(move || {
                let mut bytes = 0;
                for i in (k..n).step_by(threads) {
                    bytes += work(i, fonts, style);
                }
                bytes
            });
        }
    });
    // each unit of work is two images: a scene card and a typography image
    (2 * n) as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let fonts = Fonts::embedded();
    let style = ko_style();
    let n = 70;
    round(1, 14, &fonts, &style); // warm-up
    for threads in [1, 2] {
        let mut rates: Vec<f64> = (0..5).map(|_| round(threads, n, &fonts, &style)).collect();
        rates.sort_by(|a, b| a.total_cmp(b));
        println!(
            "render+png: {threads} thread(s): median {:.1} images/s (min {:.1}, max {:.1}; {} images per round, scene cards and typography alternating)",
            rates[2], rates[0], rates[4], 2 * n
        );
    }
}

/// The Korean pack's names and UI words.
fn ko_style() -> ksafe_render::SceneStyle {
    ksafe_render::SceneStyle::from_pack(
        include_str!("../../../locales/ko/names.toml"),
        include_str!("../../../locales/ko/pack.toml"),
    )
    .unwrap()
}
