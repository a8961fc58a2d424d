//! Progress bars for blob transfers, on a TTY only (the caller checks).

use std::{collections::HashMap, sync::Arc};

use offinfra::ghcr_client::registry::Progress;

/// One progress bar per blob, on stderr (only called on a TTY).
pub fn blob_bars(blobs: Vec<(String, u64)>) -> offinfra::ghcr_client::registry::ProgressFn {
    let multi = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template("{msg:20} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let bars: HashMap<String, indicatif::ProgressBar> = blobs
        .into_iter()
        .map(|(digest, size)| {
            let bar = multi.add(indicatif::ProgressBar::new(size));
            bar.set_style(style.clone());
            bar.set_message(digest.chars().take(19).collect::<String>());
            (digest, bar)
        })
        .collect();
    Arc::new(move |event| match event {
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
    })
}
