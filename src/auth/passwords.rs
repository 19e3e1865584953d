//! Password rules and argon2 hashing (through `password-auth`), off the async runtime.

use crate::ServiceError;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 128;

/// Refuses short passwords and the guessable ones (common passwords, keyboard walks, the
/// username itself), with zxcvbn's reason.
pub fn check_strength(password: &str, username: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(format!("the password needs at least {MIN_LENGTH} characters"));
    }
    if chars > MAX_LENGTH {
        return Err(format!("the password may have at most {MAX_LENGTH} characters"));
    }
    let estimate = zxcvbn::zxcvbn(password, &[username, "insect", "identifier", "insectid"]);
    if u8::from(estimate.score()) < 3 {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| w.to_string())
            .unwrap_or_else(|| "it is too easy to guess".to_string());
        return Err(format!("choose a harder password: {why}"));
    }
    Ok(())
}

/// How long a sign-in or sign-up waits for a hashing slot before it is answered "busy".
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// argon2 takes about 19 MiB and tens of milliseconds of one core per hash: at most twice
/// as many hashes as there are cores run at once, so a flood of sign-ups or sign-ins queues
/// briefly, then is refused, instead of taking all memory and every blocking thread.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(hashing_capacity()))
}

/// Hashing slots there are in all.
pub fn hashing_capacity() -> usize {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    2 * cores
}

async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ServiceError> {
    let slot = tokio::time::timeout(HASHING_WAIT, hashing_slots().acquire())
        .await
        .map_err(|_| ServiceError::Busy("too many sign-ins at once; try again in a moment".into()))?
        .map_err(|_| ServiceError::Busy("the server is stopping".into()))?;
    metrics::gauge!("insectid_password_hashes_free").set(hashing_slots().available_permits() as f64);
    // The slot goes with the work: a request dropped meanwhile does not free it early.
    let done = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    });
    done.await.map_err(|e| ServiceError::Storage(format!("hashing task failed: {e}")))
}

pub async fn hash(password: String) -> Result<String, ServiceError> {
    hashing(move || password_auth::generate_hash(password)).await
}

pub async fn verify(password: String, hash: String) -> Result<bool, ServiceError> {
    hashing(move || password_auth::verify_password(password, &hash).is_ok()).await
}

#[cfg(test)]
mod tests {
    use super::check_strength;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(check_strength("short", "ann").unwrap_err().contains("at least 10"));
        assert!(check_strength("password123", "ann").unwrap_err().contains("harder password"));
        assert!(check_strength("qwertyuiop", "ann").is_err());
        assert!(check_strength("annannann1", "annannann1").is_err(), "the username itself");
        assert!(check_strength(&"x".repeat(129), "ann").unwrap_err().contains("at most"));
        assert!(check_strength("violet-moth-harvest-42", "ann").is_ok());
    }
}

#[cfg(test)]
mod hashing_tests {
    /// With every hashing slot taken, a hash waits; once a slot is free it runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_waits_for_a_free_slot() {
        let all = u32::try_from(super::hashing_capacity()).unwrap();
        let held = super::hashing_slots().acquire_many(all).await.unwrap();
        let waiting = tokio::spawn(super::hash("violet-moth-harvest-42".into()));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "no slot, no hashing");
        drop(held);
        assert!(waiting.await.unwrap().unwrap().starts_with("$argon2"));
    }
}
