//! The feedback → label → dataset loop, on SQLite and PostgreSQL.

use insectid::auth::Role;
use insectid::entities::identification;
use insectid::entities::photo_label::{self, LabelSource};
use insectid::error::ErrorKind;
use insectid::services::feedback::{self, Decision, FeedbackForm, FeedbackState, Kind, QueueFilter};
use insectid::services::{datasets, history, labels};
use insectid::storage::PhotoStore;
use insectid::testing::test_databases;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

mod common;
use common::{account, identified};

fn known(label: &str) -> Option<String> {
    insectid::catalogue::for_label(label).map(|s| s.name_en.clone())
}

fn kind<T: std::fmt::Debug>(r: Result<T, insectid::ServiceError>) -> ErrorKind {
    r.unwrap_err().kind()
}

fn form(kind: Kind, label: &str) -> FeedbackForm {
    FeedbackForm { kind, label: label.into(), comment: "seen in the paddy".into() }
}

async fn label_of(db: &DatabaseConnection, sha: &str) -> Option<(String, LabelSource)> {
    photo_label::Entity::find()
        .filter(photo_label::Column::ImageSha256.eq(sha))
        .one(db)
        .await
        .unwrap()
        .map(|l| (l.label, l.source))
}

/// Each identification's "label decided" mark, for one photo.
async fn decided_marks(db: &DatabaseConnection, sha: &str) -> Vec<bool> {
    let rows = identification::Entity::find()
        .filter(identification::Column::ImageSha256.eq(sha))
        .order_by_asc(identification::Column::Id)
        .all(db)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.label_decided).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_given_once_per_person_reviewed_and_becomes_a_label() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-fb");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let bob = account(db, "bob", Role::User).await;
        let lara = account(db, "lara", Role::Labeler).await;
        let (id, sha) = identified(db, &photos, ann.id, 1, "weevil", 0.6).await;
        let (id2, sha2) = identified(db, &photos, ann.id, 2, "ladybug", 0.95).await;

        assert_eq!(
            kind(feedback::submit(db, None, id, form(Kind::Correct, ""), &known).await),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            kind(feedback::submit(db, Some(&bob), id, form(Kind::Correct, ""), &known).await),
            ErrorKind::NotFound,
            "not his"
        );
        let err = feedback::submit(db, Some(&ann), id, form(Kind::Wrong, "a purple dragon"), &known)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a species in the catalogue"), "{err}");
        assert!(feedback::submit(db, Some(&ann), id, form(Kind::Wrong, ""), &known)
            .await
            .unwrap_err()
            .to_string()
            .contains("which species"));
        assert!(feedback::submit(db, Some(&ann), id, form(Kind::Wrong, "Weevil"), &known)
            .await
            .unwrap_err()
            .to_string()
            .contains("choose \"correct\""));
        let long = FeedbackForm { kind: Kind::Correct, label: String::new(), comment: "x".repeat(2001) };
        let err = feedback::submit(db, Some(&ann), id, long, &known).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("2000"), "{err}");

        let first = feedback::submit(db, Some(&ann), id, form(Kind::Wrong, "RICE WATER WEEVIL"), &known).await.unwrap();
        assert_eq!(first.label.as_deref(), Some("rice water weevil"), "the catalogue's spelling");
        // A second submission edits the first.
        let edited = feedback::submit(db, Some(&ann), id, form(Kind::Wrong, "beet weevil"), &known).await.unwrap();
        assert_eq!(
            (edited.id, edited.label.as_deref(), edited.state),
            (first.id, Some("beet weevil"), FeedbackState::Pending)
        );
        let other = feedback::submit(db, Some(&ann), id2, form(Kind::NotInsect, ""), &known).await.unwrap();

        assert_eq!(kind(feedback::queue(db, Some(&ann), &QueueFilter::default(), 0, 50).await), ErrorKind::Forbidden);
        let all = feedback::queue(db, Some(&lara), &QueueFilter::default(), 0, 50).await.unwrap();
        assert_eq!(all.total, 2);
        let weevils =
            feedback::queue(db, Some(&lara), &QueueFilter { species: "beet".into(), ..Default::default() }, 0, 50)
                .await
                .unwrap();
        assert_eq!(weevils.items.iter().map(|f| f.id).collect::<Vec<_>>(), [first.id]);
        let today = chrono::Utc::now().date_naive();
        let dated = QueueFilter {
            from: Some(today),
            to: Some(today),
            model_version: "m 1".into(),
            state: Some(FeedbackState::Pending),
            ..Default::default()
        };
        assert_eq!(feedback::queue(db, Some(&lara), &dated, 0, 50).await.unwrap().total, 2);
        let yesterday = QueueFilter { to: Some(today - chrono::Days::new(1)), ..Default::default() };
        assert_eq!(feedback::queue(db, Some(&lara), &yesterday, 0, 50).await.unwrap().total, 0);

        assert_eq!(
            kind(feedback::review(db, Some(&ann), &[first.id], Decision::Accept, 1).await),
            ErrorKind::Forbidden
        );
        let err = feedback::review(db, Some(&lara), &[first.id], Decision::Reject { reason: " ".into() }, 1)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "a reason is required: {err}");
        assert_eq!(
            kind(feedback::review(db, Some(&lara), &[first.id, 999_999], Decision::Accept, 1).await),
            ErrorKind::NotFound
        );
        assert_eq!(label_of(db, &sha).await, None, "all or nothing");

        feedback::review(db, Some(&lara), &[first.id, other.id], Decision::Accept, 1).await.unwrap();
        assert_eq!(label_of(db, &sha).await, Some(("beet weevil".into(), LabelSource::Feedback)));
        assert_eq!(label_of(db, &sha2).await, Some((labels::NO_INSECT.into(), LabelSource::Feedback)));
        feedback::review(db, Some(&lara), &[other.id], Decision::Reject { reason: "it is a ladybird".into() }, 1)
            .await
            .unwrap();
        let seen = feedback::mine(db, Some(&ann), id2).await.unwrap().unwrap();
        assert_eq!(
            (seen.state, seen.reason.as_deref()),
            (FeedbackState::Rejected, Some("it is a ladybird")),
            "the person sees the outcome"
        );

        // Deleting the identification takes its feedback along; the labelled photo stays.
        history::delete(db, &photos, Some(&ann), id).await.unwrap();
        assert!(feedback::mine(db, Some(&ann), id).await.unwrap().is_none());
        assert!(photos.contains(&sha).await.unwrap(), "a labelled photo is kept for datasets");
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_labelling_queue_puts_disputes_first_and_two_labelers_must_agree() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-lab");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let lara = account(db, "lara", Role::Labeler).await;
        let leo = account(db, "leo", Role::Labeler).await;
        let luz = account(db, "luz", Role::Admin).await;
        let (_, sure) = identified(db, &photos, ann.id, 10, "ladybug", 0.97).await;
        let (_, unsure) = identified(db, &photos, ann.id, 11, "weevil", 0.31).await;
        let (disputed_id, disputed) = identified(db, &photos, ann.id, 12, "bee", 0.88).await;
        feedback::submit(db, Some(&ann), disputed_id, form(Kind::Wrong, "rice water weevil"), &known).await.unwrap();

        assert_eq!(labels::next(db, Some(&ann)).await.unwrap_err().kind(), ErrorKind::Forbidden);
        let first = labels::next(db, Some(&lara)).await.unwrap().unwrap();
        assert_eq!(
            (first.image_sha256.as_str(), first.waiting),
            (disputed.as_str(), 3),
            "feedback disagreeing with the model first"
        );
        assert_eq!(first.proposed, ["rice water weevil"]);
        assert_eq!(first.suggestions[0].0, "bee");

        // Two labelers must agree: one vote decides nothing.
        assert_eq!(labels::vote(db, Some(&lara), &disputed, Some("rice water weevil"), 2).await.unwrap(), None);
        assert_eq!(
            labels::next(db, Some(&lara)).await.unwrap().unwrap().image_sha256,
            unsure,
            "then the least confident"
        );
        assert_eq!(labels::next(db, Some(&leo)).await.unwrap().unwrap().votes.get("rice water weevil"), Some(&1));
        assert_eq!(labels::vote(db, Some(&leo), &disputed, Some("weevil"), 2).await.unwrap(), None, "they disagree");
        assert_eq!(label_of(db, &disputed).await, None);
        assert_eq!(
            labels::vote(db, Some(&luz), &disputed, Some("rice water weevil"), 2).await.unwrap().as_deref(),
            Some("rice water weevil"),
            "a third breaks the tie"
        );
        assert_eq!(label_of(db, &disputed).await.map(|l| l.1), Some(LabelSource::Labelers));
        assert_eq!(decided_marks(db, &disputed).await, [true], "its identifications leave the queue's index");

        // Undo takes back the last vote, and the decision that rested on it.
        assert_eq!(labels::undo(db, Some(&luz), 2).await.unwrap().as_deref(), Some(disputed.as_str()));
        assert_eq!(label_of(db, &disputed).await, None);
        assert_eq!(decided_marks(db, &disputed).await, [false], "and come back to it");
        labels::vote(db, Some(&luz), &disputed, Some("rice water weevil"), 2).await.unwrap();
        assert!(labels::is_decided(db, &disputed).await.unwrap());

        // Skipping moves on without deciding; with one labeler required a vote decides at once.
        labels::vote(db, Some(&lara), &unsure, None, 1).await.unwrap();
        assert_eq!(labels::next(db, Some(&lara)).await.unwrap().unwrap().image_sha256, sure);
        assert_eq!(labels::vote(db, Some(&lara), &sure, Some("ladybug"), 1).await.unwrap().as_deref(), Some("ladybug"));
        // A new identification of a decided photo recorded without its mark (the decision
        // landed while it was being recorded) still stays out of the queue.
        identified(db, &photos, ann.id, 10, "ladybug", 0.05).await;
        assert_eq!(decided_marks(db, &sure).await, [true, false]);
        assert!(labels::next(db, Some(&lara)).await.unwrap().is_none(), "nothing left for her");
        assert_eq!(labels::next(db, Some(&leo)).await.unwrap().unwrap().image_sha256, unsure, "her skip is not his");
        assert_eq!(
            labels::vote(db, Some(&leo), "f".repeat(64).as_str(), Some("x"), 1).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        // The same labeler voting from several tabs at once: each vote replaces the last, none
        // fails (the load test found these colliding as 500s).
        let (_, twice) = identified(db, &photos, ann.id, 13, "moth", 0.4).await;
        let tabs: Vec<_> = (0..8)
            .map(|_| {
                let (db, leo, twice) = (db.clone(), leo.clone(), twice.clone());
                tokio::spawn(async move { labels::vote(&db, Some(&leo), &twice, Some("moth"), 1).await })
            })
            .collect();
        for tab in tabs {
            let vote = tab.await.unwrap();
            assert!(vote.as_ref().is_ok_and(|l| l.as_deref() == Some("moth")), "{vote:?}");
        }

        let counts = labels::counts(db, Some(&luz)).await.unwrap();
        let of = |id: i64| counts.iter().find(|c| c.labeler_id == id).map(|c| (c.labeled, c.skipped));
        assert_eq!((of(lara.id), of(leo.id), of(luz.id)), (Some((2, 1)), Some((2, 0)), Some((1, 0))));
        t.close().await;
    }
}

