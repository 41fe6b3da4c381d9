//! `ksafe render …`: the offline renderer, for making or checking single images.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ksafe_construct::locale::Locale;
use ksafe_render::scene::render_scene;
use ksafe_render::{composite, encode_png, typography, Fonts, SceneKind, SceneSpec, TypoOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct FontArg {
    /// Render with this TTF/OTF file instead of the embedded NanumGothic faces.
    #[arg(long)]
    font: Option<PathBuf>,
}

impl FontArg {
    fn load(&self) -> Result<Arc<Fonts>> {
        Ok(match &self.font {
            Some(p) => Arc::new(Fonts::from_path(p)?),
            None => Fonts::embedded(),
        })
    }
}

#[derive(Subcommand)]
pub enum RenderCommand {
    /// A typography image (T): the text in large type, black on white, 1024 px wide.
    Typo {
        text: String,
        #[arg(long)]
        out: PathBuf,
        /// Font size in pixels.
        #[arg(long, default_value_t = 90.0)]
        px: f32,
        #[command(flatten)]
        font: FontArg,
    },
    /// An image + typography composite (IT): IMAGE with the typography of TEXT beneath.
    Composite {
        image: PathBuf,
        text: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        font: FontArg,
    },
    /// A scene card (1024 × 1024): chat, poster, news, forum, document, sign or listing.
    Scene {
        /// chat | poster | news | forum | document | sign | listing
        #[arg(long)]
        kind: String,
        #[arg(long)]
        title: String,
        /// A line of content (repeatable).
        #[arg(long = "line")]
        lines: Vec<String>,
        /// Layout and colour seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Locale pack whose names and UI words fill the card.
        #[arg(long, default_value = "ko")]
        locale: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        font: FontArg,
    },
}

pub fn run(cmd: RenderCommand) -> Result<ExitCode> {
    let (img, out) = match cmd {
        RenderCommand::Typo {
            text,
            out,
            px,
            font,
        } => {
            let fonts = font.load()?;
            (
                typography(
                    &fonts,
                    &text,
                    &TypoOptions {
                        px,
                        ..Default::default()
                    },
                )?,
                out,
            )
        }
        RenderCommand::Composite {
            image,
            text,
            out,
            font,
        } => {
            let fonts = font.load()?;
            let top = image::open(&image)
                .with_context(|| format!("cannot read image {}", image.display()))?
                .to_rgb8();
            (
                composite(&fonts, &top, &text, &TypoOptions::default())?,
                out,
            )
        }
        RenderCommand::Scene {
            kind,
            title,
            lines,
            seed,
            locale,
            out,
            font,
        } => {
            let fonts = font.load()?;
            let kind: SceneKind = serde_json::from_value(serde_json::Value::String(kind.clone()))
                .map_err(|_| anyhow::anyhow!("unknown scene kind '{kind}' (expected chat, poster, news, forum, document, sign or listing)"))?;
            let loc = Locale::load(&locale)?;
            (
                render_scene(&fonts, &SceneSpec { kind, title, lines }, &loc.style, seed)?,
                out,
            )
        }
    };
    std::fs::write(&out, encode_png(&img))
        .with_context(|| format!("cannot write {}", out.display()))?;
    crate::outln!("wrote {} ({}×{})", out.display(), img.width(), img.height());
    Ok(ExitCode::SUCCESS)
}
