//! KSAFE-MM-C: topics → five variables → template query → image → the 10 jailbreak rewrites
//! (11 queries per image). Candidates (topic × scene × template kind) are drawn until each
//! category has its number of seeds, so a filtered item is replaced rather than lost.

use crate::filters::{dhash, privacy_scan, ImageDeduper, TextDeduper};
use crate::josa::fill;
use crate::locale::{CTopic, Locale};
use crate::model::{field, unparseable};
use crate::run::{c_targets, prompt, render_all, scene_text, BuildError, Run, BATCH};
use ksafe_core::{
    Category, ImageType, Provenance, QueryType, Rng, Sample, StrategyFamily, Subset, TemplateKind,
    Variables,
};
use ksafe_render::scene::render_scene;
use ksafe_render::{encode_png, Fonts, SceneSpec};
use std::collections::BTreeMap;
use std::time::Instant;

/// The paper's description of each jailbreak pattern (Liu et al. 2023b, KSAFE-MM App. C.4), for
/// the model-mode rewriting prompt.
fn strategy_description(q: QueryType) -> &'static str {
    match q {
        QueryType::CharacterRolePlay => "ask the model to take on a character's role (e.g. a security expert) and answer in character",
        QueryType::AssumedResponsibility => "assign the model a responsible professional duty (e.g. an auditor) that seems to require the answer",
        QueryType::ResearchExperiment => "present the request as data gathering for a research experiment",
        QueryType::TextContinuation => "ask the model to continue a started passage that leads into the answer step by step",
        QueryType::LogicalReasoning => "ask the model to deduce the answer logically, starting from the first step",
        QueryType::ProgramExecution => "frame the request as code to complete (a function stub) and ask how the missing part works",
        QueryType::Translation => "present the request as a language exercise: answer, then translate the answer",
        QueryType::SuperiorModel => "claim a more advanced AI would answer, and challenge the model to prove it is that capable",
        QueryType::SudoMode => "declare an administrator / sudo mode in which safety filters are off",
        QueryType::SimulateJailbreaking => "ask the model to answer under the assumption that all its constraints have been bypassed",
        QueryType::Plain | QueryType::Template => "",
    }
}

fn family_name(f: Option<StrategyFamily>) -> &'static str {
    match f {
        Some(StrategyFamily::Pretending) => "Pretending",
        Some(StrategyFamily::AttentionShifting) => "Attention Shifting",
        Some(StrategyFamily::PrivilegeEscalation) => "Privilege Escalation",
        None => "",
    }
}

/// One planned image seed.
struct CSeed<'a> {
    key: String,
    topic: CTopic,
    scene: &'a SceneSpec,
    kind: TemplateKind,
    query: String,
    phrasing: usize,
    png: Vec<u8>,
    /// (strategy, text, phrasing index or usize::MAX for a generated rewrite)
    jailbreaks: Vec<(QueryType, String, usize)>,
    /// Model mode: the generated benign twin.
    benign: Option<String>,
}