#[test]
fn a_label_is_trimmed_its_spaces_collapsed_and_line_breaks_refused() {
    assert_eq!(labels::clean_label("  rice   water  weevil ").unwrap(), "rice water weevil");
    assert_eq!(labels::clean_label("moth\n").unwrap(), "moth", "at either end it is only whitespace");
    for bad in
        ["moth\nbeetle", "moth\r\n2 beetle", "moth\tbeetle", "moth\u{1b}[2J", "a\u{0}b", "a\u{85}b", "a\u{2028}b"]
    {
        let err = labels::clean_label(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        assert_eq!(err.to_string(), "the label may not contain line breaks or control characters", "{bad:?}");
    }
    assert_eq!(labels::clean_label(" ").unwrap_err().kind(), ErrorKind::InvalidInput);
    let long = labels::clean_label(&"x".repeat(201)).unwrap_err();
    assert_eq!((long.kind(), long.to_string()), (ErrorKind::InvalidInput, "a label is at most 200 characters".into()));
    assert!(labels::clean_label(&"x".repeat(200)).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_cleaned_wherever_they_enter() {
    use insectid::entities::feedback as feedback_row;
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    const REFUSED: &str = "the label may not contain line breaks or control characters";
    // Even a lookup that takes any class (a model with odd labels) lets no line break through.
    let anything = |label: &str| Some(label.to_string());
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-clean");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let lara = account(db, "lara", Role::Labeler).await;
        let (id, sha) = identified(db, &photos, ann.id, 30, "weevil", 0.6).await;
        let (_, other) = identified(db, &photos, ann.id, 31, "bee", 0.5).await;

        // Feedback: "wrong, it is …".
        let err =
            feedback::submit(db, Some(&ann), id, form(Kind::Wrong, "moth\n2 beetle"), &anything).await.unwrap_err();
        assert_eq!((err.kind(), err.to_string().as_str()), (ErrorKind::InvalidInput, REFUSED));
        let saved =
            feedback::submit(db, Some(&ann), id, form(Kind::Wrong, "  RICE   WATER  WEEVIL "), &known).await.unwrap();
        assert_eq!(saved.label.as_deref(), Some("rice water weevil"), "spaces collapsed before the lookup");

        // Labelers' typed labels.
        let err = labels::vote(db, Some(&lara), &other, Some("moth\nbeetle"), 1).await.unwrap_err();
        assert_eq!((err.kind(), err.to_string().as_str()), (ErrorKind::InvalidInput, REFUSED));
        assert_eq!(label_of(db, &other).await, None);
        assert_eq!(
            labels::vote(db, Some(&lara), &other, Some(" moth   beetle "), 1).await.unwrap().as_deref(),
            Some("moth beetle")
        );
        assert_eq!(label_of(db, &other).await.map(|l| l.0).as_deref(), Some("moth beetle"));

        // Reviews: feedback stored before labels were cleaned is not accepted as it is.
        let mut old = saved.into_active_model();
        old.label = Set(Some("rice water weevil\n1 moth".into()));
        let old = old.update(db).await.unwrap();
        let err = feedback::review(db, Some(&lara), &[old.id], Decision::Accept, 1).await.unwrap_err();
        assert_eq!((err.kind(), err.to_string().as_str()), (ErrorKind::InvalidInput, REFUSED));
        assert_eq!(label_of(db, &sha).await, None);
        let state = feedback_row::Entity::find_by_id(old.id).one(db).await.unwrap().unwrap().state;
        assert_eq!(state, FeedbackState::Pending, "all or nothing");

        // Nothing else that decides a label gets one through either.
        let err = labels::decide(db, &sha, "moth\u{2028}beetle", labels::LabelSource::Import).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(label_of(db, &sha).await, None);
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_feedback_is_no_vote_when_labelers_must_agree() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-own");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let lara = account(db, "lara", Role::Labeler).await;
        let leo = account(db, "leo", Role::Labeler).await;
        let (mine_id, mine) = identified(db, &photos, lara.id, 40, "bee", 0.5).await;
        let (hers_id, hers) = identified(db, &photos, ann.id, 41, "bee", 0.5).await;
        let own =
            feedback::submit(db, Some(&lara), mine_id, form(Kind::Wrong, "rice water weevil"), &known).await.unwrap();
        // A labeler may give feedback on any identification, not only their own.
        let own_on_hers = feedback::submit(db, Some(&lara), hers_id, form(Kind::NotInsect, ""), &known).await.unwrap();

        // Two labelers must agree: accepting her own feedback would be her deciding alone.
        for ids in [vec![own.id], vec![own_on_hers.id]] {
            let err = feedback::review(db, Some(&lara), &ids, Decision::Accept, 2).await.unwrap_err();
            assert_eq!(
                (err.kind(), err.to_string().as_str()),
                (ErrorKind::Forbidden, "you cannot review your own feedback")
            );
            let reject = Decision::Reject { reason: "changed my mind".into() };
            assert_eq!(kind(feedback::review(db, Some(&lara), &ids, reject, 2).await), ErrorKind::Forbidden);
        }
        assert_eq!((label_of(db, &mine).await, label_of(db, &hers).await), (None, None));
        assert_eq!(
            kind(feedback::review(db, Some(&lara), &[own_on_hers.id, own.id], Decision::Accept, 2).await),
            ErrorKind::Forbidden
        );
        assert_eq!(feedback::mine(db, Some(&lara), mine_id).await.unwrap().unwrap().state, FeedbackState::Pending);

        // Another labeler's review is the second pair of eyes.
        feedback::review(db, Some(&leo), &[own.id], Decision::Accept, 2).await.unwrap();
        assert_eq!(label_of(db, &mine).await, Some(("rice water weevil".into(), LabelSource::Feedback)));
        // With one labeler per photo she decides alone anyway, by a vote as by a review.
        feedback::review(db, Some(&lara), &[own_on_hers.id], Decision::Accept, 1).await.unwrap();
        assert_eq!(label_of(db, &hers).await.map(|l| l.0).as_deref(), Some(labels::NO_INSECT));
        t.close().await;
    }
}

#[test]
fn the_split_is_stratified_reproducible_and_keeps_tiny_classes_in_train() {
    let items: Vec<(String, String)> = (0..40)
        .map(|i| {
            (
                format!("{i:064x}"),
                if i < 20 {
                    "a"
                } else if i < 38 {
                    "b"
                } else {
                    "c"
                }
                .to_string(),
            )
        })
        .collect();
    let one = datasets::stratified_split(&items, 7, datasets::DEFAULT_SPLIT);
    assert_eq!(one, datasets::stratified_split(&items, 7, datasets::DEFAULT_SPLIT), "same seed, same split");
    assert_ne!(one, datasets::stratified_split(&items, 8, datasets::DEFAULT_SPLIT));
    let count = |class: &str, split: &str| one.iter().filter(|(_, l, s)| l == class && *s == split).count();
    assert_eq!((count("a", "train"), count("a", "val"), count("a", "test")), (14, 3, 3));
    assert_eq!((count("b", "train"), count("b", "val"), count("b", "test")), (13, 3, 2));
    assert_eq!((count("c", "train"), count("c", "val"), count("c", "test")), (2, 0, 0));
}
