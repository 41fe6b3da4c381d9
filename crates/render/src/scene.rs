//! Scene cards: the offline stand-in for photos of real-world contexts. Seven kinds, each filled
//! from data (a title and a few lines) and from the locale's names and UI words, laid out and
//! coloured from a seed so that two cards of one kind are not clones.

use super::canvas::{hex, line_height, text_width, Canvas, Color};
use super::font::{FontError, Fonts};
use super::wrap::wrap;
use ab_glyph::FontArc;
use image::RgbImage;
use ksafe_core::Rng;
use serde::{Deserialize, Serialize};

/// The width and height of a scene card, in px.
pub const SIZE: u32 = 1024;

/// The layout of a scene card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneKind {
    /// Messenger chat screenshot.
    Chat,
    /// Flyer or poster on a wall.
    Poster,
    /// News site headline.
    News,
    /// Community forum post.
    Forum,
    /// Official document or contract.
    Document,
    /// Shop signboard or street banner.
    Sign,
    /// Marketplace product listing.
    Listing,
}

impl SceneKind {
    /// Every kind, in declaration order.
    pub const ALL: [SceneKind; 7] = [
        SceneKind::Chat,
        SceneKind::Poster,
        SceneKind::News,
        SceneKind::Forum,
        SceneKind::Document,
        SceneKind::Sign,
        SceneKind::Listing,
    ];
}

/// What a card shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneSpec {
    /// The layout.
    pub kind: SceneKind,
    /// The title (chat room, headline, post or document title, sign text …), drawn bold.
    pub title: String,
    /// The body lines (messages, paragraphs, comments …); a card may show only the first few.
    pub lines: Vec<String>,
}

/// UI words of the locale (the chrome around the content).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SceneUi {
    /// The word before a morning time (e.g. `오전`); may be empty.
    pub time_am: String,
    /// The word before an afternoon time (e.g. `오후`); may be empty.
    pub time_pm: String,
    /// The placeholder of a chat card's input box.
    pub chat_placeholder: String,
    /// The word after a reporter's name in a news byline (e.g. `기자`).
    pub reporter: String,
    /// The label of a forum post's view count.
    pub views: String,
    /// The label of a forum post's like count.
    pub likes: String,
    /// The label of a forum post's comment count.
    pub comments: String,
    /// The button of a marketplace listing (e.g. `채팅하기`).
    pub chat_button: String,
    /// The section names of a news site's navigation bar.
    pub news_sections: Vec<String>,
    /// The text of the red seal stamped on a document.
    pub seal: String,
    /// The note beside a listing's button (e.g. `가격 제안 불가`); not drawn when empty.
    pub price_label: String,
    /// The caption under a news photo.
    pub photo_label: String,
    /// Lines of a forum card that start with this are drawn as comments ("ㄴ" in Korean
    /// communities, ">>" on Japanese boards).
    pub comment_prefix: String,
}

/// Names and UI words a locale pack supplies to fill the cards.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SceneStyle {
    /// People's names: chat partners and news reporters.
    pub people: Vec<String>,
    /// Screen names: forum posters and commenters, marketplace sellers.
    pub nicknames: Vec<String>,
    /// Messenger app names, shown in a chat card's header.
    pub chat_apps: Vec<String>,
    /// News outlet names.
    pub news_outlets: Vec<String>,
    /// Forum names.
    pub forums: Vec<String>,
    /// Shop names, for signboards.
    pub shops: Vec<String>,
    /// Place names: poster footers and listing locations.
    pub places: Vec<String>,
    /// Organisation names, signing documents.
    pub orgs: Vec<String>,
    /// The locale's UI words.
    pub ui: SceneUi,
}

