//! The commands `insectid` runs besides serving (identify, check, fine-tune, datasets, …) and
//! their arguments.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Identify photos and print the answers (nothing is stored).
    Identify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How many classes to list per photo.
        #[arg(long, default_value_t = 5)]
        top_k: usize,
    },
    /// Measure the model's forward-pass rate at several batch sizes.
    BenchForward {
        /// Batch sizes, comma separated.
        #[arg(long, value_delimiter = ',', default_values_t = vec![1, 4, 8, 16])]
        batches: Vec<usize>,
        /// Seconds per batch size.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
    /// Manage administrator accounts.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Check that every identification has its photo and no photo or unfinished write is left
    /// over (exit status 1 when anything is wrong).
    Check {
        /// Remove orphan photos and unfinished writes older than --grace-minutes.
        #[arg(long)]
        repair: bool,
        /// Leftovers younger than this may belong to an upload a running server is committing.
        #[arg(long, default_value_t = 60)]
        grace_minutes: u64,
        #[arg(long)]
        json: bool,
    },
    /// Fine-tune the active model's backbone on a dataset version (NAME or NAME@N): a new
    /// head trained on its train split, stopped early on its val split, calibrated, and
    /// installed as a new (inactive) model version.
    Finetune {
        spec: String,
        /// Width of the head's hidden layer (0: a linear head).
        #[arg(long, default_value_t = 512)]
        hidden: i64,
        #[arg(long, default_value_t = 60)]
        epochs: usize,
        #[arg(long, default_value_t = 10)]
        patience: usize,
        /// Views of each training photo: 1 the photo, 2 adds its mirror, more add random
        /// resized crops with colour jitter (each view costs one backbone pass).
        #[arg(long, default_value_t = 4)]
        views: usize,
        /// Backbone blocks trained with the head after it (default: 3, on activations cached
        /// once per view, when the backbone export can be split there; else 2 through the whole
        /// backbone with a GPU, 0 without). 0 trains the head alone.
        #[arg(long)]
        unfreeze: Option<usize>,
        /// Most epochs of that stage (0: 12 on cached activations, 15 through the whole backbone).
        #[arg(long, default_value_t = 0)]
        unfreeze_epochs: usize,
        /// Make a bundle that answers from each photo averaged with its mirror image (twice
        /// the forward passes per photo; on rp11 it measured no better).
        #[arg(long)]
        mirror: bool,
    },
    /// Build, import, export and list datasets.
    Dataset {
        #[command(subcommand)]
        action: DatasetAction,
    },
    /// Evaluate the model on a class-folder dataset (DIR/<class>/<photo>) or on a split of a
    /// dataset version (NAME or NAME@N, see --split).
    Eval {
        dir: PathBuf,
        /// For a dataset version: the split to evaluate on.
        #[arg(long, default_value = "test")]
        split: String,
        /// Folder for report.json, confusion.csv, confusion.png and reliability.png.
        #[arg(long, default_value = "eval-report")]
        out: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Photos in flight at once (the engine batches them).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum DatasetAction {
    /// Import a directory (IP102 layout or class folders) as a new version of NAME; an
    /// interrupted import of the same directory resumes.
    Import {
        dir: PathBuf,
        #[arg(long)]
        name: String,
        /// Seed of the split for sources that have none.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write a version (NAME or NAME@VERSION) to a new folder.
    Export {
        spec: String,
        #[arg(long)]
        out: PathBuf,
        /// ip102 (images + classes.txt + train/val/test.txt) or folders (split/class/photo).
        #[arg(long, default_value = "ip102")]
        layout: String,
    },
    /// Make a new version of NAME from every photo's decided label.
    Create {
        name: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// List datasets and their versions.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create an administrator. The password comes from INSECTID_ADMIN_PASSWORD or, when that
    /// is not set, from the first line of standard input.
    Create { username: String },
}