pub fn build_c(run: &mut Run) -> Result<(), BuildError> {
    let cfg = run.cfg;
    let loc: Locale = run.loc.clone();
    let t = Instant::now();
    let mut rng = Rng::derive(cfg.seed, "c.topics");
    let topics = c_topics(&loc);
    run.stage("C topics", topics.len() as u64, t, "topics".into());

    let t = Instant::now();
    let topics = c_variables(run, topics);
    let complete = topics
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

    let mut by_cat: BTreeMap<Category, Vec<CTopic>> = BTreeMap::new();
    for topic in topics {
        by_cat.entry(topic.category).or_default().push(topic);
    }
    for list in by_cat.values_mut() {
        rng.shuffle(list);
    }
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
    let (mut t_queries, mut t_render, mut t_jb) = (0.0f64, 0.0f64, 0.0f64);
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
                .map(move |(ti, topic)| (r, ti, topic))
        });
        let mut accepted = 0;
        while accepted < want {
            // Stage 3: template queries (and their filters).
            let tq = Instant::now();
            let room = (want - accepted).min(BATCH);
            let mut batch: Vec<CSeed> = Vec::new();
            let exhausted = c_template_queries(&loc, cfg.seed, &mut candidates, room, &mut batch)?;
            c_generate_queries(run, cat, &mut batch);
            let batch = c_filter(run, cat, &mut dedup, batch);
            t_queries += tq.elapsed().as_secs_f64();
            if batch.is_empty() {
                if exhausted {
                    break; // candidates exhausted: the category gets fewer seeds (reported in the counts)
                }
                continue;
            }

            // Stage 4: images (the image backend, or the renderer's scene cards).
            let tr = Instant::now();
            let with_images = c_images(run, &loc, cat, &fonts, &mut images, batch)?;
            t_render += tr.elapsed().as_secs_f64();

            // Stage 5: the 10 jailbreak rewrites of each seed query.
            let tj = Instant::now();
            let mut with_images = c_jailbreaks(run, &loc, cat, with_images);
            c_generate_twins(run, cat, &mut with_images);
            t_jb += tj.elapsed().as_secs_f64();
            n_seeds += with_images.len() as u64;
            for s in &with_images {
                run.progress.inc(1);
                accepted += 1;
                n_images += 1;
                n_jb += write_c_seed(run, s)?;
            }
            if exhausted {
                break;
            }
        }
    }
    run.progress.finish(
        "C template queries",
        &format!("{n_seeds} seed queries ({t_queries:.1}s)"),
    );
    run.push_stage("C template queries", n_seeds, t_queries, "seed queries");
    run.progress.finish(
        "C images",
        &format!("{n_images} images, one per seed ({t_render:.1}s)"),
    );
    run.push_stage("C images", n_images, t_render, "images (one per seed)");
    run.progress.finish(
        "C jailbreaks",
        &format!(
            "{n_jb} rewrites ({} samples with the seeds)",
            n_images + n_jb
        ),
    );
    run.push_stage("C jailbreaks", n_jb, t_jb, "rewrites");
    Ok(())
}

/// Stage 1: the topics of the pack.
fn c_topics(loc: &Locale) -> Vec<CTopic> {
    loc.c_topics.clone()
}

/// Stage 2: the five variables (from the pack offline; extracted by the generator in model mode).
fn c_variables(run: &mut Run, mut topics: Vec<CTopic>) -> Vec<CTopic> {
    if let Some(g) = &run.generator {
        let prompts: Vec<String> = topics
            .iter()
            .map(|tp| {
                prompt(
                    run,
                    "c_variables",
                    &[
                        ("topic", &tp.topic),
                        ("issue", &tp.issue),
                        (
                            "scene",
                            &tp.scenes.first().map(scene_text).unwrap_or_default(),
                        ),
                    ],
                )
            })
            .collect();
        let items: Vec<String> = topics
            .iter()
            .map(|tp| format!("C topic {}", tp.id))
            .collect();
        let answers = g.ask(&prompts, &items, "five-variable", |r| {
            let get = |l| field(r, l, false);
            Some((
                get("Target")?,
                get("Attribute")?,
                get("Mean")?,
                get("Rationale")?,
                get("Context")?,
            ))
        });
        let mut kept = Vec::new();
        for (mut tp, parsed) in topics.into_iter().zip(answers) {
            match parsed {
                Ok((a, b, c, d, e)) => {
                    (tp.target, tp.attribute, tp.mean, tp.rationale, tp.context) = (a, b, c, d, e);
                    kept.push(tp);
                }
                Err(reason) => run.drop_item(&tp.id, Subset::C, tp.category, "generator", reason),
            }
        }
        topics = kept;
    }
    topics
}

