//! Pest alerts by e-mail. Each round mails every person who asked for alerts by e-mail (with an
//! address and an active account) the alerts active this week that they were not yet mailed
//! this week: one message per person, in their language. A notice row per (alert, week,
//! person) is claimed before sending, so of several instances running rounds at once only one
//! sends it; a claim whose instance died before sending is claimed again after a while.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use super::alerts::{self, ActiveAlert};
use super::{week_of, SightingsCache};
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
    /// Greeted by it: the display name is free text anyone may set.
    username: String,
    chinese: bool,
    stop_token: String,
}

/// Mails what is due. `public_url` (the portal's address as people reach it) makes the links.
pub async fn send_due(
    db: &DatabaseConnection,
    mailer: &Mailer,
    public_url: &str,
    counts: &SightingsCache,
    today: NaiveDate,
) -> Result<Round, ServiceError> {
    use pest_alert_notice::{Column as N, Entity as Notice};
    let stale = Notice::delete_many().filter(N::SentAt.is_null()).filter(N::Refused.is_null());
    stale.filter(N::ClaimedAt.lt(Utc::now() - STALE_CLAIM)).exec(db).await?;
    Notice::delete_many().filter(N::Week.lt(week_of(today) - Duration::weeks(KEEP_WEEKS))).exec(db).await?;
    let mut round = Round::default();
    let recipients = recipients(db).await?;
    let alerts = alerts::list(db).await?;
    if recipients.is_empty() || alerts.is_empty() {
        return Ok(round);
    }
    let active = alerts::active(&alerts, &counts.get(db, today).await?, today);
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
    let mut sends = Sends { db, round_id: round_id()?, week, refused_in_a_row: Vec::new() };
    for person in &recipients {
        let due: Vec<&ActiveAlert> = active.iter().filter(|a| !done.contains(&(a.alert.id, person.id))).collect();
        if due.is_empty() {
            continue;
        }
        if round.relay_error.is_some() || round.sent + round.refused >= MAX_MESSAGES_PER_ROUND {
            round.deferred += 1;
            continue;
        }
        let claimed = claim(db, &due, week, person.id, &sends.round_id).await?;
        if claimed.is_empty() {
            continue; // another instance is mailing them
        }
        let stop = format!("{public_url}/alerts/stop?token={}", person.stop_token);
        let (subject, body) = compose(person, &claimed, week, public_url, &stop);
        match mailer.send(&person.email, &subject, body, Some(&stop)).await {
            Ok(()) => {
                round.refused += sends.refusals_stand().await;
                sends.mark(person.id, N::SentAt, Utc::now().into()).await;
                round.sent += 1;
            }
            Err(MailError::Refused(why)) => {
                tracing::warn!(user = person.id, error = %why, "the mail relay refused a pest alert");
                sends.refused_in_a_row.push((person.id, why));
                if sends.refused_in_a_row.len() >= REFUSALS_MEAN_RELAY {
                    // Everyone refused: the relay's settings, not the addresses, are wrong.
                    round.deferred += sends.release_refusals().await? as u32;
                    round.relay_error = Some(format!("the relay refused {REFUSALS_MEAN_RELAY} recipients in a row"));
                }
            }
            Err(e) => {
                // Released at once: the next round (here or on another instance) tries again.
                sends.release(person.id).await?;
                tracing::warn!(error = %e, "pest alert e-mail stopped until the next round");
                round.relay_error = Some(e.to_string());
                round.deferred += 1;
            }
        }
    }
    round.refused += sends.refusals_stand().await;
    Ok(round)
}

/// Refusals in a row before the round takes the relay, not the addresses, to be at fault.
const REFUSALS_MEAN_RELAY: usize = 3;
/// Weeks of notices kept (older ones can no longer be due).
const KEEP_WEEKS: i64 = 8;

/// One round's claims and what became of them.
struct Sends<'a> {
    db: &'a DatabaseConnection,
    round_id: String,
    week: NaiveDate,
    /// Refusals since the last message the relay took: recorded once another one is taken
    /// (or the round ends), released if they reach [`REFUSALS_MEAN_RELAY`].
    refused_in_a_row: Vec<(i64, String)>,
}

