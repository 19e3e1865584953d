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

pub async fn hash(password: String) -> Result<String, ServiceError> {
    tokio::task::spawn_blocking(move || password_auth::generate_hash(password))
        .await
        .map_err(|e| ServiceError::Storage(format!("hashing task failed: {e}")))
}

pub async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || password_auth::verify_password(password, &hash).is_ok())
        .await
        .unwrap_or(false)
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
