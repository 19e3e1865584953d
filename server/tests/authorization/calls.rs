//! Every route the authorization matrix calls, with who may call it.

use std::collections::HashMap;

use crate::common::router::{multipart_file, png};

/// Who may call: everyone, anyone signed in, or administrators.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    Public,
    SignedIn,
    /// Labelers and administrators.
    Staff,
    Admin,
}

/// A photo upload as the pages and the REST API take it.
pub fn multipart() -> (String, Vec<u8>) {
    multipart_file("a.png", "image/png", &png())
}

/// (method, uri, content type, body, rule). Calls that would change an account on success use
/// a wrong password, so "allowed" shows as a 400 about that, never as 401/403.
pub fn all(ids: &HashMap<&str, i64>, admin_identification: i64) -> Vec<(&'static str, String, String, Vec<u8>, Rule)> {
    let (mp_type, mp_body) = multipart();
    vec![
        ("POST", "/api/portal_stats".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Public),
        ("POST", "/api/model_status".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Public),
        ("POST", "/api/me".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Public),
        ("POST", "/api/identify_photos".into(), mp_type.clone(), mp_body.clone(), Rule::Public),
        (
            "POST",
            "/api/update_profile".into(),
            "application/x-www-form-urlencoded".into(),
            b"display_name=X&email=&language=en".to_vec(),
            Rule::SignedIn,
        ),
        (
            "POST",
            "/api/change_password".into(),
            "application/x-www-form-urlencoded".into(),
            b"current=wrong-password-0&new=another-good-pass-77&new_again=another-good-pass-77".to_vec(),
            Rule::SignedIn,
        ),
        (
            "POST",
            "/api/delete_account".into(),
            "application/x-www-form-urlencoded".into(),
            b"password=wrong-password-0".to_vec(),
            Rule::SignedIn,
        ),
        (
            "POST",
            "/api/users".into(),
            "application/x-www-form-urlencoded".into(),
            b"search=&page=0".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/audit_log".into(), "application/x-www-form-urlencoded".into(), b"page=0".to_vec(), Rule::Admin),
        (
            "POST",
            "/api/set_user_role".into(),
            "application/x-www-form-urlencoded".into(),
            format!("id={}&role=labeler", ids["tom1"]).into_bytes(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/set_user_active".into(),
            "application/x-www-form-urlencoded".into(),
            format!("id={}&active=true", ids["tom2"]).into_bytes(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/reset_user_password".into(),
            "application/x-www-form-urlencoded".into(),
            format!("id={}&password=reset-by-admin-5551", ids["tom3"]).into_bytes(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/history".into(),
            "application/x-www-form-urlencoded".into(),
            b"filters[label]=&filters[from]=2026-01-01&page=0".to_vec(),
            Rule::SignedIn,
        ),
        // Someone else's identification (the admin's): owners and admins see it, others get 404.
        (
            "POST",
            "/api/identification".into(),
            "application/x-www-form-urlencoded".into(),
            format!("id={admin_identification}").into_bytes(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/rerun_identification".into(),
            "application/x-www-form-urlencoded".into(),
            format!("id={admin_identification}").into_bytes(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/update_observation".into(),
            "application/x-www-form-urlencoded".into(),
            format!("id={admin_identification}&taken_at=2026-06-01&latitude=1&longitude=2").into_bytes(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/delete_identification".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::SignedIn,
        ),
        (
            "POST",
            "/api/species_search".into(),
            "application/x-www-form-urlencoded".into(),
            b"query=weevil".to_vec(),
            Rule::Public,
        ),
        (
            "POST",
            "/api/species".into(),
            "application/x-www-form-urlencoded".into(),
            b"key=ip102-11".to_vec(),
            Rule::Public,
        ),
        (
            "POST",
            "/api/pest_pressure".into(),
            "application/x-www-form-urlencoded".into(),
            b"region=".to_vec(),
            Rule::Public,
        ),
        (
            "POST",
            "/api/species_pressure".into(),
            "application/x-www-form-urlencoded".into(),
            b"key=ip102-11&region=48N7E".to_vec(),
            Rule::Public,
        ),
        ("POST", "/api/my_pest_alerts".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Public),
        (
            "POST",
            "/api/set_pest_alert_subscription".into(),
            "application/x-www-form-urlencoded".into(),
            b"on=on".to_vec(),
            Rule::SignedIn,
        ),
        (
            "POST",
            "/api/alert_mail_link".into(),
            "application/x-www-form-urlencoded".into(),
            format!("kind=stop&token={}", "0".repeat(64)).into_bytes(),
            Rule::Public,
        ),
        (
            "POST",
            "/api/confirm_alert_mail".into(),
            "application/x-www-form-urlencoded".into(),
            format!("token={}", "0".repeat(64)).into_bytes(),
            Rule::Public,
        ),
        (
            "POST",
            "/api/stop_alert_mail".into(),
            "application/x-www-form-urlencoded".into(),
            format!("token={}", "0".repeat(64)).into_bytes(),
            Rule::Public,
        ),
        (
            "POST",
            "/api/set_pest_alert".into(),
            "application/x-www-form-urlencoded".into(),
            b"species=ip102-11&region=48N7E&threshold=5".to_vec(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/remove_pest_alert".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/upload_rules".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Public),
        (
            "POST",
            "/api/set_language".into(),
            "application/x-www-form-urlencoded".into(),
            b"lang=zh&back=/".to_vec(),
            Rule::Public,
        ),
        ("POST", "/api/model_versions".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Admin),
        (
            "POST",
            "/api/activate_model".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/rollback_model".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Admin),
        (
            "POST",
            "/api/delete_model".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/upload_model".into(), mp_type.clone(), mp_body.clone(), Rule::Admin),
        ("POST", "/api/terminal_presets".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Admin),
        ("POST", "/api/label_choices".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Public),
        // Feedback on the admin's identification: its owner and staff may; others see "not found".
        (
            "POST",
            "/api/send_feedback".into(),
            "application/x-www-form-urlencoded".into(),
            format!("identification={admin_identification}&kind=not_insect").into_bytes(),
            Rule::Staff,
        ),
        (
            "POST",
            "/api/feedback_queue".into(),
            "application/x-www-form-urlencoded".into(),
            b"state=&species=&model_version=&from=&to=&page=0".to_vec(),
            Rule::Staff,
        ),
        (
            "POST",
            "/api/review_feedback".into(),
            "application/x-www-form-urlencoded".into(),
            b"ids[0]=999999&decision=accept".to_vec(),
            Rule::Staff,
        ),
        ("POST", "/api/label_task".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Staff),
        (
            "POST",
            "/api/label_photo".into(),
            "application/x-www-form-urlencoded".into(),
            format!("sha={}&skip=1", "0".repeat(64)).into_bytes(),
            Rule::Staff,
        ),
        ("POST", "/api/datasets".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Staff),
        // No label exists yet, so an allowed call is refused for that (400), never 401/403.
        (
            "POST",
            "/api/create_dataset_version".into(),
            "application/x-www-form-urlencoded".into(),
            b"name=authz".to_vec(),
            Rule::Staff,
        ),
        (
            "POST",
            "/api/import_dataset".into(),
            "application/x-www-form-urlencoded".into(),
            b"name=authz&folder=no-such-folder".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/upload_dataset".into(), mp_type.clone(), mp_body.clone(), Rule::Admin),
        ("GET", "/jobs/999999/export.zip".into(), String::new(), vec![], Rule::Staff),
        (
            "POST",
            "/api/export_dataset".into(),
            "application/x-www-form-urlencoded".into(),
            b"spec=none@1&layout=ip102".to_vec(),
            Rule::Staff,
        ),
        ("POST", "/api/my_downloads".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Staff),
        (
            "POST",
            "/api/model_identifications".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999&page=0".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/commands".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Admin),
        (
            "POST",
            "/api/run_command".into(),
            "application/x-www-form-urlencoded".into(),
            b"command=no-such-command".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/job".into(), "application/x-www-form-urlencoded".into(), b"id=999999".to_vec(), Rule::Admin),
        (
            "POST",
            "/api/cancel_job".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/resume_job".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::Admin,
        ),
        (
            "POST",
            "/api/restart_job".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/evaluations".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Admin),
        (
            "POST",
            "/api/compare_evaluations".into(),
            "application/x-www-form-urlencoded".into(),
            b"a=999998&b=999999".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/shadow".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Admin),
        (
            "POST",
            "/api/shadow_on".into(),
            "application/x-www-form-urlencoded".into(),
            b"id=999999".to_vec(),
            Rule::Admin,
        ),
        ("POST", "/api/shadow_off".into(), "application/x-www-form-urlencoded".into(), vec![], Rule::Admin),
        ("GET", "/jobs/999999/files/report.json".into(), String::new(), vec![], Rule::Admin),
        ("GET", "/api/v1/model".into(), String::new(), vec![], Rule::Public),
        ("GET", "/api/v1/pressure.csv?species=ip102-11".into(), String::new(), vec![], Rule::Public),
        ("POST", "/api/v1/identify".into(), mp_type.clone(), mp_body.clone(), Rule::Public),
        ("GET", "/healthz".into(), String::new(), vec![], Rule::Public),
        ("GET", "/readyz".into(), String::new(), vec![], Rule::Public),
        ("GET", "/metrics".into(), String::new(), vec![], Rule::Public),
    ]
}
