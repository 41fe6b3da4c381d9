//! KSAFE-MM-G: select contextual / non-contextual → culture-phrase substitution → translation →
//! images in the three types I (scene), T (typography of the key phrase), IT (both).

use crate::filters::{dhash, privacy_scan, ImageDeduper, TextDeduper};
use crate::model::{field, parse_classification, unparseable};
use crate::run::{
    per_category, prompt, render_all, scene_text, BuildError, GQuery, Profile, Run, BATCH,
};
use image::RgbImage;
use ksafe_core::{Category, Culture, Dataset, ImageType, Provenance, Rng, Sample, Subset};
use ksafe_render::scene::render_scene;
use ksafe_render::{composite, encode_png, typography, SceneSpec, TypoOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// One G seed as it moves through the stages. Offline, the localized fields come from the pack;
/// in model mode they are produced by the generator.
#[derive(Clone)]
pub struct GWork {
    pub id: String,
    pub category: Category,
    pub en: String,
    pub key_phrase_en: String,
    pub rephrased_en: Option<String>,
    pub contextual: bool,
    pub culture_phrase: Option<String>,
    pub culture_sub: Option<String>,
    pub adapted_en: Option<String>,
    pub text: String,
    pub key_phrase: String,
    pub rephrased: String,
    pub scene: Option<SceneSpec>,
    /// An image that comes with the seed (MM-SafetyBench's SD image).
    pub photo: Option<PathBuf>,
    /// Model mode: the generated benign twin.
    pub twin: Option<crate::locale::BenignTwin>,
}

/// G seeds from an imported MM-SafetyBench dataset (`ksafe data import --from mm-safetybench`).
pub fn seeds_from_mmsb(dir: &std::path::Path) -> Result<Vec<GWork>, BuildError> {
    let ds = Dataset::open(dir)?;
    let mut by_item: BTreeMap<String, GWork> = BTreeMap::new();
    for item in ds.samples()? {
        let (_, s) = item?;
        let prov = s.provenance.clone().unwrap_or_default();
        let key = format!(
            "{}/{}",
            prov.extra.get("scenario").cloned().unwrap_or_default(),
            prov.extra
                .get("item")
                .cloned()
                .unwrap_or_else(|| s.id.clone())
        );
        let culture = s.culture.clone().unwrap_or_default();
        let w = by_item.entry(key.clone()).or_insert_with(|| GWork {
            id: format!("mmsb-{}", key.replace('/', "-")),
            category: s.category,
            en: culture
                .source_text
                .clone()
                .unwrap_or_else(|| s.text.clone()),
            key_phrase_en: culture.key_phrase.clone().unwrap_or_default(),
            rephrased_en: None,
            contextual: false,
            culture_phrase: None,
            culture_sub: None,
            adapted_en: None,
            text: String::new(),
            key_phrase: String::new(),
            rephrased: String::new(),
            scene: None,
            photo: None,
            twin: None,
        });
        match s.image_type {
            Some(ImageType::I) => w.photo = s.image.as_ref().and_then(|i| ds.image_path(i).ok()),
            Some(ImageType::T) if s.text != w.en => w.rephrased_en = Some(s.text.clone()),
            _ => {}
        }
    }
    Ok(by_item
        .into_values()
        .filter(|w| !w.key_phrase_en.is_empty())
        .collect())
}

/// A rendered G seed (its I image and the PNGs of I, T, IT), or why it has no image.
type Rendered = Result<(RgbImage, [Vec<u8>; 3]), String>;

pub fn build_g(run: &mut Run) -> Result<(), BuildError> {
    let t = Instant::now();
    let seeds = g_pool(run)?;
    let seeds = g_select(run, seeds);
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

    let t = Instant::now();
    let seeds = g_substitute(run, seeds);
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

    let t = Instant::now();
    let seeds = g_translate(run, seeds)?;
    let mut kept = g_filter(run, seeds);
    g_twins(run, &mut kept);
    run.stage(
        "G translate",
        kept.len() as u64,
        t,
        "localized queries".into(),
    );

    let t = Instant::now();
    let (written, benign_g) = g_images(run, &kept)?;
    run.stage("G images", written, t, "samples (I, T, IT)".into());
    if benign_g > 0 {
        run.push_stage("G benign twins", benign_g, 0.0, "benign samples (I, T, IT)");
    }
    Ok(())
}

/// The seed pool (the pack's G seeds, or an imported MM-SafetyBench) drawn per category.
fn g_pool(run: &Run) -> Result<Vec<GWork>, BuildError> {
    let cfg = run.cfg;
    let mut rng = Rng::derive(cfg.seed, "g.select");
    let full = run.loc.meta.build.g_seeds_per_category;
    let n = match cfg.profile {
        Profile::Full => full,
        Profile::Lite => full.min(10),
    };
    let pool: Vec<GWork> = match &cfg.g_source {
        Some(dir) => seeds_from_mmsb(dir)?,
        None => run
            .loc
            .g_seeds
            .iter()
            .map(|s| GWork {
                id: s.id.clone(),
                category: s.category,
                en: s.en.clone(),
                key_phrase_en: s.key_phrase_en.clone(),
                rephrased_en: None,
                contextual: s.contextual,
                culture_phrase: s.culture_phrase_en.clone(),
                culture_sub: s.culture_sub.clone(),
                adapted_en: None,
                text: s.text.clone(),
                key_phrase: s.key_phrase.clone(),
                rephrased: s.rephrased.clone(),
                scene: Some(s.scene.clone()),
                photo: None,
                twin: None,
            })
            .collect(),
    };
    let seeds: Vec<GWork> = per_category(&pool, |s| s.category, n, &mut rng)
        .into_iter()
        .cloned()
        .collect();

    Ok(seeds)
}

/// Stage 1: cultural context-dependent query selection (from the pack offline; the
/// generator's classification in model mode).
fn g_select(run: &mut Run, mut seeds: Vec<GWork>) -> Vec<GWork> {
    if let Some(g) = &run.generator {
        let prompts: Vec<String> = seeds
            .iter()
            .map(|s| prompt(run, "g_classify", &[("text", &s.en)]))
            .collect();
        let items: Vec<String> = seeds.iter().map(|s| format!("G seed {}", s.id)).collect();
        let answers = g.ask(&prompts, &items, "classification", parse_classification);
        let mut kept = Vec::new();
        for (mut s, a) in seeds.into_iter().zip(answers) {
            match a {
                Ok((contextual, phrase)) => {
                    s.contextual = contextual && phrase.is_some();
                    s.culture_phrase = phrase.filter(|_| contextual);
                    kept.push(s);
                }
                Err(reason) => run.drop_item(&s.id, Subset::G, s.category, "generator", reason),
            }
        }
        seeds = kept;
    }
    seeds
}

/// Stage 2: culture-phrase substitution (contextual seeds only).
fn g_substitute(run: &mut Run, mut seeds: Vec<GWork>) -> Vec<GWork> {
    if let Some(g) = &run.generator {
        let idx: Vec<usize> = (0..seeds.len()).filter(|&i| seeds[i].contextual).collect();
        let prompts: Vec<String> = idx
            .iter()
            .map(|&i| {
                prompt(
                    run,
                    "g_adapt",
                    &[
                        ("text", &seeds[i].en),
                        (
                            "culture_phrase",
                            seeds[i].culture_phrase.as_deref().unwrap_or(""),
                        ),
                    ],
                )
            })
            .collect();
        let items: Vec<String> = idx
            .iter()
            .map(|&i| format!("G seed {}", seeds[i].id))
            .collect();
        let answers = g.ask(&prompts, &items, "adaptation", |r| {
            field(r, "Adapted", false).map(|x| (x, field(r, "Culture substitute", false)))
        });
        let mut bad = Vec::new();
        for (&i, a) in idx.iter().zip(answers) {
            let s = &mut seeds[i];
            match a {
                Ok((adapted, sub)) => {
                    s.adapted_en = Some(adapted);
                    s.culture_sub = sub;
                }
                Err(reason) => bad.push((i, reason)),
            }
        }
        for (i, reason) in bad.into_iter().rev() {
            let s = seeds.remove(i);
            run.drop_item(&s.id, Subset::G, s.category, "generator", reason);
        }
    }
    seeds
}

/// Stage 3: translation under the FAITH criteria (the pack's text offline).
fn g_translate(run: &mut Run, mut seeds: Vec<GWork>) -> Result<Vec<GWork>, BuildError> {
    let cfg = run.cfg;
    if let Some(g) = &run.generator {
        // three texts per seed: the query, the key phrase, and the masked query when the source has one
        let mut prompts = Vec::new();
        for s in &seeds {
            prompts.push(prompt(
                run,
                "g_translate",
                &[("text", s.adapted_en.as_deref().unwrap_or(&s.en))],
            ));
            prompts.push(prompt(run, "g_translate", &[("text", &s.key_phrase_en)]));
            prompts.push(prompt(
                run,
                "g_translate",
                &[("text", s.rephrased_en.as_deref().unwrap_or(""))],
            ));
        }
        let answers = g.complete_many(&prompts);
        let mut it = answers.into_iter();
        let mut kept = Vec::new();
        for mut s in seeds {
            let (a, k, r) = (it.next(), it.next(), it.next());
            let parse = |x: Option<Result<String, String>>, what: &str| -> Result<String, String> {
                let x = x
                    .unwrap_or_else(|| Err("missing answer".into()))
                    .map_err(|e| format!("G seed {}: {e}", s.id))?;
                field(&x, "Translation", true)
                    .ok_or_else(|| unparseable(&format!("G seed {}", s.id), what, &x))
            };
            let res = parse(a, "translation").and_then(|text| {
                let key = parse(k, "key-phrase translation")?;
                let reph = if s.rephrased_en.is_some() {
                    parse(r, "masked-query translation")?
                } else {
                    s.rephrased.clone()
                };
                Ok((text, key, reph))
            });
            match res {
                Ok((text, key, reph)) => {
                    s.text = text;
                    s.key_phrase = key;
                    s.rephrased = if reph.is_empty() {
                        s.text.clone()
                    } else {
                        reph
                    };
                    kept.push(s);
                }
                Err(reason) => run.drop_item(&s.id, Subset::G, s.category, "generator", reason),
            }
        }
        seeds = kept;
    } else if cfg.g_source.is_some() {
        return Err(BuildError::Template {
            item: "--g-source".into(),
            message: "MM-SafetyBench queries are English and must be translated: add --generator provider/model".into(),
        });
    }
    Ok(seeds)
}

/// The privacy and near-duplicate text filters.
fn g_filter(run: &mut Run, seeds: Vec<GWork>) -> Vec<GWork> {
    let cfg = run.cfg;
    let mut dedup = TextDeduper::new(cfg.text_dup_threshold);
    let mut kept = Vec::new();
    for s in seeds {
        let all_text = format!(
            "{} {} {} {}",
            s.text,
            s.rephrased,
            s.key_phrase,
            s.scene.as_ref().map(scene_text).unwrap_or_default()
        );
        if let Some(hit) = privacy_scan(&all_text, &run.names) {
            run.drop_item(&s.id, Subset::G, s.category, "privacy", hit.reason());
        } else if let Err((other, sim)) = dedup.check(&s.id, &s.text) {
            run.drop_item(
                &s.id,
                Subset::G,
                s.category,
                "text_dedup",
                format!("{sim:.2} similar to {other}"),
            );
        } else {
            kept.push(s);
        }
    }
    kept
}

/// Model mode: the generator writes each seed's benign twin (offline they are pack data).
fn g_twins(run: &mut Run, kept: &mut [GWork]) {
    let cfg = run.cfg;
    if let (Some(g), true) = (&run.generator, cfg.subsets.contains(&Subset::Benign)) {
        let prompts: Vec<String> = kept
            .iter()
            .map(|s| {
                let scene = s
                    .scene
                    .as_ref()
                    .map(scene_text)
                    .unwrap_or_else(|| s.key_phrase.clone());
                prompt(run, "benign", &[("query", &s.text), ("scene", &scene)])
            })
            .collect();
        let answers = g.complete_many(&prompts);
        let mut failed = Vec::new();
        for (s, a) in kept.iter_mut().zip(answers) {
            let parsed = a
                .map_err(|e| format!("G seed {} benign twin: {e}", s.id))
                .and_then(|r| {
                    match (
                        field(&r, "Twin", false),
                        field(&r, "Key phrase", false),
                        field(&r, "Masked", false),
                    ) {
                        (Some(t), Some(k), Some(m)) => Ok((t, k, m)),
                        _ => Err(unparseable(&format!("G seed {}", s.id), "benign-twin", &r)),
                    }
                });
            match parsed {
                Ok((text, key, masked)) => {
                    s.twin = Some(crate::locale::BenignTwin {
                        id: format!("b-{}", s.id),
                        twin_of: s.id.clone(),
                        category: s.category,
                        text,
                        key_phrase: Some(key),
                        rephrased: Some(masked),
                    })
                }
                Err(reason) => failed.push((format!("b-{}", s.id), s.category, reason)),
            }
        }
        for (id, cat, reason) in failed {
            run.drop_item(&id, Subset::Benign, cat, "generator", reason);
        }
    }
}

/// Stage 4: images I, T, IT, the image near-duplicate filter, and the samples (with the
/// benign twins). Returns (samples, benign samples) written.
fn g_images(run: &mut Run, kept: &[GWork]) -> Result<(u64, u64), BuildError> {
    let cfg = run.cfg;
    run.progress.start("G images", kept.len() as u64 * 3);
    let typo = TypoOptions::default();
    let mut images = ImageDeduper::new(cfg.image_dup_distance);
    let mut written = 0u64;
    let mut benign_g = 0u64;
    let fonts = run.fonts.clone();
    for batch in kept.chunks(BATCH) {
        // the I image: the seed's photo, the image backend, or a scene card
        let mut photos: Vec<Option<Result<RgbImage, String>>> = batch
            .iter()
            .map(|s| {
                s.photo.as_ref().map(|p| {
                    image::open(p)
                        .map(|i| i.to_rgb8())
                        .map_err(|e| format!("G seed {}: cannot read {}: {e}", s.id, p.display()))
                })
            })
            .collect();
        if let Some(g) = run.generator.as_ref().filter(|g| g.has_image_backend()) {
            let need: Vec<usize> = (0..batch.len()).filter(|&i| photos[i].is_none()).collect();
            let prompts: Vec<String> = need
                .iter()
                .map(|&i| {
                    let s = &batch[i];
                    let scene = s
                        .scene
                        .as_ref()
                        .map(scene_text)
                        .unwrap_or_else(|| s.key_phrase_en.clone());
                    prompt(run, "image", &[("scene", &scene)])
                })
                .collect();
            for (&i, r) in need.iter().zip(g.images_many(&prompts)) {
                photos[i] = Some(r.and_then(|b| {
                    image::load_from_memory(&b)
                        .map(|i| i.to_rgb8())
                        .map_err(|e| {
                            format!(
                                "G seed {}: the image backend sent an undecodable image: {e}",
                                batch[i].id
                            )
                        })
                }));
            }
        }
        let style = &run.loc.style;
        let rendered = render_all(
            &(0..batch.len()).collect::<Vec<_>>(),
            cfg.threads,
            |&i| -> Result<Rendered, BuildError> {
                let s = &batch[i];
                let err = |e| BuildError::Render {
                    item: format!("G seed {}", s.id),
                    source: e,
                };
                let img = match &photos[i] {
                    Some(Ok(p)) => p.clone(),
                    Some(Err(msg)) => return Ok(Err(msg.clone())),
                    None => match &s.scene {
                        Some(scene) => render_scene(
                            &fonts,
                            scene,
                            style,
                            Rng::derive(cfg.seed, &s.id).next_u64(),
                        )
                        .map_err(err)?,
                        None => {
                            return Ok(Err(format!(
                                "G seed {}: no image and no scene to render",
                                s.id
                            )))
                        }
                    },
                };
                let t_img = typography(&fonts, &s.key_phrase, &typo).map_err(err)?;
                let it_img = composite(&fonts, &img, &s.key_phrase, &typo).map_err(err)?;
                let pngs = [encode_png(&img), encode_png(&t_img), encode_png(&it_img)];
                Ok(Ok((img, pngs)))
            },
        );
        for (s, r) in batch.iter().zip(rendered) {
            run.progress.inc(3);
            let (img, pngs) = match r? {
                Ok(x) => x,
                Err(reason) => {
                    run.drop_item(&s.id, Subset::G, s.category, "image", reason);
                    continue;
                }
            };
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
            let i_png = pngs[0].clone();
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
                if let Some(a) = &s.adapted_en {
                    extra.insert("adapted_en".to_string(), a.clone());
                }
                let culture = Culture {
                    contextual: s.contextual,
                    key_phrase: Some(s.key_phrase.clone()),
                    culture_phrase: s.culture_phrase.clone(),
                    culture_sub: s.culture_sub.clone(),
                    source_text: Some(s.en.clone()),
                };
                let provenance = Provenance {
                    stage: "g".into(),
                    generator: run.generator_name(),
                    extra,
                };
                let sample = image_sample(
                    &cfg.locale,
                    Subset::G,
                    s.category,
                    text,
                    image,
                    it,
                    culture,
                    provenance,
                );
                run.writer.write(&sample)?;
                written += 1;
            }
            if cfg.subsets.contains(&Subset::Benign) {
                let twin = if run.generator.is_some() {
                    s.twin.clone()
                } else {
                    run.loc.benign.get(&s.id).cloned()
                };
                if let Some(twin) = twin {
                    benign_g += write_g_twin(run, s, &twin, &img, &i_png, &typo)?;
                }
            }
        }
    }
    Ok((written, benign_g))
}