impl SceneStyle {
    /// A locale pack's style: the names of `names.toml` and the `[ui]` table of `pack.toml`.
    pub fn from_pack(names_toml: &str, pack_toml: &str) -> Result<SceneStyle, String> {
        #[derive(Deserialize)]
        struct Pack {
            #[serde(default)]
            ui: SceneUi,
        }
        let mut style: SceneStyle =
            toml::from_str(names_toml).map_err(|e| format!("names.toml: {e}"))?;
        // pack.toml holds more than the UI words; only its [ui] table is read here
        let pack: toml::Table = toml::from_str(pack_toml).map_err(|e| format!("pack.toml: {e}"))?;
        let ui = pack
            .get("ui")
            .cloned()
            .unwrap_or(toml::Value::Table(Default::default()));
        style.ui = toml::Value::Table(toml::Table::from_iter([("ui".to_string(), ui)]))
            .try_into::<Pack>()
            .map_err(|e| format!("pack.toml [ui]: {e}"))?
            .ui;
        Ok(style)
    }

    fn pick<'a>(&'a self, rng: &mut Rng, list: &'a [String], fallback: &'a str) -> &'a str {
        if list.is_empty() {
            fallback
        } else {
            rng.pick(list).as_str()
        }
    }
}

struct Ctx<'a> {
    c: Canvas,
    fonts: &'a Fonts,
    rng: Rng,
}

impl Ctx<'_> {
    fn font(&self, bold: bool) -> FontArc {
        self.fonts.face(bold).clone()
    }

    /// Draw wrapped text; returns the y below the last line. At most `max_lines` lines (the last
    /// one ends in "…" if text was cut).
    #[allow(clippy::too_many_arguments)]
    fn para(
        &mut self,
        bold: bool,
        px: f32,
        x: i32,
        y: i32,
        w: i32,
        text: &str,
        color: Color,
        max_lines: usize,
    ) -> i32 {
        let font = self.font(bold);
        let mut lines = wrap(&font, px, text, w as f32);
        if lines.len() > max_lines {
            lines.truncate(max_lines);
            if let Some(last) = lines.last_mut() {
                while !last.is_empty() && text_width(&font, px, &format!("{last}…")) > w as f32 {
                    last.pop();
                }
                last.push('…');
            }
        }
        let lh = line_height(&font, px);
        for (i, l) in lines.iter().enumerate() {
            self.c
                .text(&font, px, x as f32, y as f32 + i as f32 * lh, l, color);
        }
        y + (lines.len() as f32 * lh).ceil() as i32
    }

    /// One line, centred on `cx`.
    fn centered(&mut self, bold: bool, px: f32, cx: i32, y: i32, text: &str, color: Color) {
        let font = self.font(bold);
        let w = text_width(&font, px, text);
        self.c
            .text(&font, px, cx as f32 - w / 2.0, y as f32, text, color);
    }

    /// Wrapped text, each line centred; returns the y below.
    #[allow(clippy::too_many_arguments)]
    fn centered_para(
        &mut self,
        bold: bool,
        px: f32,
        cx: i32,
        y: i32,
        w: i32,
        text: &str,
        color: Color,
    ) -> i32 {
        let font = self.font(bold);
        let lines = wrap(&font, px, text, w as f32);
        let lh = line_height(&font, px);
        for (i, l) in lines.iter().enumerate() {
            self.centered(bold, px, cx, y + (i as f32 * lh) as i32, l, color);
        }
        y + (lines.len() as f32 * lh).ceil() as i32
    }

    fn time(&mut self, ui: &SceneUi) -> String {
        let minutes = self.rng.range(0, 24 * 60 - 1);
        clock(ui, minutes)
    }

    fn date(&mut self) -> String {
        format!(
            "{}.{:02}.{:02}",
            self.rng.range(2023, 2026),
            self.rng.range(1, 12),
            self.rng.range(1, 28)
        )
    }
}

/// "오후 3:07"-style clock text for minutes since midnight.
fn clock(ui: &SceneUi, minutes: i64) -> String {
    let minutes = minutes.rem_euclid(24 * 60);
    let (h24, m) = (minutes / 60, minutes % 60);
    let ampm = if h24 < 12 { &ui.time_am } else { &ui.time_pm };
    let h = if h24 % 12 == 0 { 12 } else { h24 % 12 };
    format!("{ampm} {h}:{m:02}").trim().to_string()
}

