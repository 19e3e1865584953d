//! Command line and environment configuration. `insectid --help` lists every variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser};
use insectid::inference::{DevicePreference, EngineConfig};
use insectid::services::identify::UploadLimits;

mod commands;
pub use commands::{AdminAction, Command, DatasetAction};

#[derive(Debug, Parser)]
#[command(name = "insectid", version, about = "Insect Identifier: a self-hosted insect identification portal")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB. Default: SQLite in the data directory.
    #[arg(long, env = "INSECTID_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Address and port to listen on.
    #[arg(long, env = "INSECTID_BIND", default_value = "127.0.0.1:3000", global = true)]
    pub bind: SocketAddr,

    /// Directory for the database file, uploaded photos and models.
    #[arg(long, env = "INSECTID_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Where photos are kept: a directory, or s3://BUCKET[/PREFIX] on any S3-compatible service
    /// (credentials and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ENDPOINT, AWS_ALLOW_HTTP). Every instance of one portal must name the same store.
    /// Default: DATA_DIR/photos.
    #[arg(long, env = "INSECTID_FILE_STORE", global = true)]
    pub file_store: Option<insectid::storage::StoreLocation>,

    /// Seconds an anonymous visitor's species page is served from the page cache, and pest
    /// pressure counts are reused (0: off).
    #[arg(long, env = "INSECTID_PAGE_CACHE_SECONDS", default_value_t = 30, global = true)]
    pub page_cache_seconds: u64,

    /// Seconds the home page's figures are reused before they are counted again (0: count on
    /// every view).
    #[arg(long, env = "INSECTID_STATS_SECONDS", default_value_t = 10, global = true)]
    pub stats_seconds: u64,

    /// Model bundle to serve (a directory with manifest.json and model.pt).
    /// Default: DATA_DIR/models/efficientnet-lite0-imagenet.
    #[arg(long, env = "INSECTID_MODEL_DIR", global = true)]
    pub model_dir: Option<PathBuf>,

    /// Where the built site (pkg/ with WASM, JS and CSS, plus public assets) lives.
    #[arg(long, env = "INSECTID_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: PathBuf,

    /// Log filter, e.g. info or insectid=debug,tower_http=debug.
    #[arg(long, env = "INSECTID_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format: text or json.
    #[arg(long, env = "INSECTID_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Inference device: auto (CUDA when present), cpu or cuda.
    #[arg(long, env = "INSECTID_DEVICE", default_value = "auto", global = true)]
    pub device: DevicePreference,

    /// CPU threads for one forward pass (0: the cores shared among the workers).
    #[arg(long, env = "INSECTID_INFERENCE_THREADS", default_value_t = 0, global = true)]
    pub inference_threads: usize,

    /// Forward passes at once (0: one per core on a CPU, one on a GPU).
    #[arg(long, env = "INSECTID_INFERENCE_WORKERS", default_value_t = 0, global = true)]
    pub inference_workers: usize,

    /// Run fp32 models in half precision on the GPU (refused on a CPU).
    #[arg(long, env = "INSECTID_HALF", default_value_t = false, global = true)]
    pub half: bool,

    /// Most photos one forward pass takes (0: the fastest measured at start on a CPU, 128 on a GPU).
    #[arg(long, env = "INSECTID_MAX_BATCH", default_value_t = 0, global = true)]
    pub max_batch: usize,

    /// How long a forward pass waits for more photos to fill its batch, in milliseconds.
    #[arg(long, env = "INSECTID_BATCH_WAIT_MS", default_value_t = 2, global = true)]
    pub batch_wait_ms: u64,

    /// Largest photo accepted, in megabytes.
    #[arg(long, env = "INSECTID_MAX_UPLOAD_MB", default_value_t = 20, global = true)]
    pub max_upload_mb: usize,

    /// Most photos in one upload.
    #[arg(long, env = "INSECTID_MAX_FILES", default_value_t = 16, global = true)]
    pub max_files: usize,

    /// New accounts are active at once (true) or wait for an administrator's approval (false).
    #[arg(long, env = "INSECTID_OPEN_REGISTRATION", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub open_registration: bool,

    /// Whether people who are not signed in may identify photos (their history is not kept).
    #[arg(long, env = "INSECTID_ANONYMOUS_IDENTIFICATION", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub anonymous_identification: bool,

    /// Mark session cookies Secure (set this when the portal is served over HTTPS). Served
    /// over HTTPS directly, or through a trusted proxy that says so, cookies are Secure anyway.
    #[arg(long, env = "INSECTID_SECURE_COOKIES", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub secure_cookies: bool,

    /// A PEM certificate chain: with INSECTID_TLS_KEY the server speaks HTTPS itself (HTTP/2
    /// and HTTP/1.1), loading the files again when they change.
    #[arg(long, env = "INSECTID_TLS_CERT", requires = "tls_key", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of INSECTID_TLS_CERT.
    #[arg(long, env = "INSECTID_TLS_KEY", requires = "tls_cert", global = true)]
    pub tls_key: Option<PathBuf>,

    /// How often (seconds) the certificate files are checked for a renewal.
    #[arg(long, env = "INSECTID_TLS_CHECK_SECONDS", default_value_t = 60, global = true)]
    pub tls_check_seconds: u64,

    /// With TLS: a plain-HTTP listener (e.g. 0.0.0.0:80) that only redirects to HTTPS.
    #[arg(long, env = "INSECTID_HTTP_REDIRECT_BIND", requires = "tls_cert", global = true)]
    pub http_redirect_bind: Option<SocketAddr>,

    /// Creates this administrator at start-up when no administrator exists yet
    /// (with INSECTID_ADMIN_PASSWORD).
    #[arg(long, env = "INSECTID_ADMIN_USERNAME", global = true)]
    pub admin_username: Option<String>,

    /// Password for INSECTID_ADMIN_USERNAME.
    #[arg(long, env = "INSECTID_ADMIN_PASSWORD", hide_env_values = true, global = true)]
    pub admin_password: Option<String>,

    /// How many labelers must give a photo the same label before it is decided (1 or more;
    /// with 2, a disagreement waits for a third opinion).
    #[arg(long, env = "INSECTID_LABELS_PER_PHOTO", default_value_t = 1, global = true)]
    pub labels_per_photo: u32,

    /// Directory the Datasets page may import from (default: DATA_DIR/imports). Uploaded
    /// archives are unpacked there too.
    #[arg(long, env = "INSECTID_IMPORT_DIR", global = true)]
    pub import_dir: Option<PathBuf>,

    /// Python for the "Make an int8 model" job: torch 2.13 and efficientnet-lite-pytorch
    /// (default: the project's venv, $INSECTID_VENV/bin/python, else python3 on the PATH).
    #[arg(long, env = "INSECTID_PYTHON", global = true)]
    pub python: Option<PathBuf>,

    /// JSON list of the hosts the web terminal may open (name, host, port, user, auth, optional
    /// fingerprint); without it the terminal offers none. See README "Web terminal".
    #[arg(long, env = "INSECTID_SSH_PRESETS", global = true)]
    pub ssh_presets: Option<PathBuf>,

    /// A terminal session with no keystroke for this long is closed.
    #[arg(long, env = "INSECTID_TERMINAL_IDLE_MINUTES", default_value_t = 15, global = true)]
    pub terminal_idle_minutes: u64,

    /// Terminal sessions one administrator may have open at once.
    #[arg(long, env = "INSECTID_TERMINAL_SESSIONS_PER_USER", default_value_t = 2, global = true)]
    pub terminal_sessions_per_user: usize,

    /// Terminal sessions open at once, all administrators together.
    #[arg(long, env = "INSECTID_TERMINAL_SESSIONS", default_value_t = 8, global = true)]
    pub terminal_sessions: usize,

    /// Photos waiting for the model before new ones are answered "busy".
    #[arg(long, env = "INSECTID_QUEUE", default_value_t = 64, global = true)]
    pub queue: usize,

    /// The Commands page's predefined jobs (JSON; see README "Commands"). Default: the
    /// built-in list (fine-tune, evaluate, import/export dataset, re-run predictions, clean
    /// orphaned files, vacuum).
    #[arg(long, env = "INSECTID_COMMANDS_FILE", global = true)]
    pub commands_file: Option<PathBuf>,

    /// Whether this instance runs background jobs (false: it only queues them for others).
    #[arg(long, env = "INSECTID_JOB_RUNNER", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub job_runner: bool,

    /// A running job whose instance has not answered for this many seconds is interrupted.
    #[arg(long, env = "INSECTID_JOB_STALE_SECONDS", default_value_t = 30, global = true)]
    pub job_stale_seconds: u64,

    /// Runs a job gets, counting resumptions after its instance died; past them it waits for
    /// an administrator (0: never resumed by itself).
    #[arg(long, env = "INSECTID_JOB_ATTEMPTS", default_value_t = 3, global = true)]
    pub job_attempts: i32,

    /// How often an instance checks the registry for a version activated on another instance.
    #[arg(long, env = "INSECTID_REGISTRY_POLL_SECONDS", default_value_t = 10, global = true)]
    pub registry_poll_seconds: u64,

    /// Reverse proxies (addresses or CIDR ranges, comma separated) whose Forwarded /
    /// X-Forwarded-For headers name the client; from any other peer they are ignored.
    #[arg(long, env = "INSECTID_TRUSTED_PROXIES", default_value = "", global = true)]
    pub trusted_proxies: crate::client_addr::AddressRanges,

    /// The header the trusted proxies write the client's address in: x-forwarded-for (nginx,
    /// Caddy, HAProxy) or forwarded (RFC 7239). Only that one is read.
    #[arg(long, env = "INSECTID_FORWARDED_HEADER", value_enum, default_value = "x-forwarded-for", global = true)]
    pub forwarded_header: crate::client_addr::ForwardedHeader,

    /// Sign-ins and sign-ups one client address may send a minute (0: no limit).
    #[arg(long, env = "INSECTID_SIGN_INS_PER_MINUTE", default_value_t = 10, global = true)]
    pub sign_ins_per_minute: u32,

    /// Photo uploads (requests, pages and API together) one client address may send a minute
    /// (0: no limit).
    #[arg(long, env = "INSECTID_UPLOADS_PER_MINUTE", default_value_t = 30, global = true)]
    pub uploads_per_minute: u32,

    /// Requests a minute one personal API token may send, per scope of the route:
    /// `identify=60,read=600,write=120,admin=60` (scopes not named keep these; 0: no limit).
    #[arg(long, env = "INSECTID_TOKEN_REQUESTS_PER_MINUTE", default_value = "", global = true)]
    pub token_requests_per_minute: insectid::services::api_tokens::ScopeRates,

    /// Addresses (or CIDR ranges, comma separated) that may read /metrics and /readyz's details
    /// on the main listener. With INSECTID_METRICS_BIND set, the main listener serves neither.
    #[arg(long, env = "INSECTID_METRICS_FROM", default_value = "127.0.0.0/8,::1", global = true)]
    pub metrics_from: crate::client_addr::AddressRanges,

    /// Free disk space (MB) kept in reserve on the data directory's and the photo store's file
    /// systems: below it, uploads and imports are refused (507) and the rest keeps working.
    #[arg(long, env = "INSECTID_MIN_FREE_MB", default_value_t = 1024, global = true)]
    pub min_free_mb: u64,

    /// Days an anonymous visitor's identifications (and photos nothing else uses) are kept
    /// (0: for ever).
    #[arg(long, env = "INSECTID_ANONYMOUS_RETENTION_DAYS", default_value_t = 30, global = true)]
    pub anonymous_retention_days: u64,

    /// A separate listener for /metrics and /readyz (e.g. 127.0.0.1:9090), for Prometheus and
    /// load balancers on a private network.
    #[arg(long, env = "INSECTID_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// The mail relay pest alerts go through (smtp://relay:25, smtp://user:pw@host:587?tls=required,
    /// smtps://user:pw@host); unset: no e-mail, alerts are shown on visits only.
    #[arg(long, env = "INSECTID_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// Who the portal's e-mail comes from ("Insect Identifier <alerts@example.org>").
    #[arg(long, env = "INSECTID_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// Minutes between pest-alert e-mail rounds.
    #[arg(long, env = "INSECTID_ALERT_MAIL_MINUTES", default_value_t = 15, global = true)]
    pub alert_mail_minutes: u64,

    /// The portal's address as people reach it (https://insects.example.org), for links in e-mail.
    #[arg(long, env = "INSECTID_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("insectid.db").display()))
    }

    pub fn file_store(&self) -> insectid::storage::StoreLocation {
        self.file_store.clone().unwrap_or_else(|| insectid::storage::StoreLocation::Local(self.data_dir.join("photos")))
    }

    /// The photo store, or why it cannot be opened.
    pub fn open_photos(&self) -> Result<insectid::storage::PhotoStore, String> {
        let location = self.file_store();
        insectid::storage::PhotoStore::at(&location).map_err(|e| format!("photo store {location}: {e}"))
    }

    pub fn model_dir(&self) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| self.data_dir.join("models").join("efficientnet-lite0-imagenet"))
    }

    pub fn runner_settings(&self) -> insectid::jobs::RunnerSettings {
        insectid::jobs::RunnerSettings {
            stale_after: std::time::Duration::from_secs(self.job_stale_seconds.max(3)),
            max_attempts: self.job_attempts.max(1),
            auto_resume: self.job_attempts > 0,
            ..Default::default()
        }
    }

    pub fn python(&self) -> PathBuf {
        let venv = std::env::var_os("INSECTID_VENV").map(|v| PathBuf::from(v).join("bin/python"));
        self.python.clone().or(venv.filter(|p| p.is_file())).unwrap_or_else(|| PathBuf::from("python3"))
    }

    pub fn import_dir(&self) -> PathBuf {
        self.import_dir.clone().unwrap_or_else(|| self.data_dir.join("imports"))
    }

    pub fn upload_limits(&self) -> UploadLimits {
        UploadLimits { max_bytes: self.max_upload_mb.max(1) * 1024 * 1024, max_files: self.max_files.max(1) }
    }

    /// The certificate files, when the server speaks HTTPS itself.
    pub fn tls_files(&self) -> Option<crate::tls::TlsFiles> {
        Some(crate::tls::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
            check_every: std::time::Duration::from_secs(self.tls_check_seconds.max(1)),
        })
    }

    pub fn traffic(&self) -> app::state::TrafficPolicy {
        app::state::TrafficPolicy {
            trusted_proxies: self.trusted_proxies.0.clone(),
            rfc7239_forwarded: self.forwarded_header == crate::client_addr::ForwardedHeader::Forwarded,
            sign_ins_per_minute: self.sign_ins_per_minute,
            uploads_per_minute: self.uploads_per_minute,
            token_rates: self.token_requests_per_minute,
            tls_listener: self.tls_cert.is_some(),
            // A separate metrics listener takes them off the main one altogether.
            metrics_from: if self.metrics_bind.is_some() { Vec::new() } else { self.metrics_from.0.clone() },
        }
    }

    /// The free-space reserve, watched on the data directory and a local photo store.
    pub fn disk_reserve(&self) -> insectid::storage::DiskReserve {
        let mut paths = vec![self.data_dir.clone()];
        if let insectid::storage::StoreLocation::Local(dir) = self.file_store() {
            paths.push(dir);
        }
        paths.push(self.import_dir());
        insectid::storage::DiskReserve::new(paths, self.min_free_mb)
    }

    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            device: self.device,
            threads: self.inference_threads,
            workers: self.inference_workers,
            half: self.half,
            max_batch: self.max_batch,
            max_wait: std::time::Duration::from_millis(self.batch_wait_ms),
            queue_capacity: self.queue.max(1),
        }
    }
}

#[cfg(test)]
mod readme_table {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    /// The README's configuration table names every variable the server reads, and only
    /// those, in one unbroken table (a blank line would end it early).
    #[test]
    fn lists_every_environment_variable() {
        let readme = include_str!("../../README.md");
        let section = readme.split("\n## Configuration\n").nth(1).expect("a Configuration section");
        let table = section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
        let documented: BTreeSet<String> = table
            .flat_map(|row| {
                row.split('|')
                    .nth(1)
                    .unwrap_or_default()
                    .split('`')
                    .filter(|w| w.starts_with("INSECTID_"))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        let read: BTreeSet<String> = super::Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        assert!(read.len() > 40, "the variables come from clap: {read:?}");
        let undocumented: Vec<_> = read.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&read).collect();
        assert!(undocumented.is_empty(), "missing from README's configuration table: {undocumented:?}");
        assert!(
            unknown.is_empty(),
            "README's configuration table names variables the server does not read: {unknown:?}"
        );
    }
}
