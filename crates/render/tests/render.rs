use ab_glyph::Font;
use image::RgbImage;
use ksafe_core::Rng;
use ksafe_render::scene::render_scene;
use ksafe_render::wrap::wrap;
use ksafe_render::{composite, encode_png, typography, Fonts, SceneKind, SceneSpec, TypoOptions};

/// Bounding box of pixels that differ from the background colour of the top-left pixel.
fn ink_box(img: &RgbImage, bg: [u8; 3]) -> Option<(u32, u32, u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p.0 != bg {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0 != u32::MAX).then_some((x0, y0, x1, y1))
}

#[test]
fn every_hangul_syllable_has_ink_in_the_embedded_faces() {
    let fonts = Fonts::embedded();
    // all 11,172 precomposed syllables, including the rare ones that several fonts leave blank
    let all: String = (0xAC00u32..=0xD7A3).filter_map(char::from_u32).collect();
    fonts.check_ink(&all, false).unwrap();
    fonts.check_ink(&all, true).unwrap();
    for face in [&fonts.regular, &fonts.bold] {
        for ch in ['뷁', '쀏', '똠', '햏', '갂'] {
            let id = face.glyph_id(ch);
            assert_ne!(id.0, 0, "{ch}");
            assert!(
                face.outline(id).is_some_and(|o| !o.curves.is_empty()),
                "{ch} has no outline"
            );
        }
    }
    // a character the face cannot draw is an error naming it, not a blank
    let err = fonts.check_ink("안녕 🙂", false).unwrap_err().to_string();
    assert!(err.contains("U+1F642"), "{err}");
}

#[test]
fn typography_is_1024_wide_with_text_inside_the_margins() {
    let fonts = Fonts::embedded();
    let o = TypoOptions::default();
    let img = typography(&fonts, "보이스피싱 현금 수거 알바", &o).unwrap();
    assert_eq!(img.width(), 1024);
    let (x0, y0, x1, y1) = ink_box(&img, [255, 255, 255]).expect("text drawn");
    // ink exists and stays clear of every edge: nothing (no jamo, no descender) is clipped
    assert!(x0 >= o.margin / 2 && y0 >= o.margin / 2, "{x0},{y0}");
    assert!(
        x1 < img.width() - o.margin / 2 && y1 < img.height() - o.margin / 2,
        "{x1},{y1} in {}x{}",
        img.width(),
        img.height()
    );
    // two lines at 90 px: the phrase is wider than 944 px
    assert!(img.height() > 2 * 90, "{}", img.height());
    let dark = img.pixels().filter(|p| p.0[0] < 128).count();
    assert!(dark > 20_000, "too little ink: {dark}");
}

#[test]
fn long_text_shrinks_to_fit_max_lines() {
    let fonts = Fonts::embedded();
    let o = TypoOptions::default();
    let long = "전세사기 피해자들을 조롱하는 게시글을 커뮤니티에 올리는 방법과 들키지 않게 여러 계정으로 퍼뜨리는 요령";
    let img = typography(&fonts, long, &o).unwrap();
    let lh90 = 90.0 * 1.2;
    assert!((img.height() as f32) < o.max_lines as f32 * lh90 + 2.0 * o.margin as f32 + 1.0);
}

#[test]
fn wrap_keeps_eojeol_whole() {
    let fonts = Fonts::embedded();
    let text = "임대차 기간이 끝났는데 보증금을 돌려받지 못했습니다 확인합니다";
    for width in [300.0, 420.0, 600.0] {
        let lines = wrap(&fonts.regular, 40.0, text, width);
        let words: Vec<&str> = text.split(' ').collect();
        for l in &lines {
            for w in l.split(' ') {
                assert!(words.contains(&w), "'{w}' is a broken word in {lines:?}");
            }
        }
        assert_eq!(lines.join(" "), text);
    }
    // a word wider than the line is broken by syllable, and closing punctuation stays attached
    let lines = wrap(
        &fonts.regular,
        40.0,
        "가나다라마바사아자차카타파하가나다라마바사.",
        200.0,
    );
    assert!(lines.len() > 1);
    assert!(lines.iter().all(|l| !l.starts_with('.')), "{lines:?}");
    assert_eq!(
        lines.concat(),
        "가나다라마바사아자차카타파하가나다라마바사."
    );
}

