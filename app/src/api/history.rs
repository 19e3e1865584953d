//! One identification's result, the signed-in user's history, and deleting from it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ClassScore;
use crate::error::AppError;

/// Which kind of answer the model gave; the text names it in the page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// One class, sure enough.
    Confident,
    /// A genus, family, order or class sure enough where no single class was.
    RolledUp,
    /// Some arthropod, but no rank sure enough.
    Uncertain,
    NoInsect,
}

impl VerdictKind {
    /// The name styles and tests use (`class="verdict no_insect"`).
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Confident => "confident",
            VerdictKind::RolledUp => "rolled_up",
            VerdictKind::Uncertain => "uncertain",
            VerdictKind::NoInsect => "no_insect",
        }
    }

    #[cfg(feature = "ssr")]
    pub fn of(v: &insectid::inference::Verdict) -> Self {
        use insectid::inference::Verdict;
        match v {
            Verdict::Confident { .. } => VerdictKind::Confident,
            Verdict::RolledUp { .. } => VerdictKind::RolledUp,
            Verdict::Uncertain { .. } => VerdictKind::Uncertain,
            Verdict::NoInsect { .. } => VerdictKind::NoInsect,
        }
    }
}

/// One identification as every page shows it (the result page, history, a model's answers,
/// the upload's answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultView {
    pub id: i64,
    pub created_at: String,
    pub owned: bool,
    pub image_sha256: String,
    pub summary: String,
    pub verdict: VerdictKind,
    pub arthropod_probability: f32,
    pub top: Vec<ClassScore>,
    /// The answer's parts, so each language can word it: the label or taxon named, the rank
    /// it rolled up to (empty otherwise) and the probability stated.
    pub verdict_name: String,
    pub verdict_rank: String,
    pub verdict_probability: f32,
    /// The catalogue entry of a confident answer.
    pub species: Option<super::SpeciesSummary>,
    /// Catalogue entries of the family an answer rolled up to.
    pub family_species: Vec<super::SpeciesSummary>,
    /// Classes the active model finds most like the top class (filled on the result page).
    pub similar: Vec<ClassScore>,
    /// The caller's feedback on it (filled on the result page).
    pub feedback: Option<super::FeedbackView>,
    pub model_name: String,
    pub model_version: String,
    pub total_ms: f64,
    /// When and where the photo was taken, for its owner only (to others: none).
    pub observation: Option<super::ObservationView>,
    /// How often this model's answers of this kind were right (filled on the result page).
    pub answer_rate: Option<AnswerRateView>,
    /// Top classes confirmed near the photo's place this season (its owner's result page).
    pub seen_nearby: Vec<super::NearbyView>,
}

/// "Answers like this were right N % of the time", with what that was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRateView {
    pub answers: u32,
    pub right: u32,
    /// "676 RP11 val photos and 17 photos without insects", "pests@2 (val)".
    pub measured_on: String,
}

