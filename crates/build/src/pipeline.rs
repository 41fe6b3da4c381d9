//! The general-to-local construction pipeline of KSAFE-MM (paper §2.2–2.3), offline by default.
//!
//! - G: select contextual / non-contextual → culture-phrase substitution → translation → images
//!   in the three types I (scene), T (typography of the key phrase), IT (both).
//! - C: topics → five variables → template query → image → 10 jailbreak rewrites (11 queries per
//!   image).
//! - Filters: privacy, near-duplicate text, near-duplicate images; every dropped item is listed
//!   with its reason in `filter_report.jsonl`.
//!
//! Everything is deterministic for a seed: the same seed gives a byte-identical dataset.

use crate::filters::{dhash, privacy_scan, ImageDeduper, TextDeduper};
use crate::josa::fill;
use crate::locale::{CTopic, GSeed, Locale, LocaleError};
use crate::render::scene::render_scene;
use crate::render::{composite, encode_png, typography, FontError, Fonts, SceneSpec, TypoOptions};
use image::RgbImage;
use ksafe_core::{
    Category, Culture, DatasetError, DatasetWriter, ImageType, Manifest, ManifestMeta, Provenance,
    QueryType, Rng, Sample, Subset, TemplateKind, Variables,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// KSAFE-MM-C image seeds per category in the paper (Table 1, "C: I&Q"), total 1,135.
pub const PAPER_C_SEEDS: [(Category, usize); 11] = [
    (Category::HateUnfairness, 153),
    (Category::Sexual, 157),
    (Category::Violence, 87),
    (Category::SelfHarm, 89),
    (Category::PoliticalReligious, 139),
    (Category::Anthropomorphism, 45),
    (Category::SensitiveUses, 49),
    (Category::Privacy, 115),
    (Category::IllegalUnethical, 136),
    (Category::Copyrights, 73),
    (Category::Weaponization, 92),
];

/// G seeds per category in the paper (Table 1).
pub const PAPER_G_SEEDS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The paper's structure: 50 G seeds per category × 3 image types; C image seeds per
    /// category as in Table 1 (1,135), each with 11 queries.
    Full,
    /// About 10 seeds per category in each subset, for smoke runs.
    Lite,
}

/// Which text the G samples carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GQuery {
    /// MM-SafetyBench style: the full query with the I image, the key-phrase-masked query
    /// ("the phrase at the bottom of the image …") with T and IT.
    Mmsb,
    /// The full query with every image type.
    Full,
}

#[derive(Clone)]
pub struct BuildConfig {
    pub locale: String,
    pub profile: Profile,
    pub seed: u64,
    pub out: PathBuf,
    pub g_query: GQuery,
    pub subsets: Vec<Subset>,
    /// Jaccard similarity of character trigrams at or above which a query is a duplicate.
    pub text_dup_threshold: f64,
    /// Hamming distance of image difference hashes at or below which an image is a duplicate.
    pub image_dup_distance: u32,
    pub threads: usize,
    /// Fonts to render with; `None` uses the locale pack's (pinned) fonts.
    pub fonts: Option<Arc<Fonts>>,
}