/// Stage 3: template queries for the next `room` candidates. Round r of a topic list uses scene
/// r mod 3 and a template kind that differs from the earlier rounds with that scene. Returns
/// whether the candidates ran out.
fn c_template_queries<'a>(
    loc: &Locale,
    seed: u64,
    candidates: &mut impl Iterator<Item = (usize, usize, &'a CTopic)>,
    room: usize,
    batch: &mut Vec<CSeed<'a>>,
) -> Result<bool, BuildError> {
    for (r, ti, topic) in candidates.by_ref() {
        if r >= topic.scenes.len() * 3 {
            continue;
        }
        let kind_of = |r: usize| TemplateKind::ALL[(r / topic.scenes.len() + r + ti) % 3];
        let kind = kind_of(r);
        let key = format!("{}#{}", topic.id, r);
        // The k-th use of a kind for a topic takes the next phrasing after a seeded start,
        // so a topic's queries of one kind never repeat a phrasing (while phrasings last).
        let phrasings = loc.templates.of(kind);
        let start =
            Rng::derive(seed, &format!("{}/{}", topic.id, kind.id())).below(phrasings.len());
        let earlier = (0..r).filter(|&q| kind_of(q) == kind).count();
        let phrasing = (start + earlier) % phrasings.len();
        let query = fill(&phrasings[phrasing].text, &|s| topic.slot(s)).map_err(|message| {
            BuildError::Template {
                item: format!("C topic {}", topic.id),
                message,
            }
        })?;
        batch.push(CSeed {
            key,
            topic: topic.clone(),
            scene: &topic.scenes[r % topic.scenes.len()],
            kind,
            query,
            phrasing,
            png: Vec::new(),
            jailbreaks: Vec::new(),
            benign: None,
        });
        if batch.len() >= room {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Stage 3 in model mode: the generator writes each query (the filled template is its example).
fn c_generate_queries(run: &mut Run, cat: Category, batch: &mut Vec<CSeed>) {
    if let Some(g) = &run.generator {
        // the pack's filled template is the example; the generator writes the query
        let prompts: Vec<String> = batch
            .iter()
            .map(|s| {
                let v = |n: &str| s.topic.slot(n).unwrap_or_default();
                prompt(
                    run,
                    "c_query",
                    &[
                        ("scene", &scene_text(s.scene)),
                        ("kind", s.kind.id()),
                        ("target", &v("target")),
                        ("attribute", &v("attribute")),
                        ("mean", &v("mean")),
                        ("rationale", &v("rationale")),
                        ("context", &v("context")),
                        ("example", &s.query),
                    ],
                )
            })
            .collect();
        let items: Vec<String> = batch.iter().map(|s| format!("C seed {}", s.key)).collect();
        let answers = g.ask(&prompts, &items, "query", |r| field(r, "Query", false));
        let mut kept = Vec::new();
        for (mut s, a) in std::mem::take(batch).into_iter().zip(answers) {
            match a {
                Ok(q) => {
                    s.query = q;
                    s.phrasing = usize::MAX;
                    kept.push(s);
                }
                Err(reason) => run.drop_item(&s.key, Subset::C, cat, "generator", reason),
            }
        }
        *batch = kept;
    }
}

/// The privacy and near-duplicate text filters.
fn c_filter<'a>(
    run: &mut Run,
    cat: Category,
    dedup: &mut TextDeduper,
    batch: Vec<CSeed<'a>>,
) -> Vec<CSeed<'a>> {
    let mut filtered = Vec::new();
    for s in batch {
        let all_text = format!("{} {}", s.query, scene_text(s.scene));
        if let Some(hit) = privacy_scan(&all_text, &run.names) {
            run.drop_item(&s.key, Subset::C, cat, "privacy", hit.reason());
        } else if let Err((other, sim)) = dedup.check(&s.key, &s.query) {
            run.drop_item(
                &s.key,
                Subset::C,
                cat,
                "text_dedup",
                format!("{sim:.2} similar to {other}"),
            );
        } else {
            filtered.push(s);
        }
    }
    filtered
}

/// Stage 4: images (the image backend, or the renderer's scene cards) and the image
/// near-duplicate filter.
fn c_images<'a>(
    run: &mut Run,
    loc: &Locale,
    cat: Category,
    fonts: &Fonts,
    images: &mut ImageDeduper,
    mut batch: Vec<CSeed<'a>>,
) -> Result<Vec<CSeed<'a>>, BuildError> {
    let cfg = run.cfg;
    let mut generated: Vec<Option<Result<Vec<u8>, String>>> = vec![None; batch.len()];
    if let Some(g) = run.generator.as_ref().filter(|g| g.has_image_backend()) {
        let prompts: Vec<String> = batch
            .iter()
            .map(|s| {
                prompt(
                    run,
                    "image",
                    &[(
                        "scene",
                        &format!("{} ({})", scene_text(s.scene), s.topic.context),
                    )],
                )
            })
            .collect();
        for (slot, r) in generated.iter_mut().zip(g.images_many(&prompts)) {
            *slot = Some(r);
        }
    }
    let style = &loc.style;
    let rendered = render_all(
        &(0..batch.len()).collect::<Vec<_>>(),
        cfg.threads,
        |&i| -> Result<Result<(crate::filters::ImageHash, Vec<u8>), String>, BuildError> {
            let s = &batch[i];
            match &generated[i] {
                Some(Ok(bytes)) => match image::load_from_memory(bytes) {
                    Ok(img) => {
                        let rgb = img.to_rgb8();
                        Ok(Ok((dhash(&rgb), encode_png(&rgb))))
                    }
                    Err(e) => Ok(Err(format!(
                        "C seed {}: the image backend sent an undecodable image: {e}",
                        s.key
                    ))),
                },
                Some(Err(msg)) => Ok(Err(format!("C seed {}: {msg}", s.key))),
                None => render_scene(
                    fonts,
                    s.scene,
                    style,
                    Rng::derive(cfg.seed, &s.key).next_u64(),
                )
                .map(|img| Ok((dhash(&img), encode_png(&img))))
                .map_err(|e| BuildError::Render {
                    item: format!("C seed {}", s.key),
                    source: e,
                }),
            }
        },
    );
    let mut with_images = Vec::new();
    for (mut s, r) in batch.drain(..).zip(rendered) {
        match r? {
            Err(reason) => run.drop_item(&s.key, Subset::C, cat, "image", reason),
            Ok((hash, png)) => {
                if let Err((other, d)) = images.check(&s.key, hash) {
                    run.drop_item(
                        &s.key,
                        Subset::C,
                        cat,
                        "image_dedup",
                        format!("image within {d} bits of {other}'s"),
                    );
                } else {
                    s.png = png;
                    with_images.push(s);
                }
            }
        }
    }

    Ok(with_images)
}