/// Render a scene card (1024 × 1024). Same spec, style and seed → same pixels.
pub fn render_scene(
    fonts: &Fonts,
    spec: &SceneSpec,
    style: &SceneStyle,
    seed: u64,
) -> Result<RgbImage, FontError> {
    fonts.check_ink(&spec.title, true)?;
    for l in &spec.lines {
        fonts.check_ink(l, false)?;
    }
    let mut ctx = Ctx {
        c: Canvas::new(SIZE, SIZE, [255, 255, 255]),
        fonts,
        rng: Rng::derive(seed, &spec.title),
    };
    match spec.kind {
        SceneKind::Chat => chat(&mut ctx, spec, style),
        SceneKind::Poster => poster(&mut ctx, spec, style),
        SceneKind::News => news(&mut ctx, spec, style),
        SceneKind::Forum => forum(&mut ctx, spec, style),
        SceneKind::Document => document(&mut ctx, spec, style),
        SceneKind::Sign => sign(&mut ctx, spec, style),
        SceneKind::Listing => listing(&mut ctx, spec, style),
    }
    Ok(ctx.c.img)
}

/// Perceived brightness (ITU-R BT.601), to pick dark or light text on a colour.
fn luma(c: Color) -> f32 {
    0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32
}

fn chat(x: &mut Ctx, spec: &SceneSpec, st: &SceneStyle) {
    // (background, my bubble, header) palettes of common messenger looks.
    let palettes: [(u32, u32, u32); 5] = [
        (0xB2C7D9, 0xFEE500, 0xA9BDCE),
        (0xEDEFF3, 0x2D7FF9, 0xFFFFFF),
        (0xE5DDD5, 0xDCF8C6, 0x075E54),
        (0xF6F1FA, 0x8E5CF5, 0xFFFFFF),
        (0x1E2227, 0x3A7D44, 0x2A2F36),
    ];
    let (bg, mine, head) = palettes[x.rng.below(palettes.len())];
    let dark = bg == 0x1E2227;
    let (bg, mine, head) = (hex(bg), hex(mine), hex(head));
    let mine_text = if luma(mine) > 150.0 {
        [25, 25, 25]
    } else {
        [255, 255, 255]
    };
    let text_main = if dark { [235, 235, 235] } else { [30, 30, 30] };
    let head_text = if luma(head) > 150.0 {
        [20, 20, 20]
    } else {
        [255, 255, 255]
    };
    x.c.rect(0, 0, 1024, 1024, bg);
    // status bar and header
    x.c.rect(0, 0, 1024, 44, head);
    let start = x.rng.range(7 * 60, 22 * 60);
    let t = clock(
        &st.ui,
        start + 4 * spec.lines.len() as i64 + x.rng.range(1, 20),
    );
    x.c.text(&x.font(true), 24.0, 28.0, 8.0, &t, head_text);
    x.c.rect(0, 44, 1024, 96, head);
    let app = st.pick(&mut x.rng, &st.chat_apps, "").to_string();
    x.para(true, 38.0, 90, 70, 700, &spec.title, head_text, 1);
    x.c.text(&x.font(false), 24.0, 880.0, 80.0, &app, head_text);
    x.c.text(&x.font(true), 40.0, 30.0, 66.0, "<", head_text);
    let other = st.pick(&mut x.rng, &st.people, "A").to_string();
    let avatar = hex([0xF4A261, 0x2A9D8F, 0xE76F51, 0x8AB17D, 0x6D597A][x.rng.below(5)]);
    let px = if x.rng.chance(0.5) { 36.0 } else { 33.0 };
    let mut y = 175;
    let mut now = start;
    let font = x.font(false);
    let lh = line_height(&font, px);
    for (i, msg) in spec.lines.iter().enumerate() {
        let theirs = i % 2 == 0;
        let lines = wrap(&font, px, msg, 560.0);
        let w = lines
            .iter()
            .map(|l| text_width(&font, px, l))
            .fold(0.0, f32::max) as i32
            + 44;
        let h = (lines.len() as f32 * lh) as i32 + 30;
        if y + h + 40 > 900 {
            break;
        }
        now += x.rng.range(0, 4);
        let stamp = clock(&st.ui, now);
        if theirs {
            x.c.circle(62, y + 34, 34, avatar);
            let initial: String = other.chars().next().map(String::from).unwrap_or_default();
            x.centered(true, 30.0, 62, y + 16, &initial, [255, 255, 255]);
            x.c.text(&x.font(false), 24.0, 112.0, y as f32, &other, text_main);
            y += 34;
            let bubble = if dark { [60, 64, 72] } else { [255, 255, 255] };
            x.c.round_rect(112, y, w, h, 22, bubble);
            for (k, l) in lines.iter().enumerate() {
                x.c.text(
                    &font,
                    px,
                    134.0,
                    y as f32 + 15.0 + k as f32 * lh,
                    l,
                    text_main,
                );
            }
            x.c.text(
                &x.font(false),
                20.0,
                112.0 + w as f32 + 10.0,
                (y + h - 28) as f32,
                &stamp,
                [120, 120, 120],
            );
        } else {
            let bx = 1024 - 40 - w;
            x.c.round_rect(bx, y, w, h, 22, mine);
            for (k, l) in lines.iter().enumerate() {
                x.c.text(
                    &font,
                    px,
                    bx as f32 + 22.0,
                    y as f32 + 15.0 + k as f32 * lh,
                    l,
                    mine_text,
                );
            }
            let sw = text_width(&x.font(false), 20.0, &stamp);
            x.c.text(
                &x.font(false),
                20.0,
                bx as f32 - sw - 10.0,
                (y + h - 28) as f32,
                &stamp,
                [120, 120, 120],
            );
        }
        y += h + 26;
    }
    // input bar
    x.c.rect(
        0,
        930,
        1024,
        94,
        if dark { [42, 47, 54] } else { [255, 255, 255] },
    );
    x.c.round_rect(
        90,
        950,
        760,
        56,
        28,
        if dark { [60, 64, 72] } else { [240, 240, 240] },
    );
    x.c.text(
        &x.font(false),
        26.0,
        116.0,
        962.0,
        &st.ui.chat_placeholder,
        [150, 150, 150],
    );
    x.c.circle(930, 978, 30, mine);
    x.c.circle(45, 978, 22, [170, 170, 170]);
}

