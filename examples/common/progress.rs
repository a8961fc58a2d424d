//! Progress where work is long: blob transfers (bars on a terminal, a line per finished blob elsewhere)
//! and waits (a spinner with the current status, on a terminal only).
#![allow(dead_code)] // each example uses the half it needs

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use offinfra::ghcr_client::registry::{Progress, ProgressFn};

/// Progress for blob transfers on stderr: [`blob_bars`] on a terminal, else one line per finished blob
/// (`uploaded sha256:… 12345 bytes`), which is what a CI log can show.
pub fn blobs() -> ProgressFn {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        return blob_bars();
    }
    let sizes: Mutex<HashMap<String, u64>> = Mutex::default();
    Arc::new(move |event| match event {
        Progress::BlobStarted { digest, size } => {
            if let Ok(mut sizes) = sizes.lock() {
                sizes.insert(digest, size);
            }
        }
        Progress::BlobDone { digest, outcome } => {
            let size = sizes.lock().ok().and_then(|s| s.get(&digest).copied()).unwrap_or_default();
            let outcome = format!("{outcome:?}").to_lowercase();
            eprintln!("{outcome:<8} {digest} {size} bytes");
        }
        _ => {}
    })
}

/// One progress bar per blob on stderr, added as the blob starts (a blob started again starts its bar
/// again). Only called on a TTY.
pub fn blob_bars() -> ProgressFn {
    let multi = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template("{msg:20} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let bars: Mutex<HashMap<String, indicatif::ProgressBar>> = Mutex::default();
    Arc::new(move |event| {
        let Ok(mut bars) = bars.lock() else { return };
        match event {
            Progress::BlobStarted { digest, size } => {
                let bar = bars.entry(digest.clone()).or_insert_with(|| {
                    let bar = multi.add(indicatif::ProgressBar::new(size));
                    bar.set_style(style.clone());
                    bar.set_message(digest.chars().take(19).collect::<String>());
                    bar
                });
                bar.set_position(0);
            }
            Progress::BlobBytes { digest, bytes } => {
                if let Some(bar) = bars.get(&digest) {
                    bar.inc(bytes);
                }
            }
            Progress::BlobDone { digest, outcome } => {
                if let Some(bar) = bars.get(&digest) {
                    bar.finish_with_message(format!("{} {outcome:?}", digest.chars().take(12).collect::<String>()));
                }
            }
            _ => {}
        }
    })
}

/// A spinner on stderr showing `message`, on a terminal only (`None` elsewhere: waits print nothing extra).
pub fn spinner(message: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}