/// The benign twin of a G seed, in the three image types: the seed's scene, the typography of
/// the twin's own (benign) key phrase, and both.
fn write_g_twin(
    run: &mut Run,
    s: &GWork,
    twin: &crate::locale::BenignTwin,
    img: &RgbImage,
    i_png: &[u8],
    typo: &TypoOptions,
) -> Result<u64, BuildError> {
    let cfg = run.cfg;
    if let Some(hit) = privacy_scan(&twin.text, &run.names) {
        run.drop_item(
            &twin.id,
            Subset::Benign,
            twin.category,
            "privacy",
            hit.reason(),
        );
        return Ok(0);
    }
    let key = twin
        .key_phrase
        .clone()
        .unwrap_or_else(|| s.key_phrase.clone());
    let err = |e| BuildError::Render {
        item: format!("benign twin {}", twin.id),
        source: e,
    };
    let t_png = encode_png(&typography(&run.fonts, &key, typo).map_err(err)?);
    let it_png = encode_png(&composite(&run.fonts, img, &key, typo).map_err(err)?);
    let mut n = 0;
    for (it, png) in [
        (ImageType::I, i_png),
        (ImageType::T, &t_png[..]),
        (ImageType::IT, &it_png[..]),
    ] {
        let image = run.writer.add_image(png)?;
        let text = match (cfg.g_query, it) {
            (GQuery::Mmsb, ImageType::T | ImageType::IT) => {
                twin.rephrased.clone().unwrap_or_else(|| twin.text.clone())
            }
            _ => twin.text.clone(),
        };
        let mut extra = BTreeMap::new();
        extra.insert("twin_of".to_string(), s.id.clone());
        let culture = Culture {
            contextual: false,
            key_phrase: Some(key.clone()),
            culture_phrase: None,
            culture_sub: None,
            source_text: None,
        };
        let provenance = Provenance {
            stage: "benign.g".into(),
            generator: run.generator_name(),
            extra,
        };
        let sample = image_sample(
            &cfg.locale,
            Subset::Benign,
            twin.category,
            text,
            image,
            it,
            culture,
            provenance,
        );
        run.writer.write(&sample)?;
        n += 1;
    }
    Ok(n)
}

/// A plain-query sample with an image, as the G stage and its benign twins write them.
#[allow(clippy::too_many_arguments)]
fn image_sample(
    locale: &str,
    subset: Subset,
    category: Category,
    text: String,
    image: ksafe_core::ImageRef,
    it: ImageType,
    culture: Culture,
    provenance: Provenance,
) -> Sample {
    let mut s = Sample::new(subset, category, locale, &text);
    s.image = Some(image);
    s.image_type = Some(it);
    s.culture = Some(culture);
    s.provenance = Some(provenance);
    s.with_content_id()
}
