//! Pest alerts by e-mail. Each round mails every person who asked for alerts by e-mail (with an
//! address and an active account) the alerts active this week that they were not yet mailed
//! this week: one message per person, in their language. A notice row per (alert, week,
//! person) is claimed before sending, so of several instances running rounds at once only one
//! sends it; a claim whose instance died before sending is claimed again after a while.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use super::alerts::{self, ActiveAlert};
use super::week_of;
use crate::auth::AccountStatus;
use crate::entities::{pest_alert_notice, pest_alert_subscriber, user};
use crate::mail::{MailError, Mailer};
use crate::ServiceError;

/// How long a claim may wait for its message before another instance may send it.
pub const STALE_CLAIM: Duration = Duration::minutes(10);
/// Messages one round sends at most; the rest wait for the next round.
pub const MAX_MESSAGES_PER_ROUND: u32 = 200;

/// What a round did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Round {
    pub sent: u32,
    /// Messages the relay refused for good (a bad address): not tried again that week.
    pub refused: u32,
    /// People left for the next round (the round's limit, or the relay failing).
    pub deferred: u32,
    /// Why the round stopped early: the relay could not be reached.
    pub relay_error: Option<String>,
}

/// Someone to mail.
struct Recipient {
    id: i64,
    email: String,
    display_name: String,
    chinese: bool,
}

/// Mails what is due. `public_url` (the portal's address as people reach it) adds links.
pub async fn send_due(
    db: &DatabaseConnection,
    mailer: &Mailer,
    public_url: Option<&str>,
    today: NaiveDate,
) -> Result<Round, ServiceError> {
    use pest_alert_notice::{Column as N, Entity as Notice};
    let now = Utc::now();
    Notice::delete_many()
        .filter(N::SentAt.is_null())
        .filter(N::Refused.is_null())
        .filter(N::ClaimedAt.lt(now - STALE_CLAIM))
        .exec(db)
        .await?;
    let mut round = Round::default();
    let recipients = recipients(db).await?;
    let alerts = alerts::list(db).await?;
    if recipients.is_empty() || alerts.is_empty() {
        return Ok(round);
    }
    let active = alerts::active(&alerts, &super::sightings(db, today).await?, today);
    if active.is_empty() {
        return Ok(round);
    }
    let week = week_of(today);
    let done: HashSet<(i64, i64)> = Notice::find()
        .filter(N::Week.eq(week))
        .filter(N::AlertId.is_in(active.iter().map(|a| a.alert.id)))
        .all(db)
        .await?
        .into_iter()
        .map(|n| (n.alert_id, n.user_id))
        .collect();
    for person in &recipients {
        let due: Vec<&ActiveAlert> = active.iter().filter(|a| !done.contains(&(a.alert.id, person.id))).collect();
        if due.is_empty() {
            continue;
        }
        if round.relay_error.is_some() || round.sent + round.refused >= MAX_MESSAGES_PER_ROUND {
            round.deferred += 1;
            continue;
        }
        let claimed = claim(db, &due, week, person.id, now).await?;
        if claimed.is_empty() {
            continue; // another instance is mailing them
        }
        let (subject, body) = compose(person, &claimed, week, public_url);
        let ids = claimed.iter().map(|a| a.alert.id);
        let mine = Notice::update_many()
            .filter(N::Week.eq(week))
            .filter(N::UserId.eq(person.id))
            .filter(N::AlertId.is_in(ids));
        match mailer.send(&person.email, &subject, body).await {
            Ok(()) => {
                mine.col_expr(N::SentAt, Utc::now().into()).exec(db).await?;
                round.sent += 1;
            }
            Err(MailError::Refused(why)) => {
                tracing::warn!(user = person.id, error = %why, "the mail relay refused a pest alert");
                mine.col_expr(N::Refused, why.into()).exec(db).await?;
                round.refused += 1;
            }
            Err(e) => {
                // Released at once: the next round (here or on another instance) tries again.
                let ids = claimed.iter().map(|a| a.alert.id);
                let release = Notice::delete_many().filter(N::Week.eq(week)).filter(N::UserId.eq(person.id));
                release.filter(N::AlertId.is_in(ids)).exec(db).await?;
                tracing::warn!(error = %e, "pest alert e-mail stopped until the next round");
                round.relay_error = Some(e.to_string());
                round.deferred += 1;
            }
        }
    }
    Ok(round)
}

