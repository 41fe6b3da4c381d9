//! Embeds the pinned Korean font faces into the binary, so every host renders byte-identical
//! images. The faces come from Debian's `fonts-nanum` package (SIL OFL 1.1); they are never
//! committed to the repository. `KSAFE_FONT_DIR` points elsewhere if they live in another folder.

use sha2::{Digest, Sha256};
use std::path::PathBuf;

const FACES: [(&str, &str); 2] = [
    (
        "NanumGothic.ttf",
        "48a28e97b34fc8e5b157657633670cd1b7de126cfc414da65ce9c3d5bc8be733",
    ),
    (
        "NanumGothicBold.ttf",
        "454eb3f503f377782a99eb84fc4bb7dde22a0f075d41b47427737f2985053bc9",
    ),
];

fn main() {
    println!("cargo:rerun-if-env-changed=KSAFE_FONT_DIR");
    let dir = std::env::var("KSAFE_FONT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/share/fonts/truetype/nanum"));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for (name, sha) in FACES {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => panic!(
                "\n\nksafe-render needs the Korean font {name} ({e} at {}).\n\
                 Install it with:  sudo apt-get install fonts-nanum\n\
                 or set KSAFE_FONT_DIR to a folder holding NanumGothic.ttf and NanumGothicBold.ttf.\n\n",
                path.display()
            ),
        };
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if got != sha {
            panic!(
                "\n\n{} has sha256 {got}, but ksafe pins {sha} (fonts-nanum 20200506-1).\n\
                 A different font would make rendered images differ between hosts.\n\n",
                path.display()
            );
        }
        std::fs::write(out.join(name), &bytes).unwrap();
    }
}
