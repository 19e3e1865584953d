//! The store's contract, run on a local directory and, when `INSECTID_TEST_S3_URL` names a
//! bucket of a running S3-compatible server (`make test` starts one), on S3 as well.

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("insectid-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut png = io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(width, height, image::Rgb([10, 200, 30])))
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    png.into_inner()
}

/// What every backend must do. `tag` keeps runs on one shared bucket apart.
async fn contract(store: &PhotoStore, tag: &str) {
    let photo = format!("photo one {tag}").into_bytes();
    let a = store.put(&photo).await.unwrap();
    assert_eq!(a, sha256_hex(&photo));
    assert_eq!(store.put(&photo).await.unwrap(), a, "stored once by content");
    assert!(store.contains(&a).await.unwrap());
    assert_eq!(store.read(&a).await.unwrap(), photo);
    assert!(!store.contains(&sha256_hex(format!("never stored {tag}").as_bytes())).await.unwrap());
    let missing = store.read(&sha256_hex(format!("never stored {tag}").as_bytes())).await.unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    for bad in ["../../etc/passwd", "ABC", &"A".repeat(64)] {
        assert_eq!(store.read(bad).await.unwrap_err().kind(), io::ErrorKind::InvalidInput, "{bad}");
        assert!(store.contains(bad).await.is_err());
    }

    // The same photo from many tasks at once is no error and leaves one photo.
    let same = [format!("raced {tag}").into_bytes(), vec![7u8; 256 * 1024]].concat();
    let puts = futures::future::join_all((0..16).map(|_| store.put(&same))).await;
    assert!(puts.iter().all(|r| r.as_ref().is_ok_and(|sha| *sha == sha256_hex(&same))), "{puts:?}");
    assert_eq!(store.read(&sha256_hex(&same)).await.unwrap(), same);

    // Thumbnails: made once, kept, removed with the photo.
    let mut picture = png(1200, 600);
    picture.extend_from_slice(tag.as_bytes()); // trailing bytes keep tags apart; decoders ignore them
    let sha = store.put(&picture).await.unwrap();
    let thumb = store.thumbnail(&sha).await.unwrap();
    let decoded = image::load_from_memory(&thumb).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 128));
    assert!(store.objects.head(&thumb_key(&sha)).await.is_ok(), "the thumbnail is kept");
    assert_eq!(store.thumbnail(&sha).await.unwrap(), thumb);

    let listed = store.list().await.unwrap();
    for sha in [&a, &sha] {
        let (_, written) = listed.iter().find(|(s, _)| s == sha).expect("listed");
        assert!(SystemTime::now().duration_since(*written).unwrap_or_default().as_secs() < 600, "written just now");
    }
    assert!(listed.iter().all(|(s, _)| is_sha256(s)), "thumbnails are not photos");

    store.remove(&sha).await.unwrap();
    store.remove(&sha).await.unwrap();
    assert!(!store.contains(&sha).await.unwrap());
    assert!(store.objects.head(&thumb_key(&sha)).await.is_err(), "the thumbnail went with the photo");
    assert!(store.thumbnail(&sha).await.is_err());
    assert!(!store.list().await.unwrap().iter().any(|(s, _)| *s == sha));
    for sha in [a, sha256_hex(&same)] {
        store.remove(&sha).await.unwrap();
    }
}

#[tokio::test]
async fn a_local_directory_keeps_the_contract() {
    let root = scratch("local");
    let store = PhotoStore::open(&root).unwrap();
    contract(&store, "local").await;
    let sha = store.put(b"photo on disk").await.unwrap();
    let path = store.local_path(&sha).unwrap();
    assert!(path.starts_with(root.canonicalize().unwrap().join("sha256").join(&sha[..2])));
    assert_eq!(std::fs::read(&path).unwrap(), b"photo on disk");
    assert!(store.local_path("../../etc/passwd").is_none());
    assert!(store.temp_files().await.unwrap().is_empty(), "no unfinished write left");
    fs_leftovers_are_found_and_only_they_are_removed(&store, &path).await;
    std::fs::remove_dir_all(root).ok();
}

