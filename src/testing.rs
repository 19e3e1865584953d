//! Helpers for the tests of this crate and the crates above it: throw-away databases on both
//! backends, the location of the real model bundle, generated photos, temporary directories.
//! Compiled only for tests (the `testing` feature, which only dev-dependencies turn on): the
//! server's build does not contain it.

pub mod smtp;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A migrated, empty database that exists only for one test.
pub struct TestDatabase {
    pub backend: &'static str,
    pub db: DatabaseConnection,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, database: String },
}

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// One fresh database per backend: SQLite always, PostgreSQL from `INSECTID_TEST_DATABASE_URL`
/// (an admin URL; the test creates and drops its own database there). Missing PostgreSQL is
/// an error unless `INSECTID_TEST_SKIP_POSTGRES=1` says it is deliberately left out.
pub async fn test_databases() -> Vec<TestDatabase> {
    let mut out = vec![sqlite_database().await];
    match std::env::var("INSECTID_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => out.push(postgres_database(&url).await),
        _ if std::env::var("INSECTID_TEST_SKIP_POSTGRES").as_deref() == Ok("1") => {}
        _ => panic!(
            "INSECTID_TEST_DATABASE_URL is not set: run the suite with `make test` (which starts \
             PostgreSQL), or set INSECTID_TEST_SKIP_POSTGRES=1 to test SQLite only"
        ),
    }
    out
}

pub async fn sqlite_database() -> TestDatabase {
    let path = std::env::temp_dir().join(format!("{}.db", unique("insectid_test")));
    let db =
        crate::db::connect_and_migrate(&format!("sqlite://{}", path.display())).await.expect("SQLite test database");
    TestDatabase { backend: "sqlite", db, cleanup: Cleanup::File(path) }
}

pub async fn postgres_database(admin_url: &str) -> TestDatabase {
    let database = unique("insectid_t");
    let admin = Database::connect(admin_url).await.expect("connect to the PostgreSQL test server");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
        .await
        .expect("create the PostgreSQL test database");
    admin.close().await.ok();
    let db = crate::db::connect_and_migrate(&with_database(admin_url, &database))
        .await
        .expect("migrate the PostgreSQL test database");
    TestDatabase { backend: "postgres", db, cleanup: Cleanup::Postgres { admin_url: admin_url.to_string(), database } }
}

/// The same server URL pointing at another database.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

impl TestDatabase {
    /// The URL the server would be configured with to reach this database.
    pub fn url(&self) -> String {
        match &self.cleanup {
            Cleanup::File(path) => format!("sqlite://{}", path.display()),
            Cleanup::Postgres { admin_url, database } => with_database(admin_url, database),
        }
    }

    pub async fn close(self) {
        self.db.close().await.ok();
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
                }
            }
            Cleanup::Postgres { admin_url, database } => {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"))
                        .await
                        .ok();
                    admin.close().await.ok();
                }
            }
        }
    }
}

/// The default model bundle built by `scripts/setup.sh model`.
pub fn test_model_dir() -> PathBuf {
    bundle_dir("INSECTID_TEST_MODEL_DIR", "efficientnet-lite0-imagenet", "model")
}

/// The Python the int8 export runs with: the project's venv (`scripts/setup.sh python`).
pub fn test_python() -> PathBuf {
    std::env::var_os("INSECTID_TEST_PYTHON")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/insectid/venv/bin/python")))
        .expect("INSECTID_TEST_PYTHON or HOME")
}

/// The Python of the test tools' venv (`scripts/setup.sh test-tools`: aiosmtpd,
/// openapi-spec-validator), when `INSECTID_TEST_TOOLS_PYTHON` names it.
pub fn test_tools_python() -> Option<PathBuf> {
    std::env::var_os("INSECTID_TEST_TOOLS_PYTHON").map(PathBuf::from).filter(|p| !p.as_os_str().is_empty())
}

/// Its int8 variant, built by `scripts/setup.sh model-int8`.
pub fn test_int8_model_dir() -> PathBuf {
    bundle_dir("INSECTID_TEST_INT8_MODEL_DIR", "efficientnet-lite0-imagenet-int8", "model-int8")
}

fn bundle_dir(variable: &str, name: &str, setup_step: &str) -> PathBuf {
    let dir = std::env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/insectid/models").join(name)))
        .unwrap_or_else(|| panic!("{variable} or HOME"));
    assert!(
        dir.join("manifest.json").is_file(),
        "no model bundle at {}: run `scripts/setup.sh {setup_step}` (make test does)",
        dir.display()
    );
    dir
}

/// A tiny image–text bundle: `scripts/export_image_text.py` run on a randomly initialised
/// open_clip model (tests/fixtures/TinyCLIP.json: nothing is downloaded) with the catalogue's
/// classes. Exported once (about 20 s) for each content of the exporter and its inputs, then
/// reused from the temporary directory.
pub fn tiny_image_text_bundle() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let inputs = [
            include_str!("../scripts/export_image_text.py"),
            include_str!("../scripts/bundle_parts.py"),
            include_str!("../tests/fixtures/TinyCLIP.json"),
            include_str!("catalogue/species.txt"),
        ];
        let digest = crate::storage::sha256_hex(inputs.concat().as_bytes());
        let dir = std::env::temp_dir().join(format!("insectid-tiny-clip-{}", &digest[..16]));
        if dir.join("reference.json").is_file() {
            return dir;
        }
        let partial = TempDir::new("insectid-tiny-clip-export");
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new(test_python())
            .current_dir(repo.join("scripts"))
            .arg("export_image_text.py")
            .arg(partial.path())
            .arg("--model-config")
            .arg(repo.join("tests/fixtures/TinyCLIP.json"))
            .args(["--random-init", "7", "--catalogue", "--name", "tiny-clip", "--version", "0.1.0"])
            .output()
            .expect("the venv's python runs");
        assert!(out.status.success(), "export failed: {}", String::from_utf8_lossy(&out.stderr));
        // Whole or not at all: another test process may be looking for the same folder.
        if std::fs::rename(partial.path(), &dir).is_err() {
            assert!(dir.join("reference.json").is_file(), "cannot keep the export at {}", dir.display());
        }
        dir
    })
    .clone()
}