impl Sends<'_> {
    fn mine(&self, user_id: i64) -> sea_orm::Condition {
        use pest_alert_notice::Column as N;
        sea_orm::Condition::all()
            .add(N::ClaimedBy.eq(self.round_id.clone()))
            .add(N::Week.eq(self.week))
            .add(N::UserId.eq(user_id))
    }

    /// Records what happened to a person's message. The message is out: a failure to record it
    /// is logged (the claim goes stale and the message may go out again), not the round's end.
    async fn mark(&self, user_id: i64, column: pest_alert_notice::Column, value: sea_orm::sea_query::SimpleExpr) {
        let update = pest_alert_notice::Entity::update_many().filter(self.mine(user_id)).col_expr(column, value);
        if let Err(e) = update.exec(self.db).await {
            tracing::error!(user = user_id, error = %e, "a pest alert went out but could not be recorded");
        }
    }

    async fn release(&self, user_id: i64) -> Result<(), ServiceError> {
        pest_alert_notice::Entity::delete_many().filter(self.mine(user_id)).exec(self.db).await?;
        Ok(())
    }

    /// The refusals so far are the addresses' fault: recorded, not tried again this week.
    async fn refusals_stand(&mut self) -> u32 {
        let refused = std::mem::take(&mut self.refused_in_a_row);
        for (user_id, why) in &refused {
            self.mark(*user_id, pest_alert_notice::Column::Refused, why.clone().into()).await;
        }
        refused.len() as u32
    }

    async fn release_refusals(&mut self) -> Result<usize, ServiceError> {
        let refused = std::mem::take(&mut self.refused_in_a_row);
        for (user_id, _) in &refused {
            self.release(*user_id).await?;
        }
        Ok(refused.len())
    }
}

/// A name for this round's claims: the instance's process and a random part.
fn round_id() -> Result<String, ServiceError> {
    Ok(format!("{}-{}", std::process::id(), &crate::storage::random_secret()?[..16]))
}

/// People who asked for e-mail at an address they confirmed (still their account's) and
/// whose account is active, by id.
async fn recipients(db: &DatabaseConnection) -> Result<Vec<Recipient>, ServiceError> {
    let rows = pest_alert_subscriber::Entity::find()
        .filter(pest_alert_subscriber::Column::ByEmail.eq(true))
        .filter(pest_alert_subscriber::Column::MailTo.is_not_null())
        .find_also_related(user::Entity)
        .filter(user::Column::Status.eq(AccountStatus::Active))
        .order_by_asc(pest_alert_subscriber::Column::UserId)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, u)| {
            let u = u?;
            let email = u.email.filter(|e| s.mail_to.as_deref() == Some(e.as_str()))?;
            Some(Recipient {
                id: u.id,
                email,
                username: u.username,
                chinese: u.language.starts_with("zh"),
                stop_token: s.stop_token?,
            })
        })
        .collect())
}

/// Claims the alerts not claimed meanwhile; returns those this caller now holds.
async fn claim<'a>(
    db: &DatabaseConnection,
    due: &[&'a ActiveAlert],
    week: NaiveDate,
    user_id: i64,
    round_id: &str,
) -> Result<Vec<&'a ActiveAlert>, ServiceError> {
    let mut claimed = Vec::new();
    for alert in due {
        let row = pest_alert_notice::ActiveModel {
            alert_id: Set(alert.alert.id),
            week: Set(week),
            user_id: Set(user_id),
            claimed_by: Set(round_id.to_string()),
            claimed_at: Set(Utc::now()),
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
fn compose(
    person: &Recipient,
    due: &[&ActiveAlert],
    week: NaiveDate,
    public_url: &str,
    stop: &str,
) -> (String, String) {
    let lines: Vec<String> = due.iter().map(|a| alert_line(a, person.chinese, public_url)).collect();
    if person.chinese {
        let subject = match due {
            [one] => format!("虫情预警：{}（{}）", species_name(one, true), place(one, true)),
            _ => format!("虫情预警：本周有 {} 项达到阈值", due.len()),
        };
        let body = format!(
            "{}，您好：\n\n本周（{week} 起）确认的目击次数已达到以下虫情预警的阈值：\n\n{}\n\n\
             您收到这封邮件，是因为您选择了通过电子邮件接收虫情预警。如需停止，请打开：{stop}\n\n昆虫识别\n",
            person.username,
            lines.join("\n")
        );
        return (subject, body);
    }
    let subject = match due {
        [one] => format!("Pest alert: {} in {}", species_name(one, false), place(one, false)),
        _ => format!("Pest alerts: {} thresholds reached this week", due.len()),
    };
    let body = format!(
        "Hello {},\n\nConfirmed sightings this week (from {week}) reached the threshold of these pest alerts:\n\n{}\n\n\
         You get this e-mail because you asked for pest alerts by e-mail. To stop them, open {stop}\n\n\
         Insect Identifier\n",
        person.username,
        lines.join("\n")
    );
    (subject, body)
}

fn alert_line(a: &ActiveAlert, chinese: bool, public_url: &str) -> String {
    let scientific = crate::catalogue::get(&a.alert.species_key).map(|s| s.scientific.as_str()).unwrap_or("");
    let (name, place) = (species_name(a, chinese), place(a, chinese));
    let (count, threshold) = (a.this_week, a.alert.weekly_threshold);
    let mut line = if chinese {
        format!("- {name}（{scientific}），{place}：本周 {count} 次，阈值 {threshold}")
    } else {
        format!("- {name} ({scientific}), {place}: {count} sightings this week, alert at {threshold}")
    };
    let region = a.alert.region.map(|c| format!("?region={}", c.key())).unwrap_or_default();
    line.push_str(&format!("\n  {public_url}/pressure/{}{region}", a.alert.species_key));
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