async fn fs_leftovers_are_found_and_only_they_are_removed(store: &PhotoStore, photo: &std::path::Path) {
    let staging = photo.with_file_name(format!("{}#4", photo.file_name().unwrap().to_string_lossy()));
    std::fs::write(&staging, b"half a photo").unwrap();
    let old_tmp = photo.ancestors().nth(3).unwrap().join("tmp");
    std::fs::create_dir_all(&old_tmp).unwrap();
    std::fs::write(old_tmp.join("abc.123.0"), b"older version's temp").unwrap();
    let found: Vec<PathBuf> = store.temp_files().await.unwrap().into_iter().map(|(p, _)| p).collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&staging) && found.contains(&old_tmp.join("abc.123.0")));
    assert!(!store
        .list()
        .await
        .unwrap()
        .iter()
        .any(|(s, _)| staging.to_string_lossy().contains(s.as_str()) && s.len() != 64));
    assert_eq!(
        store.remove_temp(photo).await.unwrap_err().kind(),
        io::ErrorKind::InvalidInput,
        "a photo is not a leftover"
    );
    for path in found {
        store.remove_temp(&path).await.unwrap();
    }
    assert!(store.temp_files().await.unwrap().is_empty());
    assert!(photo.is_file());
}

#[tokio::test]
async fn an_s3_bucket_keeps_the_contract() {
    let Ok(url) = std::env::var("INSECTID_TEST_S3_URL") else {
        eprintln!("INSECTID_TEST_S3_URL unset: S3 contract not run (make test runs it)");
        return;
    };
    let location: StoreLocation = format!("{url}/contract-{}", std::process::id()).parse().unwrap();
    let store = PhotoStore::at(&location).unwrap();
    assert!(store.local_path(&"0".repeat(64)).is_none());
    contract(&store, "s3").await;
    assert!(store.temp_files().await.unwrap().is_empty(), "S3 has no half-written objects");
    // Another store on the same bucket and prefix (another instance) sees the same photos.
    let sha = store.put(b"shared between instances").await.unwrap();
    let other = PhotoStore::at(&location).unwrap();
    assert_eq!(other.read(&sha).await.unwrap(), b"shared between instances");
    // A different prefix is a different store.
    let elsewhere = PhotoStore::at(&format!("{url}/elsewhere-{}", std::process::id()).parse().unwrap()).unwrap();
    assert!(!elsewhere.contains(&sha).await.unwrap());
    other.remove(&sha).await.unwrap();
}

#[test]
fn locations_are_parsed_strictly() {
    let parse = |s: &str| s.parse::<StoreLocation>();
    assert_eq!(parse("/var/lib/insectid/photos"), Ok(StoreLocation::Local("/var/lib/insectid/photos".into())));
    assert_eq!(parse("file:///srv/photos"), Ok(StoreLocation::Local("/srv/photos".into())));
    assert_eq!(
        parse("s3://insect-photos"),
        Ok(StoreLocation::S3 { bucket: "insect-photos".into(), prefix: String::new() })
    );
    assert_eq!(
        parse("s3://insect-photos/prod/eu/"),
        Ok(StoreLocation::S3 { bucket: "insect-photos".into(), prefix: "prod/eu".into() })
    );
    assert_eq!(parse("s3://insect-photos/prod").unwrap().to_string(), "s3://insect-photos/prod");
    for bad in ["", "gs://bucket", "s3://", "s3://Upper", "s3://ab", "s3://b_u", "s3://bucket/a//b", "s3://bucket/../x"]
    {
        let err = parse(bad).unwrap_err();
        assert!(err.contains("bucket") || err.contains("prefix") || err.contains("neither"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn an_unreachable_s3_endpoint_is_a_clear_error_within_seconds() {
    // Port 9 (discard) on loopback: nothing listens, every connection is refused.
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint("http://127.0.0.1:9")
        .with_allow_http(true)
        .with_access_key_id("key")
        .with_secret_access_key("secret")
        .with_region("us-east-1");
    let store = PhotoStore::at_s3_with(&"s3://nowhere-bucket".parse().unwrap(), s3).unwrap();
    let started = std::time::Instant::now();
    let err = store.put(b"a photo").await.unwrap_err();
    assert!(started.elapsed().as_secs() < 30, "gave up only after {:?}", started.elapsed());
    assert!(err.to_string().to_lowercase().contains("connect"), "{err}");
}
