//! `copy-image` against `skopeo copy`: registry to registry, and registry to an OCI layout directory.
//!
//! ```sh
//! cargo bench --bench copy_image                      # 512 MiB layer + 20 x 64 KiB, 5 runs each
//! COPY_BENCH_MIB=2048 COPY_BENCH_RUNS=3 cargo bench --bench copy_image
//! ```
//!
//! The image is the push bench's (target/bench-layouts/), pushed once to a source registry on loopback.
//! Each run copies it to a fresh destination registry (and to a fresh directory), for ours and for skopeo
//! (its blob-info cache removed first), alternating which goes first. Wall time is the median; peak memory
//! the largest max RSS (`/usr/bin/time`).

mod common;

use std::path::Path;

use offinfra_test_support::oci::{Auth, LocalRegistry};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let common::layout::Setup { mib, runs, layout, examples } =
        common::layout::setup("COPY_BENCH", &["copy-image", "push-image"]);
    let (copy_image, push_image) = (examples[0].clone(), examples[1].clone());

    let source = LocalRegistry::start(Auth::Anonymous);
    let image = format!("{}/bench/img:bench", source.host());
    let repo = format!("{}/bench/img", source.host());
    let push = [
        "--layout".to_owned(),
        layout.display().to_string(),
        "--repository".into(),
        repo,
        "--tag".into(),
        "bench".into(),
    ];
    common::measure(Path::new("."), &push_image, &push);

    let mut tally = common::Tally::new(&["copy-image (offinfra)", "skopeo copy"]);
    let scratch = tempfile::tempdir().expect("scratch dir");
    for run in 0..runs {
        let order: [usize; 2] = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let destination = LocalRegistry::start(Auth::Anonymous);
            let to_registry = format!("{}/copy/img:bench", destination.host());
            let dir = scratch.path().join(format!("run{run}-{which}"));
            let to_layout = format!("oci:{}:bench", dir.display());
            let phase = |target: &String| -> (String, Vec<String>) {
                if which == 0 {
                    return (copy_image.clone(), vec![image.clone(), target.clone()]);
                }
                let _ = std::fs::remove_file("/var/lib/containers/cache/blob-info-cache-v1.boltdb");
                let to = if target.starts_with("oci:") { target.clone() } else { format!("docker://{target}") };
                let args = ["copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"];
                let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                args.extend([format!("docker://{image}"), to]);
                ("skopeo".into(), args)
            };
            tally.run(which, [phase(&to_registry), phase(&to_layout)]);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    tally.print("registry to registry", "registry to layout", ["r2r", "r2l"]);
    println!("({runs} runs each; one {mib} MiB layer + 20 x 64 KiB; fresh destination per run)");
}