#[cfg(feature = "ssr")]
async fn answer_rate(
    db: &sea_orm::DatabaseConnection,
    v: &insectid::services::history::IdentificationView,
) -> Result<Option<AnswerRateView>, AppError> {
    use insectid::services::answer_rates::{for_answer, RatesBasis};
    use insectid::services::evaluation::headlines::HeadlineKind;
    let i = &v.identified;
    let kind = HeadlineKind::of(&i.answer.verdict);
    let rate = crate::state::answer(for_answer(db, &i.model_name, &i.model_version, kind).await)?;
    Ok(rate.map(|r| AnswerRateView {
        answers: r.rate.answers,
        right: r.rate.right,
        measured_on: match r.basis {
            RatesBasis::Evaluation { dataset, split } => format!("{dataset} ({split})"),
            RatesBasis::Shipped { measured_on } => measured_on,
        },
    }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub items: Vec<ResultView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

pub const HISTORY_PER_PAGE: u64 = 24;

#[cfg(feature = "ssr")]
pub(crate) fn result_view(v: insectid::services::history::IdentificationView) -> ResultView {
    use insectid::catalogue;
    use insectid::inference::Verdict;
    let observation = super::observation::observation_view(&v);
    let i = v.identified;
    let (verdict_name, verdict_rank, verdict_probability) = match &i.answer.verdict {
        Verdict::Confident { label, probability, .. } => (label.clone(), String::new(), *probability),
        Verdict::RolledUp { rank, name, probability, .. } => (name.clone(), rank.clone(), *probability),
        Verdict::Uncertain { best: Some(best), .. } => (best.label.clone(), String::new(), best.probability),
        Verdict::Uncertain { arthropod_probability, best: None } | Verdict::NoInsect { arthropod_probability } => {
            (String::new(), String::new(), *arthropod_probability)
        }
    };
    let species = match &i.answer.verdict {
        Verdict::Confident { label, .. } => catalogue::for_label(label).map(super::species::summary_of),
        // The best guess's card, shown with the uncertainty stated.
        Verdict::Uncertain { best: Some(best), .. } => {
            catalogue::for_label(&best.label).map(super::species::summary_of)
        }
        _ => None,
    };
    let family_species = match &i.answer.verdict {
        Verdict::RolledUp { rank, name, .. } if rank == "family" => {
            catalogue::in_family(name).into_iter().map(super::species::summary_of).collect()
        }
        _ => Vec::new(),
    };
    ResultView {
        verdict_name,
        verdict_rank,
        verdict_probability,
        species,
        family_species,
        similar: Vec::new(),
        feedback: None,
        id: v.id,
        created_at: v.created_at,
        owned: v.owned,
        image_sha256: i.image_sha256,
        summary: i.summary,
        verdict: VerdictKind::of(&i.answer.verdict),
        arthropod_probability: i.answer.arthropod_probability,
        top: i.answer.top.iter().map(|t| ClassScore::new(&t.label, t.probability)).collect(),
        model_name: i.model_name,
        model_version: i.model_version,
        total_ms: i.timings.total_ms,
        observation,
        answer_rate: None,
        seen_nearby: Vec::new(),
    }
}

#[server(endpoint = "identification")]
pub async fn get_identification(id: i64, key: Option<String>) -> Result<ResultView, AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, .. } = caller().await?;
    let found = answer(insectid::services::history::get(&state.db, actor.as_ref(), id, key.as_deref()).await)?;
    let rate = answer_rate(&state.db, &found).await?;
    let seen_nearby = super::pressure::seen_nearby(&state, &found).await?;
    let mut view = ResultView { answer_rate: rate, seen_nearby, ..result_view(found) };
    view.feedback = answer(insectid::services::feedback::mine(&state.db, actor.as_ref(), id).await)?
        .map(super::feedback::feedback_view);
    // Only an arthropod answer has look-alikes worth showing.
    if view.verdict != VerdictKind::NoInsect {
        if let Some(top) = view.top.first() {
            view.similar = state
                .engine
                .active()
                .similar_classes(&top.label, 4)
                .into_iter()
                .map(|(l, s)| ClassScore::new(&l, s))
                .collect();
        }
    }
    Ok(view)
}

/// The history's filters as the page's query string carries them ("" when not set).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    pub label: String,
    pub from: String,
    pub to: String,
    pub latitude: String,
    pub longitude: String,
    pub km: String,
}

impl HistoryQuery {
    /// The query string for one page of these filters (values encoded).
    pub fn href(&self, page: u64) -> String {
        let pairs = [
            ("label", &self.label),
            ("from", &self.from),
            ("to", &self.to),
            ("latitude", &self.latitude),
            ("longitude", &self.longitude),
            ("km", &self.km),
        ];
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()));
        if page > 0 {
            query.append_pair("page", &page.to_string());
        }
        format!("/history?{}", query.finish())
    }
}

#[server(endpoint = "history")]
pub async fn get_history(filters: HistoryQuery, page: u64) -> Result<History, AppError> {
    use crate::state::{answer, caller, Caller};
    use insectid::services::{history::HistoryFilter, observation};
    let Caller { state, actor, .. } = caller().await?;
    let filter = HistoryFilter {
        label: filters.label,
        taken_from: answer(observation::parse_day(&filters.from))?,
        taken_to: answer(observation::parse_day(&filters.to))?,
        near: answer(observation::parse_area(&filters.latitude, &filters.longitude, &filters.km))?,
    };
    let p =
        answer(insectid::services::history::list(&state.db, actor.as_ref(), &filter, page, HISTORY_PER_PAGE).await)?;
    Ok(History {
        items: p.items.into_iter().map(result_view).collect(),
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionHistory {
    pub model: String,
    pub history: History,
}

/// The identifications one model version made (administrators).
#[server(endpoint = "model_identifications")]
pub async fn get_model_identifications(id: i64, page: u64) -> Result<VersionHistory, AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, .. } = caller().await?;
    let (version, p) = answer(
        insectid::services::history::of_model_version(&state.db, actor.as_ref(), id, page, HISTORY_PER_PAGE).await,
    )?;
    Ok(VersionHistory {
        model: format!("{} {}", version.name, version.version),
        history: History {
            items: p.items.into_iter().map(result_view).collect(),
            total: p.total,
            page: p.page,
            per_page: p.per_page,
        },
    })
}

#[server(endpoint = "delete_identification")]
pub async fn delete_identification(id: i64) -> Result<(), AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, .. } = caller().await?;
    answer(insectid::services::history::delete(&state.db, &state.photos, actor.as_ref(), id).await)
}

/// Identifies the photo again with the active model and opens the new result, which shows
/// whether the answer changed.
#[server(endpoint = "rerun_identification")]
pub async fn rerun_identification(id: i64) -> Result<i64, AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, .. } = caller().await?;
    let new =
        answer(insectid::services::history::rerun(&state.db, &state.engine, &state.photos, actor.as_ref(), id).await)?;
    let new_id = new.id.unwrap_or_default();
    leptos_axum::redirect(&format!("/results/{new_id}?previous={id}"));
    Ok(new_id)
}
