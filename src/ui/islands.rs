//! The script that brings a page's islands to life.
//!
//! Pages render on the server; only components marked `#[island]` (the live
//! parts and a few forms) are compiled to WebAssembly. Leptos's own
//! `HydrationScripts` preloads the WebAssembly on every page; this loader
//! (`islands.js`) downloads it only on pages that have an island, so a page of
//! plain links and forms costs no script but this one.

use leptos::prelude::*;

/// The hashed names of the JavaScript and WebAssembly files, as `cargo leptos`
/// writes them beside the server binary (`hash.txt`), the way Leptos reads them.
fn file_names(options: &LeptosOptions) -> (String, String) {
    let mut js = options.output_name.to_string();
    let mut wasm = options.output_name.to_string();
    if options.hash_files {
        let path = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|p| p.to_path_buf()))
            .unwrap_or_default()
            .join(options.hash_file.as_ref());
        for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
            match line.trim().split_once(':') {
                Some(("js", hash)) => js.push_str(&format!(".{}", hash.trim())),
                Some(("wasm", hash)) => wasm.push_str(&format!(".{}", hash.trim())),
                _ => {}
            }
        }
    } else if option_env!("LEPTOS_OUTPUT_NAME").is_none() {
        wasm.push_str("_bg");
    }
    (js, wasm)
}

/// The loader, as a module script carrying the page's nonce.
#[component]
pub fn IslandScripts(options: LeptosOptions) -> impl IntoView {
    let (js, wasm) = file_names(&options);
    let script = format!(
        "{}(\"\", {:?}, {js:?}, {wasm:?});",
        include_str!("islands.js"),
        options.site_pkg_dir.as_ref()
    );
    let nonce = leptos::nonce::use_nonce();
    view! { <script type="module" nonce=nonce>{script}</script> }
}