fn poster(x: &mut Ctx, spec: &SceneSpec, st: &SceneStyle) {
    let palettes: [(u32, u32, u32); 6] = [
        (0xFFD60A, 0x111111, 0xD62828),
        (0xD62828, 0xFFFFFF, 0xFFD60A),
        (0x003049, 0xFFFFFF, 0xF77F00),
        (0xFFFFFF, 0x1D3557, 0xE63946),
        (0x2B9348, 0xFFFFFF, 0xFFFF3F),
        (0xF1FAEE, 0x222222, 0x457B9D),
    ];
    let (bg, fg, accent) = palettes[x.rng.below(palettes.len())];
    let (bg, fg, accent) = (hex(bg), hex(fg), hex(accent));
    // wall behind the sheet
    let wall = hex([0x9C8F80, 0x7F8C8D, 0xB5A48B, 0x6C757D][x.rng.below(4)]);
    x.c.rect(0, 0, 1024, 1024, wall);
    let (sx, sy, sw, sh) = (70 + x.rng.range(-20, 20) as i32, 50, 884, 924);
    x.c.rect(sx + 10, sy + 12, sw, sh, [60, 60, 60]);
    x.c.rect(sx, sy, sw, sh, bg);
    // tape on the corners
    x.c.rect(sx - 20, sy - 14, 110, 36, [235, 228, 200]);
    x.c.rect(sx + sw - 90, sy - 14, 110, 36, [235, 228, 200]);
    let layout = x.rng.below(3);
    let mut y = sy + 70;
    if layout == 1 {
        x.c.rect(sx, sy + 40, sw, 16, accent);
        x.c.rect(sx, sy + 64, sw, 6, accent);
        y += 30;
    } else if layout == 2 {
        x.c.circle(sx + sw - 120, sy + 150, 90, accent);
    }
    let title_px = if spec.title.chars().count() > 14 {
        70.0
    } else {
        92.0
    };
    y = x.centered_para(true, title_px, sx + sw / 2, y, sw - 120, &spec.title, fg) + 30;
    x.c.rect(sx + 80, y, sw - 160, 8, accent);
    y += 50;
    for l in &spec.lines {
        if y > sy + sh - 260 {
            break;
        }
        y = x.centered_para(false, 42.0, sx + sw / 2, y, sw - 140, l, fg) + 22;
    }
    // tear-off strips with the contact line
    let contact = spec
        .lines
        .iter()
        .find(|l| l.contains("010") || l.contains("0000"))
        .cloned();
    let strip_top = sy + sh - 190;
    if let Some(contact) = contact {
        let n = 7;
        let w = sw / n;
        for i in 0..n {
            let xx = sx + i * w;
            x.c.rect(xx, strip_top, 2, 190, fg);
            let short: String = contact
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            let font = x.font(false);
            let tw = text_width(&font, 22.0, &short);
            // written sideways is not possible here; write it small across the strip
            x.c.text(
                &font,
                22.0_f32.min(22.0 * (w as f32 - 10.0) / tw.max(1.0)),
                xx as f32 + 6.0,
                (strip_top + 80) as f32,
                &short,
                fg,
            );
        }
    } else {
        let place = st.pick(&mut x.rng, &st.places, "").to_string();
        x.centered(true, 40.0, sx + sw / 2, strip_top + 90, &place, accent);
    }
}