/// The logits a bundle's `reference.json` records for one reference input.
pub fn reference_logits(bundle: &std::path::Path, kind: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(bundle.join("reference.json")).expect("reference.json");
    let reference: serde_json::Value = serde_json::from_str(&text).expect("reference.json is JSON");
    reference[kind]["logits"]
        .as_array()
        .expect("logits")
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN) as f32)
        .collect()
}

/// The export scripts' reference inputs (`ramp`, `sine`), bit for bit: an int8 model rounds
/// its activations, so an input one ulp off can move a logit by a few hundredths.
pub fn reference_input(kind: &str, n: usize) -> Vec<f32> {
    match kind {
        // torch.linspace(-1, 1, n) in float32, by the same libtorch (a formula of our own
        // differed from it in 62,778 of 150,528 values).
        "ramp" => {
            let ramp = tch::Tensor::linspace(-1.0, 1.0, n as i64, (tch::Kind::Float, tch::Device::Cpu));
            Vec::<f32>::try_from(&ramp).expect("a float tensor")
        }
        "sine" => (0..n).map(|i| ((i as f64) * 0.001).sin() as f32).collect(),
        other => panic!("unknown reference input {other}"),
    }
}

/// A generated PNG: `pixel(x, y)` is its RGB colour at each point (tests choose a pattern so
/// that different seeds make different photos).
pub fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb(pixel(x, y)));
    let mut out = std::io::Cursor::new(Vec::new());
    // Encoding a small in-memory image cannot fail.
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

/// A PNG "photo" of one of three colours with some texture: classes a trained head must be
/// able to tell apart, for fine-tuning tests.
pub fn coloured_photo(class: usize, seed: u32) -> Vec<u8> {
    let base = [[200u8, 40, 40], [40, 180, 60], [50, 60, 210]][class % 3];
    png(96, 80, |x, y| {
        let n = ((x * 7 + y * 13 + seed * 31) % 40) as u8;
        [base[0].saturating_add(n), base[1].saturating_add(n / 2), base[2].saturating_sub(n / 3)]
    })
}

/// Three rice-pest families as coloured stand-ins, written as class folders with train (seeds
/// 0..6) and val (seeds 100..103) splits under `root`: a dataset to import and fine-tune on.
pub fn write_pest_folders(root: &std::path::Path) {
    for (class, family) in ["Crambidae", "Delphacidae", "Curculionidae"].iter().enumerate() {
        for (split, range) in [("train", 0..6u32), ("val", 100..103u32)] {
            let dir = root.join(split).join(family);
            std::fs::create_dir_all(&dir).expect("test folder");
            for i in range {
                std::fs::write(dir.join(format!("{i}.png")), coloured_photo(class, i)).expect("test photo");
            }
        }
    }
}

/// A JPEG whose EXIF says it was taken on 2024-06-01 at 09:12:00 at 48° 7' 31" N,
/// 7° 31' 31" E (a DateTimeOriginal and a GPS directory), as a phone writes it.
pub fn jpeg_with_place() -> Vec<u8> {
    let mut plain = std::io::Cursor::new(Vec::new());
    let image = image::RgbImage::from_fn(200, 150, |x, y| image::Rgb([90, (x % 200) as u8, (y % 150) as u8]));
    image::DynamicImage::ImageRgb8(image).write_to(&mut plain, image::ImageFormat::Jpeg).expect("encode a JPEG");
    let plain = plain.into_inner();
    // TIFF header, IFD0 at 8 with two entries: the Exif IFD (at 38) and the GPS IFD (at 76).
    let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
    t.extend_from_slice(&[0, 2]);
    t.extend_from_slice(&[0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 56]);
    t.extend_from_slice(&[0, 0, 0, 0]);
    // Exif IFD at 38 (after 30 bytes of IFD0 and 8 of header): DateTimeOriginal, 20 ASCII at 120.
    t.extend_from_slice(&[0, 1, 0x90, 0x03, 0, 2, 0, 0, 0, 20, 0, 0, 0, 120, 0, 0, 0, 0]);
    // GPS IFD at 56: N, latitude (rationals at 144), E, longitude (rationals at 168).
    t.extend_from_slice(&[0, 4]);
    t.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    t.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 144]);
    t.extend_from_slice(&[0, 3, 0, 2, 0, 0, 0, 2, b'E', 0, 0, 0]);
    t.extend_from_slice(&[0, 4, 0, 5, 0, 0, 0, 3, 0, 0, 0, 168]);
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.resize(120, 0);
    t.extend_from_slice(b"2024:06:01 09:12:00\0");
    t.resize(144, 0);
    for (n, d) in [(48u32, 1u32), (7, 1), (31, 1), (7, 1), (31, 1), (31, 1)] {
        t.extend_from_slice(&n.to_be_bytes());
        t.extend_from_slice(&d.to_be_bytes());
    }
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&t);
    let mut photo = plain[..2].to_vec();
    photo.extend_from_slice(&[0xFF, 0xE1]);
    photo.extend_from_slice(&u16::try_from(segment.len() + 2).expect("a short segment").to_be_bytes());
    photo.extend_from_slice(&segment);
    photo.extend_from_slice(&plain[2..]);
    photo
}

/// A directory of its own for one test, removed when the test ends, passed or not.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_urls_are_rewritten() {
        use super::with_database;
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/postgres?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
