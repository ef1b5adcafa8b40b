//! The banner's weight budget (issue 4): `banner.js` plus `banner.css`, each compressed with
//! `gzip -9`, stay within 8 KB together, so the banner cannot grow unnoticed. `bench/banner-weight.sh`
//! prints the same figures next to other banners.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BUDGET: usize = 8192;

fn web() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// Bytes of `gzip -9 -n` output: the same measure the bench script and the peers' figures use.
fn gzip9(bytes: &[u8]) -> usize {
    let mut child = Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the gzip command is needed to measure the banner (apt-get install gzip)");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "gzip failed");
    out.stdout.len()
}

#[test]
fn banner_js_and_css_fit_in_8_kb_gzipped() {
    let js = std::fs::read(web().join("banner.js")).unwrap();
    let css = std::fs::read(web().join("banner.css")).unwrap();
    let (js_gz, css_gz) = (gzip9(&js), gzip9(&css));
    let total = js_gz + css_gz;
    println!("banner.js {} B ({js_gz} B gzip -9), banner.css {} B ({css_gz} B gzip -9), total {total} B of {BUDGET}", js.len(), css.len());
    assert!(
        total <= BUDGET,
        "banner.js ({js_gz} B) + banner.css ({css_gz} B) gzipped = {total} B, over the {BUDGET} B budget"
    );
}

#[test]
fn the_measure_sees_growth() {
    // A guard on the guard: incompressible growth must show in the figure.
    let small = gzip9(b"x");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..10_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    assert!(gzip9(&noise) > BUDGET && small < 64);
}