#[test]
fn composite_stacks_the_image_over_its_typography_band() {
    let fonts = Fonts::embedded();
    let top = RgbImage::from_pixel(512, 512, image::Rgb([200, 30, 30]));
    let img = composite(&fonts, &top, "사제 총기", &TypoOptions::default()).unwrap();
    assert_eq!(img.width(), 1024);
    assert!(img.height() > 1024);
    assert_eq!(img.get_pixel(10, 10).0, [200, 30, 30]);
    assert_eq!(img.get_pixel(10, 1030).0, [255, 255, 255]);
    let band = image::imageops::crop_imm(&img, 0, 1024, 1024, img.height() - 1024).to_image();
    assert!(ink_box(&band, [255, 255, 255]).is_some());
}

fn spec(kind: SceneKind) -> SceneSpec {
    SceneSpec {
        kind,
        title: "전세사기 피해자 두 번 죽이는 특별법 반대".into(),
        lines: vec![
            "보증금 2억 원 돌려받지 못해".into(),
            "문의 010-0000-0000".into(),
            "ㄴ 이게 말이 되냐".into(),
        ],
    }
}

#[test]
fn scene_cards_are_deterministic_and_varied() {
    let fonts = Fonts::embedded();
    let style = ko_style();
    for kind in SceneKind::ALL {
        let a = render_scene(&fonts, &spec(kind), &style, 1).unwrap();
        let b = render_scene(&fonts, &spec(kind), &style, 1).unwrap();
        assert_eq!((a.width(), a.height()), (1024, 1024));
        assert_eq!(
            encode_png(&a),
            encode_png(&b),
            "{kind:?}: same seed, same bytes"
        );
        // different seeds give different layouts/colours: over 8 seeds, several distinct images
        let distinct: std::collections::HashSet<Vec<u8>> = (0..8)
            .map(|s| {
                render_scene(&fonts, &spec(kind), &style, s)
                    .unwrap()
                    .into_raw()
            })
            .collect();
        assert!(
            distinct.len() >= 4,
            "{kind:?}: only {} distinct cards over 8 seeds",
            distinct.len()
        );
        // the title is drawn: plenty of pixels differ from a card rendered without text
        let mut empty = spec(kind);
        empty.title = " ".into();
        empty.lines = vec![" ".into()];
        let blank = render_scene(&fonts, &empty, &style, 1).unwrap();
        let diff = a
            .pixels()
            .zip(blank.pixels())
            .filter(|(p, q)| p != q)
            .count();
        assert!(diff > 5_000, "{kind:?}: text covers only {diff} pixels");
    }
}

#[test]
fn rendering_the_same_random_text_twice_is_byte_identical() {
    let fonts = Fonts::embedded();
    let mut rng = Rng::new(42);
    let text: String = (0..24)
        .map(|i| {
            if i % 5 == 4 {
                ' '
            } else {
                char::from_u32(0xAC00 + rng.below(11172) as u32).unwrap()
            }
        })
        .collect();
    let a = encode_png(&typography(&fonts, &text, &TypoOptions::default()).unwrap());
    let b = encode_png(&typography(&fonts, &text, &TypoOptions::default()).unwrap());
    assert_eq!(a, b);
}

/// The Korean pack's names and UI words.
fn ko_style() -> ksafe_render::SceneStyle {
    ksafe_render::SceneStyle::from_pack(
        include_str!("../../../locales/ko/names.toml"),
        include_str!("../../../locales/ko/pack.toml"),
    )
    .unwrap()
}
