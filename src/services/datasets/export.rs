//! A dataset version written out: as folders (ip102 or class-folder layout) or as one .zip.

use std::collections::BTreeMap;
use std::path::Path;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{find_version, SPLITS};
use crate::entities::dataset_item;
use crate::services::labels::unsafe_in_label;
use crate::storage::PhotoStore;
use crate::ServiceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// images/ + classes.txt + train.txt / val.txt / test.txt with `path label` lines.
    Ip102,
    /// split/class/photo.
    Folders,
}

impl Layout {
    pub fn parse(s: &str) -> Result<Layout, ServiceError> {
        match s {
            "ip102" => Ok(Layout::Ip102),
            "folders" => Ok(Layout::Folders),
            other => Err(ServiceError::InvalidInput(format!("unknown layout {other:?} (ip102 or folders)"))),
        }
    }
}

/// A class name as a folder name: no separators, no leading dot.
pub fn folder_name(label: &str) -> String {
    let cleaned: String = label.chars().map(|c| if matches!(c, '/' | '\\' | '\0') { '_' } else { c }).collect();
    cleaned.trim_start_matches('.').to_string()
}

fn extension(bytes: &[u8]) -> &'static str {
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Png) => "png",
        Ok(image::ImageFormat::WebP) => "webp",
        Ok(image::ImageFormat::Gif) => "gif",
        Ok(image::ImageFormat::Bmp) => "bmp",
        Ok(image::ImageFormat::Tiff) => "tiff",
        _ => "jpg",
    }
}

/// Writes a version to `out` (which must not exist or be empty). Returns the files written.
pub async fn export(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    spec: &str,
    layout: Layout,
    out: &Path,
) -> Result<usize, ServiceError> {
    let (_, version) = find_version(db, spec).await?;
    let mut items = dataset_item::Entity::find().filter(dataset_item::Column::VersionId.eq(version.id)).all(db).await?;
    items.sort_by(|a, b| {
        (a.split.as_str(), a.label.as_str(), a.image_sha256.as_str()).cmp(&(
            b.split.as_str(),
            b.label.as_str(),
            b.image_sha256.as_str(),
        ))
    });
    write_export(photos, &items, layout, out).await.map_err(|e| ServiceError::Storage(format!("export: {e}")))
}

async fn write_export(
    photos: &PhotoStore,
    items: &[dataset_item::Model],
    layout: Layout,
    out: &Path,
) -> std::io::Result<usize> {
    use std::fmt::Write as _;
    if tokio::fs::try_exists(out).await? && tokio::fs::read_dir(out).await?.next_entry().await?.is_some() {
        return Err(std::io::Error::other(format!("{} is not empty", out.display())));
    }
    let classes: Vec<&str> = {
        let mut c: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    // Labels are cleaned where they enter; this only guards the files against one that got
    // past (an older version): a line break would add a line to classes.txt and shift the
    // index of every class after it.
    if let Some(bad) = classes.iter().find(|c| c.chars().any(unsafe_in_label)) {
        return Err(std::io::Error::other(format!("class {bad:?} holds a line break or control character")));
    }
    tokio::fs::create_dir_all(out).await?;
    let index: BTreeMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut lists: BTreeMap<&str, String> = SPLITS.iter().map(|s| (*s, String::new())).collect();
    for item in items {
        let original = photos.read(&item.image_sha256).await?;
        // Exports leave the portal: no photo takes its place or owner along (off the async
        // runtime: a TIFF is written anew from its pixels).
        let bytes = tokio::task::spawn_blocking(move || {
            crate::storage::metadata::strip_private(&original).map(|b| b.into_owned())
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(|e| std::io::Error::other(format!("photo {}: {e}", item.image_sha256)))?;
        let file = format!("{}.{}", item.image_sha256, extension(&bytes));
        match layout {
            Layout::Ip102 => {
                tokio::fs::create_dir_all(out.join("images")).await?;
                tokio::fs::write(out.join("images").join(&file), &bytes).await?;
                let line = lists.entry(item.split.as_str()).or_default();
                let _ = writeln!(line, "{file} {}", index[item.label.as_str()]);
            }
            Layout::Folders => {
                let dir = out.join(&item.split).join(folder_name(&item.label));
                tokio::fs::create_dir_all(&dir).await?;
                tokio::fs::write(dir.join(&file), &bytes).await?;
            }
        }
    }
    if layout == Layout::Ip102 {
        let names: String = classes.iter().enumerate().map(|(i, c)| format!("{} {c}\n", i + 1)).collect();
        tokio::fs::write(out.join("classes.txt"), names).await?;
        for (split, lines) in lists {
            tokio::fs::write(out.join(format!("{split}.txt")), lines).await?;
        }
    }
    Ok(items.len())
}

/// A version as one .zip file in `work` (a scratch folder of the caller's): the export's layout
/// inside, photos stored uncompressed (they are compressed already).
pub async fn export_zip(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    spec: &str,
    layout: Layout,
    work: &Path,
) -> Result<std::path::PathBuf, ServiceError> {
    let tree = work.join("tree");
    export(db, photos, spec, layout, &tree).await?;
    let (from, zip_path) = (tree.clone(), work.join("export.zip"));
    let out = zip_path.clone();
    tokio::task::spawn_blocking(move || zip_tree(&from, &out))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?
        .map_err(|e| ServiceError::Storage(format!("zip: {e}")))?;
    let _ = std::fs::remove_dir_all(&tree);
    Ok(zip_path)
}

fn zip_tree(root: &Path, out: &Path) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(out)?));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.strip_prefix(root).map_err(std::io::Error::other)?.to_string_lossy().replace('\\', "/");
            zip.start_file(name, stored).map_err(std::io::Error::other)?;
            std::io::copy(&mut std::fs::File::open(&path)?, &mut zip)?;
        }
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}