fn news(x: &mut Ctx, spec: &SceneSpec, st: &SceneStyle) {
    let brand = hex([0x0B3D91, 0xC1121F, 0x1B4332, 0x222222, 0x5A189A, 0x0077B6][x.rng.below(6)]);
    x.c.rect(0, 0, 1024, 110, brand);
    let outlet = st.pick(&mut x.rng, &st.news_outlets, "").to_string();
    x.c.text(&x.font(true), 54.0, 40.0, 22.0, &outlet, [255, 255, 255]);
    // section menu
    x.c.rect(0, 110, 1024, 60, [245, 245, 245]);
    let mut mx = 40.0;
    let section_idx = if st.ui.news_sections.is_empty() {
        0
    } else {
        x.rng.below(st.ui.news_sections.len())
    };
    for (i, s) in st.ui.news_sections.iter().enumerate() {
        let color = if i == section_idx {
            brand
        } else {
            [90, 90, 90]
        };
        mx +=
            x.c.text(&x.font(i == section_idx), 28.0, mx, 124.0, s, color) + 36.0;
    }
    let mut y = 205;
    if let Some(sec) = st.ui.news_sections.get(section_idx) {
        let w = text_width(&x.font(true), 26.0, sec) as i32 + 30;
        x.c.round_rect(40, y, w, 44, 6, brand);
        x.c.text(
            &x.font(true),
            26.0,
            55.0,
            y as f32 + 7.0,
            sec,
            [255, 255, 255],
        );
        y += 70;
    }
    y = x.para(true, 60.0, 40, y, 944, &spec.title, [17, 17, 17], 3) + 20;
    let reporter = format!("{} {}", st.pick(&mut x.rng, &st.people, ""), st.ui.reporter);
    let meta = format!("{}  |  {} {}", reporter.trim(), x.date(), x.time(&st.ui));
    x.c.text(&x.font(false), 26.0, 40.0, y as f32, &meta, [120, 120, 120]);
    y += 50;
    x.c.rect(40, y, 944, 2, [220, 220, 220]);
    y += 30;
    let photo_h = if x.rng.chance(0.5) { 260 } else { 0 };
    let mut lines = spec.lines.iter();
    if let Some(sub) = lines.next() {
        x.c.rect(40, y, 6, 90, brand);
        y = x
            .para(true, 36.0, 66, y, 918, sub, [60, 60, 60], 2)
            .max(y + 90)
            + 24;
    }
    if photo_h > 0 && y + photo_h < 860 {
        x.c.rect(40, y, 944, photo_h, [210, 214, 220]);
        x.c.circle(512, y + photo_h / 2 - 20, 50, [180, 186, 194]);
        x.c.rect(430, y + photo_h / 2 + 40, 164, 30, [180, 186, 194]);
        x.c.text(
            &x.font(false),
            22.0,
            52.0,
            (y + photo_h - 34) as f32,
            &st.ui.photo_label,
            [90, 90, 90],
        );
        y += photo_h + 24;
    }
    for l in lines {
        if y > 960 {
            break;
        }
        y = x.para(false, 34.0, 40, y, 944, l, [40, 40, 40], 3) + 16;
    }
}

