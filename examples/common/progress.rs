//! Progress bars for blob transfers, on a TTY only (the caller checks).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use offinfra::ghcr_client::registry::{Progress, ProgressFn};

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