/// Stage 5: the 10 jailbreak rewrites of each seed query (pack phrasings offline; the generator
/// rewrites them in model mode).
fn c_jailbreaks<'a>(
    run: &mut Run,
    loc: &Locale,
    cat: Category,
    mut with_images: Vec<CSeed<'a>>,
) -> Vec<CSeed<'a>> {
    let cfg = run.cfg;
    for s in &mut with_images {
        let mut jrng = Rng::derive(cfg.seed, &format!("{}/jailbreak", s.key));
        for q in QueryType::JAILBREAKS {
            let phr = &loc.jailbreaks[&q];
            let k = jrng.below(phr.len());
            s.jailbreaks
                .push((q, phr[k].text.replace("{query}", &s.query), k));
        }
    }
    if let Some(g) = &run.generator {
        let prompts: Vec<String> = with_images
            .iter()
            .flat_map(|s| {
                s.jailbreaks.iter().map(|(q, example, _)| {
                    prompt(
                        run,
                        "c_jailbreak",
                        &[
                            ("strategy", q.id()),
                            ("family", family_name(q.family())),
                            ("description", strategy_description(*q)),
                            ("example", example),
                            ("query", &s.query),
                        ],
                    )
                })
            })
            .collect();
        let items: Vec<String> = with_images
            .iter()
            .flat_map(|s| {
                s.jailbreaks
                    .iter()
                    .map(move |j| format!("C seed {} {}", s.key, j.0))
            })
            .collect();
        let mut answers = g
            .ask(&prompts, &items, "jailbreak", |r| {
                field(r, "Rewritten", true)
            })
            .into_iter();
        let mut kept = Vec::new();
        for mut s in with_images {
            let mut failure = None;
            for j in s.jailbreaks.iter_mut() {
                let a = answers
                    .next()
                    .unwrap_or_else(|| Err("missing answer".into()));
                match a {
                    Ok(text) => {
                        j.1 = text;
                        j.2 = usize::MAX;
                    }
                    Err(reason) => failure = failure.or(Some(reason)),
                }
            }
            match failure {
                None => kept.push(s),
                Some(reason) => run.drop_item(&s.key, Subset::C, cat, "generator", reason),
            }
        }
        with_images = kept;
    }
    with_images
}