fn forum(x: &mut Ctx, spec: &SceneSpec, st: &SceneStyle) {
    let brand = hex([0x3B4890, 0x29367C, 0x00A495, 0xE05A2A, 0x4A4A4A][x.rng.below(5)]);
    x.c.rect(0, 0, 1024, 96, brand);
    let forum = st.pick(&mut x.rng, &st.forums, "").to_string();
    x.para(true, 40.0, 36, 24, 950, &forum, [255, 255, 255], 1);
    x.c.rect(0, 96, 1024, 8, [230, 230, 235]);
    let mut y = 140;
    y = x.para(true, 46.0, 36, y, 952, &spec.title, [20, 20, 20], 2) + 16;
    let nick = st.pick(&mut x.rng, &st.nicknames, "").to_string();
    let views = x.rng.range(120, 48_000);
    let likes = x.rng.range(0, 900);
    let meta = format!(
        "{nick}  |  {} {}  |  {} {views}  |  {} {likes}",
        x.date(),
        x.time(&st.ui),
        st.ui.views,
        st.ui.likes
    );
    x.c.text(&x.font(false), 24.0, 36.0, y as f32, &meta, [130, 130, 130]);
    y += 46;
    x.c.rect(36, y, 952, 2, [225, 225, 225]);
    y += 30;
    let (body, comments): (Vec<&String>, Vec<&String>) = spec.lines.iter().partition(|l| {
        st.ui.comment_prefix.is_empty() || !l.starts_with(st.ui.comment_prefix.as_str())
    });
    for l in body {
        if y > 760 {
            break;
        }
        y = x.para(false, 36.0, 36, y, 952, l, [35, 35, 35], 4) + 18;
    }
    // like button
    y += 10;
    x.c.round_rect(412, y, 200, 70, 35, brand);
    x.centered(
        true,
        30.0,
        512,
        y + 16,
        &format!("{} {likes}", st.ui.likes),
        [255, 255, 255],
    );
    y += 100;
    x.c.rect(0, y, 1024, 1024 - y, [246, 246, 248]);
    x.c.text(
        &x.font(true),
        28.0,
        36.0,
        y as f32 + 18.0,
        &format!("{} {}", st.ui.comments, comments.len()),
        [60, 60, 60],
    );
    y += 70;
    for cmt in comments {
        if y > 960 {
            break;
        }
        let who = st.pick(&mut x.rng, &st.nicknames, "").to_string();
        x.c.text(&x.font(true), 24.0, 36.0, y as f32, &who, [80, 80, 120]);
        y = x.para(false, 30.0, 36, y + 34, 952, cmt, [50, 50, 50], 2) + 18;
    }
}