/// People who asked for e-mail, have an address and an active account, by id.
async fn recipients(db: &DatabaseConnection) -> Result<Vec<Recipient>, ServiceError> {
    let rows = pest_alert_subscriber::Entity::find()
        .filter(pest_alert_subscriber::Column::ByEmail.eq(true))
        .find_also_related(user::Entity)
        .filter(user::Column::Status.eq(AccountStatus::Active))
        .filter(user::Column::Email.is_not_null())
        .order_by_asc(pest_alert_subscriber::Column::UserId)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, u)| u)
        .filter_map(|u| {
            let email = u.email?;
            let display_name = if u.display_name.trim().is_empty() { u.username } else { u.display_name };
            Some(Recipient { id: u.id, email, display_name, chinese: u.language.starts_with("zh") })
        })
        .collect())
}

/// Claims the alerts not claimed meanwhile; returns those this caller now holds.
async fn claim<'a>(
    db: &DatabaseConnection,
    due: &[&'a ActiveAlert],
    week: NaiveDate,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<&'a ActiveAlert>, ServiceError> {
    let mut claimed = Vec::new();
    for alert in due {
        let row = pest_alert_notice::ActiveModel {
            alert_id: Set(alert.alert.id),
            week: Set(week),
            user_id: Set(user_id),
            claimed_at: Set(now),
            sent_at: Set(None),
            refused: Set(None),
        };
        let keep = OnConflict::columns([
            pest_alert_notice::Column::AlertId,
            pest_alert_notice::Column::Week,
            pest_alert_notice::Column::UserId,
        ])
        .do_nothing()
        .to_owned();
        let inserted = pest_alert_notice::Entity::insert(row).on_conflict(keep).exec_without_returning(db).await?;
        if inserted == 1 {
            claimed.push(*alert);
        }
    }
    Ok(claimed)
}

/// The subject and the plain-text body of one person's message.
fn compose(person: &Recipient, due: &[&ActiveAlert], week: NaiveDate, public_url: Option<&str>) -> (String, String) {
    let lines: Vec<String> = due.iter().map(|a| alert_line(a, person.chinese, public_url)).collect();
    let stop_link = public_url.map(|u| format!("{u}/pressure#alert-subscription"));
    if person.chinese {
        let subject = match due {
            [one] => format!("虫情预警：{}（{}）", species_name(one, true), place(one, true)),
            _ => format!("虫情预警：本周有 {} 项达到阈值", due.len()),
        };
        let stop = stop_link.map(|l| format!("：{l}")).unwrap_or_else(|| "。".into());
        let body = format!(
            "{}，您好：\n\n本周（{week} 起）确认的目击次数已达到以下虫情预警的阈值：\n\n{}\n\n\
             您收到这封邮件，是因为您在“虫情”页面上选择了通过电子邮件接收虫情预警。\
             如需停止，请在该页面取消勾选“通过电子邮件发送给我”{stop}\n\n昆虫识别\n",
            person.display_name,
            lines.join("\n")
        );
        return (subject, body);
    }
    let subject = match due {
        [one] => format!("Pest alert: {} in {}", species_name(one, false), place(one, false)),
        _ => format!("Pest alerts: {} thresholds reached this week", due.len()),
    };
    let stop = stop_link.map(|l| format!(": {l}")).unwrap_or_else(|| ".".into());
    let body = format!(
        "Hello {},\n\nConfirmed sightings this week (from {week}) reached the threshold of these pest alerts:\n\n{}\n\n\
         You get this e-mail because you asked for pest alerts by e-mail on the Pest pressure page. \
         To stop, untick \"E-mail them to me\" there{stop}\n\nInsect Identifier\n",
        person.display_name,
        lines.join("\n")
    );
    (subject, body)
}

fn alert_line(a: &ActiveAlert, chinese: bool, public_url: Option<&str>) -> String {
    let scientific = crate::catalogue::get(&a.alert.species_key).map(|s| s.scientific.as_str()).unwrap_or("");
    let (name, place) = (species_name(a, chinese), place(a, chinese));
    let (count, threshold) = (a.this_week, a.alert.weekly_threshold);
    let mut line = if chinese {
        format!("- {name}（{scientific}），{place}：本周 {count} 次，阈值 {threshold}")
    } else {
        format!("- {name} ({scientific}), {place}: {count} sightings this week, alert at {threshold}")
    };
    if let Some(url) = public_url {
        let region = a.alert.region.map(|c| format!("?region={}", c.key())).unwrap_or_default();
        line.push_str(&format!("\n  {url}/pressure/{}{region}", a.alert.species_key));
    }
    line
}

fn species_name(a: &ActiveAlert, chinese: bool) -> String {
    match crate::catalogue::get(&a.alert.species_key) {
        Some(s) if chinese => s.name_zh.clone(),
        Some(s) => s.name_en.clone(),
        None => a.alert.species_key.clone(),
    }
}

fn place(a: &ActiveAlert, chinese: bool) -> String {
    match a.alert.region {
        Some(cell) => cell.name(),
        None if chinese => "所有地区".into(),
        None => "all regions".into(),
    }
}