impl BuildConfig {
    pub fn new(locale: &str, out: PathBuf) -> BuildConfig {
        BuildConfig {
            locale: locale.to_string(),
            profile: Profile::Full,
            seed: 0,
            out,
            g_query: GQuery::Mmsb,
            subsets: vec![Subset::G, Subset::C],
            text_dup_threshold: 0.92,
            image_dup_distance: 0,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            fonts: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Locale(#[from] LocaleError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{item}: {source}")]
    Render {
        item: String,
        #[source]
        source: FontError,
    },
    #[error("{item}: {message}")]
    Template { item: String, message: String },
}

/// Progress of the stages, for a progress display.
pub trait Progress: Sync {
    fn start(&self, _stage: &str, _total: u64) {}
    fn inc(&self, _n: u64) {}
    fn finish(&self, _stage: &str, _summary: &str) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: String,
    pub count: u64,
    pub seconds: f64,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    pub id: String,
    pub subset: Subset,
    pub category: Category,
    pub filter: &'static str,
    pub reason: String,
}

pub struct BuildReport {
    pub manifest: Manifest,
    pub stages: Vec<StageReport>,
    pub dropped: Vec<Dropped>,
    pub seconds: f64,
}

struct Run<'a> {
    cfg: &'a BuildConfig,
    fonts: Arc<Fonts>,
    loc: Locale,
    progress: &'a dyn Progress,
    writer: DatasetWriter,
    stages: Vec<StageReport>,
    dropped: Vec<Dropped>,
    names: Vec<String>,
}

impl Run<'_> {
    fn stage(&mut self, stage: &str, count: u64, t: Instant, note: String) {
        self.progress.finish(stage, &format!("{count} {note}"));
        self.stages.push(StageReport {
            stage: stage.to_string(),
            count,
            seconds: t.elapsed().as_secs_f64(),
            note,
        });
    }

    fn drop_item(
        &mut self,
        id: &str,
        subset: Subset,
        category: Category,
        filter: &'static str,
        reason: String,
    ) {
        self.dropped.push(Dropped {
            id: id.to_string(),
            subset,
            category,
            filter,
            reason,
        });
    }
}

/// Build a benchmark dataset into `cfg.out`.
pub fn build(cfg: &BuildConfig, progress: &dyn Progress) -> Result<BuildReport, BuildError> {
    let t0 = Instant::now();
    let loc = Locale::load(&cfg.locale)?;
    let fonts = match &cfg.fonts {
        Some(f) => f.clone(),
        None => loc.fonts()?,
    };
    let names = loc.style.people.clone();
    let writer = DatasetWriter::create(&cfg.out)?;
    let mut run = Run {
        cfg,
        fonts,
        loc,
        progress,
        writer,
        stages: Vec::new(),
        dropped: Vec::new(),
        names,
    };
    if cfg.subsets.contains(&Subset::G) {
        build_g(&mut run)?;
    }
    if cfg.subsets.contains(&Subset::C) {
        build_c(&mut run)?;
    }
    let mut report = String::new();
    for d in &run.dropped {
        report.push_str(&serde_json::to_string(d).unwrap_or_default());
        report.push('\n');
    }
    run.writer
        .add_file("filter_report.jsonl", report.as_bytes())?;
    let mut dropped_by: BTreeMap<String, u64> = BTreeMap::new();
    for d in &run.dropped {
        *dropped_by.entry(d.filter.to_string()).or_default() += 1;
    }
    let config = serde_json::json!({
        "pipeline": "ksafe build",
        "mode": "offline",
        "generator": "offline:pack",
        "image_backend": "renderer",
        "locale": cfg.locale,
        "profile": cfg.profile,
        "g_query": cfg.g_query,
        "subsets": cfg.subsets,
        "text_dup_threshold": cfg.text_dup_threshold,
        "image_dup_distance": cfg.image_dup_distance,
        "stages": run.stages.iter().map(|s| serde_json::json!({"stage": s.stage, "count": s.count, "note": s.note})).collect::<Vec<_>>(),
        "dropped": dropped_by,
    });
    let manifest = run.writer.finish(ManifestMeta {
        name: format!(
            "ksafe-{}-{}",
            cfg.locale,
            match cfg.profile {
                Profile::Full => "full",
                Profile::Lite => "lite",
            }
        ),
        version: env!("CARGO_PKG_VERSION").to_string(),
        locale: cfg.locale.clone(),
        config,
        seed: Some(cfg.seed),
        fonts: run.fonts.records.clone(),
    })?;
    Ok(BuildReport {
        manifest,
        stages: run.stages,
        dropped: run.dropped,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Take `n` items per category from `items`, in a seeded order.
fn per_category<'a, T>(
    items: &'a [T],
    cat: impl Fn(&T) -> Category,
    n: usize,
    rng: &mut Rng,
) -> Vec<&'a T> {
    let mut out = Vec::new();
    for c in Category::ALL {
        let mut of: Vec<&T> = items.iter().filter(|x| cat(x) == c).collect();
        rng.shuffle(&mut of);
        out.extend(of.into_iter().take(n));
    }
    out
}

/// Render items in parallel, `threads` at a time, preserving order.
fn render_all<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.max(1).min(items.len().max(1));
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("render thread panicked"))
            .collect()
    })
}