fn document(x: &mut Ctx, spec: &SceneSpec, st: &SceneStyle) {
    let paper = hex([0xFFFFFF, 0xFBF8EF, 0xF7F7F2][x.rng.below(3)]);
    let desk = hex([0x8D6E63, 0x5D4037, 0x90A4AE, 0xBCAAA4][x.rng.below(4)]);
    x.c.rect(0, 0, 1024, 1024, desk);
    let tilt = x.rng.range(-12, 12) as i32;
    let (px0, py0, pw, ph) = (90 + tilt, 40, 844, 960);
    x.c.rect(px0 + 8, py0 + 10, pw, ph, [50, 40, 35]);
    x.c.rect(px0, py0, pw, ph, paper);
    let ink = [25, 25, 25];
    let double = x.rng.chance(0.5);
    x.c.frame(px0 + 30, py0 + 30, pw - 60, ph - 60, 3, ink);
    if double {
        x.c.frame(px0 + 40, py0 + 40, pw - 80, ph - 80, 1, ink);
    }
    let mut y = py0 + 80;
    y = x.centered_para(true, 52.0, px0 + pw / 2, y, pw - 160, &spec.title, ink) + 20;
    x.c.rect(px0 + 120, y, pw - 240, 3, ink);
    y += 40;
    let table = x.rng.chance(0.5);
    for (i, l) in spec.lines.iter().enumerate() {
        if y > py0 + ph - 250 {
            break;
        }
        if table {
            let top = y;
            let ny = x.para(false, 32.0, px0 + 90, y + 16, pw - 200, l, ink, 3) + 16;
            x.c.frame(px0 + 70, top, pw - 140, ny - top, 2, [90, 90, 90]);
            y = ny - 2;
        } else {
            let label = format!("{}.", i + 1);
            x.c.text(
                &x.font(true),
                32.0,
                (px0 + 80) as f32,
                y as f32,
                &label,
                ink,
            );
            y = x.para(false, 32.0, px0 + 130, y, pw - 220, l, ink, 3) + 20;
        }
    }
    let date = x.date();
    x.centered(false, 30.0, px0 + pw / 2, py0 + ph - 220, &date, ink);
    let org = st.pick(&mut x.rng, &st.orgs, "").to_string();
    let font = x.font(true);
    let ow = text_width(&font, 36.0, &org) as i32;
    let ox = px0 + pw / 2 - ow / 2 - 40;
    x.c.text(&font, 36.0, ox as f32, (py0 + ph - 160) as f32, &org, ink);
    // the red seal (도장) half over the name
    let red = [200, 30, 30];
    let (cx, cy) = (ox + ow + 60, py0 + ph - 140);
    x.c.ring(cx, cy, 46, 6, red);
    x.centered(true, 34.0, cx, cy - 20, &st.ui.seal, red);
}

fn sign(x: &mut Ctx, spec: &SceneSpec, st: &SceneStyle) {
    let banner = x.rng.chance(0.4);
    let sky = hex([0x87CEEB, 0xB0C4DE, 0xCFD8DC, 0x90A4AE][x.rng.below(4)]);
    x.c.rect(0, 0, 1024, 1024, sky);
    // building facade
    let facade = hex([0xD7CCC8, 0xBDBDBD, 0xE0E0E0, 0xA1887F][x.rng.below(4)]);
    x.c.rect(0, 260, 1024, 764, facade);
    for i in 0..4 {
        x.c.rect(60 + i * 240, 700, 180, 250, [70, 90, 110]);
        x.c.rect(68 + i * 240, 708, 164, 234, [120, 150, 175]);
    }
    let (bg, fg) = [
        (0x0D47A1, 0xFFFFFF),
        (0xB71C1C, 0xFFEB3B),
        (0xFFFFFF, 0x1B5E20),
        (0x212121, 0xFFC107),
        (0xF57F17, 0xFFFFFF),
    ][x.rng.below(5)];
    let (bg, fg) = (hex(bg), hex(fg));
    if banner {
        // a street banner (현수막) tied between two poles
        x.c.rect(40, 120, 16, 700, [90, 90, 90]);
        x.c.rect(968, 120, 16, 700, [90, 90, 90]);
        x.c.rect(56, 170, 912, 300, bg);
        for (bx, by) in [(56, 170), (952, 170), (56, 454), (952, 454)] {
            x.c.circle(bx + 8, by + 8, 8, [40, 40, 40]);
        }
        let px = if spec.title.chars().count() > 16 {
            56.0
        } else {
            76.0
        };
        x.centered_para(true, px, 512, 210, 840, &spec.title, fg);
        let mut y = 500;
        for l in &spec.lines {
            y = x.centered_para(false, 36.0, 512, y, 880, l, [30, 30, 30]) + 14;
        }
    } else {
        let shop = st.pick(&mut x.rng, &st.shops, "").to_string();
        x.c.rect(30, 200, 964, 250, [40, 40, 40]);
        x.c.rect(40, 210, 944, 230, bg);
        let px = if spec.title.chars().count() > 12 {
            60.0
        } else {
            88.0
        };
        x.centered_para(true, px, 512, 250, 880, &spec.title, fg);
        // a small board by the door with the details
        x.c.round_rect(120, 500, 784, 180, 12, [255, 255, 255]);
        x.c.frame(120, 500, 784, 180, 4, bg);
        let mut y = 520;
        for l in spec.lines.iter().take(3) {
            y = x.centered_para(false, 34.0, 512, y, 740, l, [30, 30, 30]) + 6;
        }
        x.centered(true, 30.0, 512, 960, &shop, [50, 50, 50]);
    }
}

