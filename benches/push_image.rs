//! `push-image` against `skopeo copy` on a local registry: first push and a second tag.
//!
//! ```sh
//! cargo bench --bench push_image                      # 512 MiB layer + 20 x 64 KiB, 5 runs each
//! PUSH_BENCH_MIB=2048 PUSH_BENCH_RUNS=3 cargo bench --bench push_image
//! PUSH_BENCH_LATENCY_MS=20 PUSH_BENCH_RUNS=3 cargo bench --bench push_image   # through a 20 ms-each-way link
//! ```
//!
//! With `PUSH_BENCH_LATENCY_MS`, every tool reaches the registry through a latency proxy on loopback
//! (`common::latency`: each byte delivered that long after it was read, each way, throughput unlimited),
//! and `push-image --upload chunked` (4 MiB `PATCH`es, what ghcr.io got before) runs beside the default.
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

    let latency = std::env::var("PUSH_BENCH_LATENCY_MS").ok().and_then(|v| v.parse::<u64>().ok());
    let names: &[&'static str] = match latency {
        Some(_) => &["push-image (offinfra, default)", "push-image --upload chunked", "skopeo copy"],
        None => &["push-image (offinfra)", "skopeo copy"],
    };
    let skopeo = names.len() - 1;
    let mut tally = common::Tally::new(names);
    for run in 0..runs {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.rotate_left(run % names.len());
        for which in order {
            let registry = LocalRegistry::start(Auth::Anonymous);
            let host = match latency {
                Some(ms) => common::latency::start(&registry.host(), std::time::Duration::from_millis(ms)),
                None => registry.host(),
            };
            let repo = format!("{host}/bench/img");
            let phase = |tag: &str| -> (String, Vec<String>) {
                if which != skopeo {
                    let mut args = ["--layout", &layout.display().to_string(), "--repository", &repo, "--tag", tag]
                        .map(str::to_owned)
                        .to_vec();
                    if which == 1 {
                        args.extend(["--upload".to_owned(), "chunked".to_owned()]);
                    }
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
    let link = latency.map_or(String::new(), |ms| format!("; through a {ms} ms-each-way latency proxy"));
    println!("({runs} runs each; one {mib} MiB layer + 20 x 64 KiB; fresh registry per run{link})");
}
