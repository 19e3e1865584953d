//! What the scenarios share: photos, accounts and species keys, read once; each simulated
//! person's own state; calling a server function as a script would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use goose::prelude::*;
use rand::seq::IndexedRandom;

pub static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
static SPECIES_KEYS: OnceLock<Vec<String>> = OnceLock::new();
static NEXT_ACCOUNT: AtomicUsize = AtomicUsize::new(0);

pub struct Account {
    pub username: String,
    pub password: String,
    pub role: String,
}

pub struct Fixtures {
    pub photos: Vec<(String, Vec<u8>)>,
    pub accounts: Vec<Account>,
}

impl Fixtures {
    pub fn load() -> Result<Self, String> {
        let dir = std::env::var("LOAD_PHOTOS").map_err(|_| "LOAD_PHOTOS must name a folder of JPEG photos".to_string())?;
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("LOAD_PHOTOS {dir}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg")))
            .collect();
        paths.sort();
        paths.truncate(200);
        let photos = paths
            .iter()
            .map(|p| Ok((p.file_name().unwrap_or_default().to_string_lossy().into_owned(), std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?)))
            .collect::<Result<Vec<_>, String>>()?;
        if photos.is_empty() {
            return Err(format!("LOAD_PHOTOS {dir} holds no .jpg photo"));
        }
        let file = std::env::var("LOAD_ACCOUNTS").map_err(|_| "LOAD_ACCOUNTS must name the accounts file".to_string())?;
        let text = std::fs::read_to_string(&file).map_err(|e| format!("LOAD_ACCOUNTS {file}: {e}"))?;
        let accounts = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
                [u, p, r] => Ok(Account { username: u.into(), password: p.into(), role: r.into() }),
                _ => Err(format!("LOAD_ACCOUNTS {file}: {l:?} is not \"username password role\"")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Fixtures { photos, accounts })
    }
}

fn fixtures() -> &'static Fixtures {
    FIXTURES.get().expect("fixtures are loaded before the attack starts")
}

/// A simulated person's state between transactions.
#[derive(Default, Clone)]
pub struct Visitor {
    pub last_identification: Option<i64>,
}

/// Runs once before the attack: the catalogue's species keys, from its page.
pub async fn learn_species_keys(user: &mut GooseUser) -> TransactionResult {
    let goose = user.get("/species").await?;
    let html = match goose.response {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let mut keys: Vec<String> = html
        .split("href=\"/species/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|k| !k.is_empty() && !k.contains('?'))
        .map(str::to_string)
        .collect();
    keys.sort();
    keys.dedup();
    SPECIES_KEYS.set(keys).ok();
    Ok(())
}

pub fn species_key() -> &'static str {
    SPECIES_KEYS.get().and_then(|k| k.choose(&mut rand::rng())).map(String::as_str).unwrap_or("weevil")
}

pub fn photo() -> (&'static str, &'static [u8]) {
    let (name, bytes) = fixtures().photos.choose(&mut rand::rng()).expect("at least one photo");
    (name, bytes)
}

/// A page, in its turn (see pace.rs), reported under `name`.
pub async fn get(user: &mut GooseUser, path: &str, name: &str) -> Result<goose::goose::GooseResponse, Box<TransactionError>> {
    crate::pace::turn().await;
    user.get_named(path, name).await
}

/// A server function called as a script calls it, in its turn: form fields in, JSON out.
pub async fn server_fn(user: &mut GooseUser, endpoint: &str, form: &[(&str, &str)]) -> Result<goose::goose::GooseResponse, Box<TransactionError>> {
    crate::pace::turn().await;
    let path = format!("/api/{endpoint}");
    let builder = user.get_request_builder(&GooseMethod::Post, &path)?.header("accept", "application/json").form(form);
    let request = GooseRequest::builder().method(GooseMethod::Post).path(path.as_str()).set_request_builder(builder).build();
    user.request(request).await
}

/// Signs in with the next account of `role` (accounts are shared round-robin).
pub async fn sign_in(user: &mut GooseUser, role: &str) -> TransactionResult {
    let of_role: Vec<&Account> = fixtures().accounts.iter().filter(|a| a.role == role).collect();
    let Some(account) = of_role.get(NEXT_ACCOUNT.fetch_add(1, Ordering::Relaxed) % of_role.len().max(1)) else {
        panic!("LOAD_ACCOUNTS has no {role} account");
    };
    let mut goose = server_fn(user, "sign_in", &[("username", &account.username), ("password", &account.password)]).await?;
    if user.get_session_data::<Visitor>().is_none() {
        user.set_session_data(Visitor::default());
    }
    match &goose.response {
        Ok(r) if r.status().is_success() || r.status().is_redirection() => Ok(()),
        _ => user.set_failure(&format!("{} could not sign in", account.username), &mut goose.request, None, None),
    }
}