fn scene_text(s: &SceneSpec) -> String {
    let mut t = s.title.clone();
    for l in &s.lines {
        t.push(' ');
        t.push_str(l);
    }
    t
}

const BATCH: usize = 48;

fn build_g(run: &mut Run) -> Result<(), BuildError> {
    let cfg = run.cfg;
    let mut rng = Rng::derive(cfg.seed, "g.select");
    let full = run.loc.meta.build.g_seeds_per_category;
    let n = match cfg.profile {
        Profile::Full => full,
        Profile::Lite => full.min(10),
    };
    // Stage 1: cultural context-dependent query selection.
    let t = Instant::now();
    let seeds: Vec<GSeed> = per_category(&run.loc.g_seeds, |s| s.category, n, &mut rng)
        .into_iter()
        .cloned()
        .collect();
    let contextual = seeds.iter().filter(|s| s.contextual).count();
    run.stage(
        "G select",
        seeds.len() as u64,
        t,
        format!(
            "seeds ({contextual} contextual, {} non-contextual)",
            seeds.len() - contextual
        ),
    );
    // Stage 2: culture-phrase substitution (contextual seeds only).
    let t = Instant::now();
    let substituted = seeds
        .iter()
        .filter(|s| s.contextual && s.culture_sub.is_some())
        .count();
    run.stage(
        "G substitute",
        substituted as u64,
        t,
        "culture phrases substituted".into(),
    );
    // Stage 3: translation; privacy and near-duplicate filters on the localized text.
    let t = Instant::now();
    let mut dedup = TextDeduper::new(cfg.text_dup_threshold);
    let mut kept = Vec::new();
    for s in seeds {
        let all_text = format!(
            "{} {} {} {}",
            s.text,
            s.rephrased,
            s.key_phrase,
            scene_text(&s.scene)
        );
        if let Some(hit) = privacy_scan(&all_text, &run.names) {
            run.drop_item(&s.id, Subset::G, s.category, "privacy", hit.reason());
        } else if let Err((other, sim)) = dedup.check(&s.id, &s.text) {
            run.drop_item(
                &s.id,
                Subset::G,
                s.category,
                "text_dedup",
                format!("{:.2} similar to {other}", sim),
            );
        } else {
            kept.push(s);
        }
    }
    run.stage(
        "G translate",
        kept.len() as u64,
        t,
        "localized queries".into(),
    );
    // Stage 4: images I, T, IT.
    let t = Instant::now();
    run.progress.start("G images", kept.len() as u64 * 3);
    let typo = TypoOptions::default();
    let mut images = ImageDeduper::new(cfg.image_dup_distance);
    let mut written = 0u64;
    for batch in kept.chunks(BATCH) {
        let rendered = render_all(
            batch,
            cfg.threads,
            |s| -> Result<(RgbImage, [Vec<u8>; 3]), BuildError> {
                let err = |e| BuildError::Render {
                    item: format!("G seed {}", s.id),
                    source: e,
                };
                let img = render_scene(
                    &run.fonts,
                    &s.scene,
                    &run.loc.style,
                    Rng::derive(cfg.seed, &s.id).next_u64(),
                )
                .map_err(err)?;
                let t_img = typography(&run.fonts, &s.key_phrase, &typo).map_err(err)?;
                let it_img = composite(&run.fonts, &img, &s.key_phrase, &typo).map_err(err)?;
                let pngs = [encode_png(&img), encode_png(&t_img), encode_png(&it_img)];
                Ok((img, pngs))
            },
        );
        for (s, r) in batch.iter().zip(rendered) {
            let (img, pngs) = r?;
            run.progress.inc(3);
            if let Err((other, d)) = images.check(&s.id, dhash(&img)) {
                run.drop_item(
                    &s.id,
                    Subset::G,
                    s.category,
                    "image_dedup",
                    format!("image within {d} bits of {other}'s"),
                );
                continue;
            }
            for (it, png) in [ImageType::I, ImageType::T, ImageType::IT]
                .into_iter()
                .zip(pngs)
            {
                let image = run.writer.add_image(&png)?;
                let text = match (cfg.g_query, it) {
                    (GQuery::Mmsb, ImageType::T | ImageType::IT) => s.rephrased.clone(),
                    _ => s.text.clone(),
                };
                let mut extra = BTreeMap::new();
                extra.insert("seed_id".to_string(), s.id.clone());
                let sample = Sample {
                    id: String::new(),
                    subset: Subset::G,
                    category: s.category,
                    locale: cfg.locale.clone(),
                    text,
                    image: Some(image),
                    image_type: Some(it),
                    query_type: QueryType::Plain,
                    template_kind: None,
                    parent_id: None,
                    topic: None,
                    variables: None,
                    culture: Some(Culture {
                        contextual: s.contextual,
                        key_phrase: Some(s.key_phrase.clone()),
                        culture_phrase: s.culture_phrase_en.clone(),
                        culture_sub: s.culture_sub.clone(),
                        source_text: Some(s.en.clone()),
                    }),
                    provenance: Some(Provenance {
                        stage: "g".into(),
                        generator: "offline:pack".into(),
                        extra,
                    }),
                }
                .with_content_id();
                run.writer.write(&sample)?;
                written += 1;
            }
        }
    }
    run.stage("G images", written, t, "samples (I, T, IT)".into());
    Ok(())
}

