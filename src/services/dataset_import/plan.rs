//! Reading an import's source before anything is imported: its layout (IP102 lists or class
//! folders), the photos it names with their classes and splits, and what is refused (paths
//! leaving the tree, links, names that are not labels, files that are not images).

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::services::datasets::{Layout, SPLITS};
use crate::services::labels::clean_label;
use crate::ServiceError;

/// A photo larger than this is skipped: no insect photo needs it, and it bounds memory.
pub const MAX_PHOTO_BYTES: u64 = 50 * 1024 * 1024;
const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// One file to import: where it is, its class, and its split if the source says.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub path: PathBuf,
    pub label: String,
    pub split: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What a directory holds, before anything is imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub layout: Layout,
    pub entries: Vec<Entry>,
    /// Entries refused while planning (outside the tree, links, not images).
    pub refused: Vec<Skipped>,
}

fn split_name(s: &str) -> Option<&'static str> {
    SPLITS.iter().find(|x| x.eq_ignore_ascii_case(s)).copied()
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

pub(super) fn refuse(path: &Path, reason: &str) -> Skipped {
    Skipped { path: path.display().to_string(), reason: reason.into() }
}

/// A path from a list file, taken only when it stays inside `root`.
fn inside(root: &Path, relative: &str) -> Result<PathBuf, &'static str> {
    let rel = Path::new(relative);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err("path leaves the dataset directory");
    }
    Ok(root.join(rel))
}

/// Sorted directory entries that are real directories or files; links are refused.
fn children(dir: &Path, refused: &mut Vec<Skipped>) -> std::io::Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = std::fs::symlink_metadata(&path)?.file_type();
        if kind.is_symlink() {
            refused.push(refuse(&path, "symbolic link (not followed)"));
        } else if kind.is_dir() || kind.is_file() {
            out.push((path, kind.is_dir()));
        }
    }
    out.sort();
    Ok(out)
}

/// A folder named relative to the import directory `base` that really is inside it (no `..`,
/// no link leading out).
pub fn folder_inside(base: &Path, folder: &str) -> Result<PathBuf, ServiceError> {
    let base =
        base.canonicalize().map_err(|e| ServiceError::Storage(format!("import directory {}: {e}", base.display())))?;
    let real = base
        .join(folder.trim().trim_start_matches('/'))
        .canonicalize()
        .map_err(|_| ServiceError::InvalidInput(format!("there is no folder {folder:?} in the import directory")))?;
    if !real.starts_with(&base) || !real.is_dir() {
        return Err(ServiceError::InvalidInput(format!("{folder:?} is not a folder inside the import directory")));
    }
    Ok(real)
}

/// The folders an import may name: the import directory's subfolders, sorted (none when the
/// directory is missing). Read off the async runtime: a large or slow directory blocks.
pub async fn folders(base: &Path) -> Vec<String> {
    let base = base.to_path_buf();
    let listed = tokio::task::spawn_blocking(move || {
        let mut names: Vec<String> = std::fs::read_dir(&base)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    });
    listed.await.unwrap_or_default()
}

/// Reads the directory and decides its layout.
pub fn plan(root: &Path) -> Result<Plan, ServiceError> {
    let meta =
        std::fs::symlink_metadata(root).map_err(|e| ServiceError::InvalidInput(format!("{}: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(ServiceError::InvalidInput(format!("{} is not a directory", root.display())));
    }
    let io = |e: std::io::Error| ServiceError::InvalidInput(format!("cannot read {}: {e}", root.display()));
    if root.join("classes.txt").is_file() {
        plan_ip102(root).map_err(io)
    } else {
        plan_folders(root).map_err(io)
    }
}

fn plan_ip102(root: &Path) -> std::io::Result<Plan> {
    let text = std::fs::read_to_string(root.join("classes.txt"))?;
    // "1 rice leaf roller" (IP102) or a bare name per line; list files use 0-based indices.
    // A name that is no clean label stays in the list (the indices after it still count) and
    // its photos are refused with the reason.
    let classes: Vec<Result<String, String>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(' ') {
            Some((n, name)) if n.parse::<u32>().is_ok() => name,
            _ => l,
        })
        .map(|name| clean_label(name).map_err(|e| format!("its class in classes.txt: {e}")))
        .collect();
    let images = if root.join("images").is_dir() { root.join("images") } else { root.to_path_buf() };
    let mut entries = Vec::new();
    let mut refused = Vec::new();
    for split in SPLITS {
        let Ok(list) = std::fs::read_to_string(root.join(format!("{split}.txt"))) else { continue };
        for (n, line) in list.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let where_ = format!("{split}.txt line {}", n + 1);
            let Some((path, index)) = line.rsplit_once(char::is_whitespace) else {
                refused.push(Skipped { path: where_, reason: "expected `path label`".into() });
                continue;
            };
            let label = match index.trim().parse::<usize>().ok().and_then(|i| classes.get(i)) {
                Some(Ok(label)) => label,
                Some(Err(reason)) => {
                    refused.push(Skipped { path: where_, reason: reason.clone() });
                    continue;
                }
                None => {
                    refused.push(Skipped {
                        path: where_,
                        reason: format!("label {index:?} is not a class of classes.txt"),
                    });
                    continue;
                }
            };
            match inside(&images, path.trim()) {
                Ok(file) => entries.push(Entry { path: file, label: label.clone(), split: Some(split) }),
                Err(reason) => refused.push(Skipped { path: format!("{where_}: {path}"), reason: reason.into() }),
            }
        }
    }
    Ok(Plan { layout: Layout::Ip102, entries, refused })
}

fn plan_folders(root: &Path) -> std::io::Result<Plan> {
    let mut refused = Vec::new();
    let top = children(root, &mut refused)?;
    let split_dirs: Vec<_> = top
        .iter()
        .filter(|(p, dir)| *dir && p.file_name().and_then(|n| n.to_str()).and_then(split_name).is_some())
        .collect();
    let class_roots: Vec<(PathBuf, Option<&'static str>)> = if split_dirs.is_empty() {
        vec![(root.to_path_buf(), None)]
    } else {
        split_dirs
            .iter()
            .map(|(p, _)| (p.clone(), p.file_name().and_then(|n| n.to_str()).and_then(split_name)))
            .collect()
    };
    let mut entries = Vec::new();
    for (dir, split) in class_roots {
        for (class_dir, is_dir) in children(&dir, &mut refused)? {
            if !is_dir {
                continue;
            }
            let name = class_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // A folder name can hold anything but '/': a line break in it is refused, not imported.
            let label = match clean_label(&name) {
                Ok(label) => label,
                Err(e) => {
                    refused.push(refuse(&class_dir, &format!("class folder name: {e}")));
                    continue;
                }
            };
            for (file, is_dir) in children(&class_dir, &mut refused)? {
                if is_dir {
                    refused.push(refuse(&file, "nested folder inside a class folder"));
                } else if is_image(&file) {
                    entries.push(Entry { path: file, label: label.clone(), split });
                } else {
                    refused.push(refuse(&file, "not an image file"));
                }
            }
        }
    }
    Ok(Plan { layout: Layout::Folders, entries, refused })
}
