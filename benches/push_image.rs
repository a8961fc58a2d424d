//! `push-image` against `skopeo copy` on a local registry: first push and a second tag.
//!
//! ```sh
//! cargo bench --bench push_image                      # 512 MiB layer + 20 x 64 KiB, 5 runs each
//! PUSH_BENCH_MIB=2048 PUSH_BENCH_RUNS=3 cargo bench --bench push_image
//! ```
//!
//! The layout is generated once, deterministically (target/bench-layouts/): one gzip layer of
//! `PUSH_BENCH_MIB` MiB of pseudo-random data, 20 gzip layers of 64 KiB, a config, a manifest and an
//! `index.json` naming the image `bench`. Each run starts a fresh anonymous registry on loopback
//! (testenv/registry-up.sh), pushes `:tag1` (every blob uploaded), then `:tag2` (every blob
//! already present), for ours and for skopeo (with its blob-info cache removed first), alternating
//! which goes first. Wall time is the median; peak memory the largest max RSS (`/usr/bin/time`).

mod common;

use offinfra_test_support::oci::{Auth, LocalRegistry};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let common::layout::Setup { mib, runs, layout, examples } = common::layout::setup("PUSH_BENCH", &["push-image"]);
    let ours = &examples[0];

    let mut tally = common::Tally::new(&["push-image (offinfra)", "skopeo copy"]);
    for run in 0..runs {
        let order: [usize; 2] = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let registry = LocalRegistry::start(Auth::Anonymous);
            let repo = format!("{}/bench/img", registry.host());
            let phase = |tag: &str| -> (String, Vec<String>) {
                if which == 0 {
                    let args = ["--layout", &layout.display().to_string(), "--repository", &repo, "--tag", tag]
                        .map(str::to_owned)
                        .to_vec();
                    return (ours.clone(), args);
                }
                let _ = std::fs::remove_file("/var/lib/containers/cache/blob-info-cache-v1.boltdb");
                let args = ["copy", "--quiet", "--dest-tls-verify=false"].map(str::to_owned).to_vec();
                let mut args = args;
                args.extend([format!("oci:{}:bench", layout.display()), format!("docker://{repo}:{tag}")]);
                ("skopeo".into(), args)
            };
            tally.run(which, [phase("tag1"), phase("tag2")]);
        }
    }
    tally.print("first push", "second tag", ["first", "second"]);
    println!("({runs} runs each; one {mib} MiB layer + 20 x 64 KiB; fresh registry per run)");
}