/// C image seeds per category: `total` spread in the paper's proportions (largest remainder), or
/// at most 10 per category in the lite profile.
pub fn c_targets(total: usize, profile: Profile) -> Vec<(Category, usize)> {
    let paper: usize = PAPER_C_SEEDS.iter().map(|(_, n)| n).sum();
    let mut out: Vec<(Category, usize, f64)> = PAPER_C_SEEDS
        .iter()
        .map(|(c, n)| {
            let exact = (*n * total) as f64 / paper as f64;
            (*c, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let mut left = total - out.iter().map(|x| x.1).sum::<usize>();
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| out[b].2.total_cmp(&out[a].2).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        out[i].1 += 1;
        left -= 1;
    }
    out.into_iter()
        .map(|(c, n, _)| {
            (
                c,
                if profile == Profile::Lite {
                    n.min(10)
                } else {
                    n
                },
            )
        })
        .collect()
}

/// One planned KSAFE-MM-C image seed.
struct CSeed<'a> {
    key: String,
    topic: &'a CTopic,
    scene: &'a SceneSpec,
    kind: TemplateKind,
    query: String,
    phrasing: usize,
}

fn build_c(run: &mut Run) -> Result<(), BuildError> {
    let cfg = run.cfg;
    let loc = run.loc.clone();
    // Stage 1: topics.
    let t = Instant::now();
    let mut rng = Rng::derive(cfg.seed, "c.topics");
    let mut by_cat: BTreeMap<Category, Vec<&CTopic>> = BTreeMap::new();
    for topic in &loc.c_topics {
        by_cat.entry(topic.category).or_default().push(topic);
    }
    for list in by_cat.values_mut() {
        rng.shuffle(list);
    }
    run.stage(
        "C topics",
        loc.c_topics.len() as u64,
        t,
        format!("topics in {} categories", by_cat.len()),
    );
    // Stage 2: five variables (from the pack in offline mode).
    let t = Instant::now();
    let complete = loc
        .c_topics
        .iter()
        .filter(|c| {
            [&c.target, &c.attribute, &c.mean, &c.rationale, &c.context]
                .iter()
                .all(|v| !v.trim().is_empty())
        })
        .count();
    run.stage(
        "C variables",
        complete as u64,
        t,
        "topics with all five variables".into(),
    );
    // Stages 3–5, category by category: template queries from (topic × scene × template kind)
    // candidates, filtered for privacy and near-duplicate text; one image per seed, filtered for
    // near-duplicates; then the 10 jailbreak rewrites. Candidates are drawn until the category
    // has its number of seeds, so a filtered item is replaced rather than lost.
    let targets = c_targets(loc.meta.build.c_seeds_total, cfg.profile);
    let total: usize = targets
        .iter()
        .filter(|(c, _)| by_cat.contains_key(c))
        .map(|(_, n)| n)
        .sum();
    run.progress.start("C images + jailbreaks", total as u64);
    let mut dedup = TextDeduper::new(cfg.text_dup_threshold);
    let mut images = ImageDeduper::new(cfg.image_dup_distance);
    let (mut n_seeds, mut n_images, mut n_jb) = (0u64, 0u64, 0u64);
    let (mut t_queries, mut t_render) = (0.0f64, 0.0f64);
    let fonts = run.fonts.clone();
    for (cat, want) in targets {
        let Some(topics) = by_cat.get(&cat) else {
            continue;
        };
        // Round r of the topic list uses scene r mod 3 and a template kind that differs from the
        // earlier rounds with that scene: 9 distinct candidates per topic with 3 scenes.
        let rounds = topics.iter().map(|t| t.scenes.len() * 3).max().unwrap_or(0);
        let mut candidates = (0..rounds).flat_map(|r| {
            topics
                .iter()
                .enumerate()
                .map(move |(ti, topic)| (r, ti, *topic))
        });
        let mut accepted = 0;
        while accepted < want {
            let tq = Instant::now();
            let mut batch: Vec<CSeed> = Vec::new();
            let room = (want - accepted).min(BATCH);
            for (r, ti, topic) in candidates.by_ref() {
                if r >= topic.scenes.len() * 3 {
                    continue;
                }
                let scene = &topic.scenes[r % topic.scenes.len()];
                let kind_of = |r: usize| TemplateKind::ALL[(r / topic.scenes.len() + r + ti) % 3];
                let kind = kind_of(r);
                let key = format!("{}#{}", topic.id, r);
                // The k-th use of a kind for a topic takes the next phrasing after a seeded start,
                // so a topic's queries of one kind never repeat a phrasing (while phrasings last).
                let phrasings = loc.templates.of(kind);
                let start = Rng::derive(cfg.seed, &format!("{}/{}", topic.id, kind.id()))
                    .below(phrasings.len());
                let earlier = (0..r).filter(|&q| kind_of(q) == kind).count();
                let phrasing = (start + earlier) % phrasings.len();
                let query =
                    fill(&phrasings[phrasing].text, &|s| topic.slot(s)).map_err(|message| {
                        BuildError::Template {
                            item: format!("C topic {}", topic.id),
                            message,
                        }
                    })?;
                let all_text = format!("{query} {}", scene_text(scene));
                if let Some(hit) = privacy_scan(&all_text, &run.names) {
                    run.drop_item(&key, Subset::C, cat, "privacy", hit.reason());
                } else if let Err((other, sim)) = dedup.check(&key, &query) {
                    run.drop_item(
                        &key,
                        Subset::C,
                        cat,
                        "text_dedup",
                        format!("{sim:.2} similar to {other}"),
                    );
                } else {
                    batch.push(CSeed {
                        key,
                        topic,
                        scene,
                        kind,
                        query,
                        phrasing,
                    });
                    if batch.len() >= room {
                        break;
                    }
                }
            }
            t_queries += tq.elapsed().as_secs_f64();
            if batch.is_empty() {
                break; // candidates exhausted: the category gets fewer seeds (reported in the counts)
            }
            n_seeds += batch.len() as u64;
            let tr = Instant::now();
            let rendered = render_all(&batch, cfg.threads, |s| {
                render_scene(
                    &fonts,
                    s.scene,
                    &loc.style,
                    Rng::derive(cfg.seed, &s.key).next_u64(),
                )
                .map(|img| (dhash(&img), encode_png(&img)))
                .map_err(|e| BuildError::Render {
                    item: format!("C seed {}", s.key),
                    source: e,
                })
            });
            t_render += tr.elapsed().as_secs_f64();
            for (s, r) in batch.iter().zip(rendered) {
                let (hash, png) = r?;
                if let Err((other, d)) = images.check(&s.key, hash) {
                    run.drop_item(
                        &s.key,
                        Subset::C,
                        cat,
                        "image_dedup",
                        format!("image within {d} bits of {other}'s"),
                    );
                    continue;
                }
                run.progress.inc(1);
                accepted += 1;
                n_images += 1;
                n_jb += write_c_seed(run, s, &png, &loc)?;
            }
        }
    }
    run.progress.finish(
        "C template queries",
        &format!("{n_seeds} seed queries ({:.1}s)", t_queries),
    );
    run.stages.push(StageReport {
        stage: "C template queries".into(),
        count: n_seeds,
        seconds: t_queries,
        note: "seed queries".into(),
    });
    run.progress.finish(
        "C images",
        &format!("{n_images} images, one per seed ({:.1}s)", t_render),
    );
    run.stages.push(StageReport {
        stage: "C images".into(),
        count: n_images,
        seconds: t_render,
        note: "images (one per seed)".into(),
    });
    run.stage(
        "C jailbreaks",
        n_jb,
        Instant::now(),
        format!("rewrites ({} samples with the seeds)", n_images + n_jb),
    );
    Ok(())
}

/// Write one C image seed: the template-query sample and its 10 jailbreak variants. Returns the
/// number of variants written.
fn write_c_seed(run: &mut Run, s: &CSeed, png: &[u8], loc: &Locale) -> Result<u64, BuildError> {
    let cfg = run.cfg;
    let image = run.writer.add_image(png)?;
    let topic = s.topic;
    let variables = Variables {
        target: topic.target.clone(),
        attribute: topic.attribute.clone(),
        mean: topic.mean.clone(),
        rationale: topic.rationale.clone(),
        context: topic.context.clone(),
    };
    let mut extra = BTreeMap::new();
    extra.insert("topic_id".to_string(), topic.id.clone());
    extra.insert("image_seed".to_string(), s.key.clone());
    extra.insert("template_phrasing".to_string(), s.phrasing.to_string());
    let seed_sample = Sample {
        id: String::new(),
        subset: Subset::C,
        category: topic.category,
        locale: cfg.locale.clone(),
        text: s.query.clone(),
        image: Some(image),
        image_type: Some(ImageType::I),
        query_type: QueryType::Template,
        template_kind: Some(s.kind),
        parent_id: None,
        topic: Some(topic.topic.clone()),
        variables: Some(variables),
        culture: None,
        provenance: Some(Provenance {
            stage: "c.template".into(),
            generator: "offline:pack".into(),
            extra: extra.clone(),
        }),
    }
    .with_content_id();
    run.writer.write(&seed_sample)?;
    let mut jrng = Rng::derive(cfg.seed, &format!("{}/jailbreak", s.key));
    let mut n = 0;
    for q in QueryType::JAILBREAKS {
        let phr = &loc.jailbreaks[&q];
        let k = jrng.below(phr.len());
        let mut v = seed_sample.clone();
        v.text = phr[k].text.replace("{query}", &s.query);
        v.query_type = q;
        v.parent_id = Some(seed_sample.id.clone());
        let mut extra = extra.clone();
        extra.insert("jailbreak_phrasing".to_string(), k.to_string());
        v.provenance = Some(Provenance {
            stage: "c.jailbreak".into(),
            generator: "offline:pack".into(),
            extra,
        });
        run.writer.write(&v.with_content_id())?;
        n += 1;
    }
    Ok(n)
}