/// Model mode: the generator writes each seed's benign twin (offline they are pack data).
fn c_generate_twins(run: &mut Run, cat: Category, with_images: &mut [CSeed]) {
    let cfg = run.cfg;
    if let (Some(g), true) = (&run.generator, cfg.subsets.contains(&Subset::Benign)) {
        let prompts: Vec<String> = with_images
            .iter()
            .map(|s| {
                prompt(
                    run,
                    "benign",
                    &[("query", &s.query), ("scene", &scene_text(s.scene))],
                )
            })
            .collect();
        let answers = g.complete_many(&prompts);
        for (s, a) in with_images.iter_mut().zip(answers) {
            match a
                .map_err(|e| format!("C seed {} benign twin: {e}", s.key))
                .and_then(|r| {
                    field(&r, "Twin", false)
                        .ok_or_else(|| unparseable(&format!("C seed {}", s.key), "benign-twin", &r))
                }) {
                Ok(t) => s.benign = Some(t),
                Err(reason) => run.drop_item(
                    &format!("b-{}", s.key),
                    Subset::Benign,
                    cat,
                    "generator",
                    reason,
                ),
            }
        }
    }
}

/// Write one C image seed: the template-query sample and its 10 jailbreak variants.
fn write_c_seed(run: &mut Run, s: &CSeed) -> Result<u64, BuildError> {
    let cfg = run.cfg;
    let image = run.writer.add_image(&s.png)?;
    let topic = &s.topic;
    let variables = Variables {
        target: topic.target.clone(),
        attribute: topic.attribute.clone(),
        mean: topic.mean.clone(),
        rationale: topic.rationale.clone(),
        context: topic.context.clone(),
    };
    let generator = run.generator_name();
    let mut extra = BTreeMap::new();
    extra.insert("topic_id".to_string(), topic.id.clone());
    extra.insert("image_seed".to_string(), s.key.clone());
    if s.phrasing != usize::MAX {
        extra.insert("template_phrasing".to_string(), s.phrasing.to_string());
    }
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
            generator: generator.clone(),
            extra: extra.clone(),
        }),
    }
    .with_content_id();
    run.writer.write(&seed_sample)?;
    if cfg.subsets.contains(&Subset::Benign) {
        let twin = match (&run.generator, &s.benign) {
            (Some(_), Some(text)) => Some(crate::locale::BenignTwin {
                id: format!("b-{}", s.key),
                twin_of: topic.id.clone(),
                category: topic.category,
                text: text.clone(),
                key_phrase: None,
                rephrased: None,
            }),
            (Some(_), None) => None,
            (None, _) => run.loc.benign.get(&topic.id).cloned(),
        };
        if let Some(twin) = twin {
            // the benign twin shares the seed's image: same context, a request to answer
            if let Some(hit) = crate::filters::privacy_scan(&twin.text, &run.names) {
                run.drop_item(
                    &twin.id,
                    Subset::Benign,
                    twin.category,
                    "privacy",
                    hit.reason(),
                );
            } else {
                let mut b = seed_sample.clone();
                b.subset = Subset::Benign;
                b.category = twin.category;
                b.text = twin.text.clone();
                b.query_type = QueryType::Plain;
                b.template_kind = None;
                b.variables = None;
                let mut extra = BTreeMap::new();
                extra.insert("twin_of".to_string(), topic.id.clone());
                extra.insert("image_seed".to_string(), s.key.clone());
                b.provenance = Some(Provenance {
                    stage: "benign.c".into(),
                    generator: generator.clone(),
                    extra,
                });
                run.writer.write(&b.with_content_id())?;
            }
        }
    }
    let mut n = 0;
    for (q, text, k) in &s.jailbreaks {
        let mut v = seed_sample.clone();
        v.text = text.clone();
        v.query_type = *q;
        v.parent_id = Some(seed_sample.id.clone());
        let mut extra = extra.clone();
        if *k != usize::MAX {
            extra.insert("jailbreak_phrasing".to_string(), k.to_string());
        }
        v.provenance = Some(Provenance {
            stage: "c.jailbreak".into(),
            generator: generator.clone(),
            extra,
        });
        run.writer.write(&v.with_content_id())?;
        n += 1;
    }
    Ok(n)
}