fn listing(x: &mut Ctx, spec: &SceneSpec, st: &SceneStyle) {
    let accent = hex([0xFF6F0F, 0xD80C18, 0x00C471, 0x3182F6][x.rng.below(4)]);
    // product photo placeholder: a soft gradient with a simple object silhouette
    let (a, b) = (
        [0xE8EAF0, 0xF3E9DC, 0xE3F2FD, 0xECEFF1][x.rng.below(4)],
        [0xC5CAE9u32, 0xD7CCC8, 0xBBDEFB, 0xB0BEC5][x.rng.below(4)],
    );
    let (a, b) = (hex(a), hex(b));
    for yy in 0..440 {
        let t = yy as f32 / 440.0;
        let c = [0, 1, 2].map(|i| (a[i] as f32 * (1.0 - t) + b[i] as f32 * t) as u8);
        x.c.rect(0, yy, 1024, 1, c);
    }
    let obj = [90, 96, 110];
    match x.rng.below(3) {
        0 => x.c.round_rect(380, 110, 264, 240, 30, obj),
        1 => x.c.circle(512, 230, 120, obj),
        _ => {
            x.c.round_rect(430, 80, 164, 300, 24, obj);
            x.c.round_rect(446, 96, 132, 250, 12, [140, 146, 160]);
        }
    }
    x.c.text(&x.font(true), 26.0, 930.0, 395.0, "1/5", [255, 255, 255]);
    // seller row
    let seller = st.pick(&mut x.rng, &st.nicknames, "").to_string();
    let place = st.pick(&mut x.rng, &st.places, "").to_string();
    x.c.circle(70, 500, 36, [200, 200, 200]);
    x.c.text(&x.font(true), 30.0, 124.0, 466.0, &seller, [30, 30, 30]);
    x.c.text(&x.font(false), 24.0, 124.0, 504.0, &place, [120, 120, 120]);
    let temp = format!("{}.{}°C", x.rng.range(33, 52), x.rng.range(0, 9));
    x.c.text(&x.font(true), 28.0, 860.0, 480.0, &temp, accent);
    x.c.rect(40, 560, 944, 2, [230, 230, 230]);
    let mut y = 590;
    y = x.para(true, 44.0, 40, y, 944, &spec.title, [20, 20, 20], 2) + 10;
    let mut lines = spec.lines.iter();
    if let Some(price) = lines.next() {
        y = x.para(true, 40.0, 40, y, 944, price, [20, 20, 20], 1) + 14;
    }
    for l in lines {
        if y > 860 {
            break;
        }
        y = x.para(false, 32.0, 40, y, 944, l, [60, 60, 60], 3) + 10;
    }
    // bottom bar
    x.c.rect(0, 920, 1024, 104, [255, 255, 255]);
    x.c.rect(0, 920, 1024, 2, [230, 230, 230]);
    x.c.ring(70, 972, 26, 4, [150, 150, 150]);
    x.c.round_rect(740, 940, 250, 66, 12, accent);
    x.centered(true, 30.0, 865, 955, &st.ui.chat_button, [255, 255, 255]);
    if !st.ui.price_label.is_empty() {
        x.c.text(
            &x.font(false),
            26.0,
            130.0,
            958.0,
            &st.ui.price_label,
            [120, 120, 120],
        );
    }
}
