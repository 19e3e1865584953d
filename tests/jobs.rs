//! The job queue's state machine (claim, heartbeat, cancel, interruption by a restart,
//! resume, restart), exactly-once claiming, and jobs of kinds this version does not know.
//! Real jobs run by the runner are in tests/job_runs.rs.

mod common;

use std::time::Duration;

use common::{account, clean, job_row as state};
use insectid::auth::Role;
use insectid::jobs::queue::{self, Outcome};
use insectid::jobs::results::CleanFilesResult;
use insectid::jobs::{JobResult, JobSpec, JobState, Progress};
use insectid::testing::test_databases;

/// What a clean-up (the `clean()` jobs here) reports.
fn cleaned() -> JobResult {
    JobResult::CleanFiles(CleanFilesResult { identifications: 3, photos: 2, removed: 1, rows_without_photo: 0 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_a_restart_as_interrupted_and_resumes() {
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        let user = account(db, "ann", Role::User).await;
        assert_eq!(
            queue::submit(db, Some(&user), &clean(), "").await.unwrap_err().kind(),
            insectid::error::ErrorKind::Forbidden
        );
        let bad = JobSpec::CleanFiles { grace_minutes: 10_000_000 };
        assert!(queue::submit(db, Some(&admin), &bad, "").await.unwrap_err().to_string().contains("grace_minutes"));

        let j = queue::submit(db, Some(&admin), &clean(), "clean-orphaned-files").await.unwrap();
        assert_eq!((j.state, j.attempts), (JobState::Queued, 0));
        let claimed = queue::claim(db, "instance-a").await.unwrap().unwrap();
        assert_eq!(
            (claimed.id, claimed.state, claimed.worker.as_str(), claimed.attempts),
            (j.id, JobState::Running, "instance-a", 1)
        );
        assert!(queue::claim(db, "instance-b").await.unwrap().is_none(), "a running job is nobody else's");
        let beat = queue::heartbeat(
            db,
            j.id,
            "instance-a",
            Some(&Progress { done: Some(1), ..Default::default() }),
            Some("working\n".into()),
        )
        .await
        .unwrap();
        assert_eq!((beat.owned, beat.cancel_requested), (true, false));

        // The process dies; at the next start the job is found running without a heartbeat.
        let seen = queue::reap(db, Duration::ZERO, 3, false).await.unwrap();
        assert_eq!(seen, vec![j.id]);
        let interrupted = state(db, j.id).await;
        assert_eq!(interrupted.state, JobState::Interrupted);
        assert!(
            interrupted.log.contains("working") && interrupted.log.contains("instance instance-a stopped answering"),
            "{}",
            interrupted.log
        );
        // The dead instance's late words change nothing.
        assert!(!queue::heartbeat(db, j.id, "instance-a", None, None).await.unwrap().owned);
        assert!(!queue::finish(
            db,
            j.id,
            "instance-a",
            Outcome::Succeeded(Box::new(cleaned())),
            &Progress::default(),
            String::new()
        )
        .await
        .unwrap());
        assert_eq!(
            queue::restart(db, Some(&admin), j.id).await.map(|n| n.state).unwrap(),
            JobState::Queued,
            "an interrupted job can be restarted afresh"
        );
        let restarted = queue::claim(db, "instance-b").await.unwrap().unwrap();
        assert_ne!(restarted.id, j.id);
        queue::finish(db, restarted.id, "instance-b", Outcome::Cancelled, &Progress::default(), String::new())
            .await
            .unwrap();

        // … or resumed: the same job, its log kept, a second attempt.
        let resumed = queue::resume(db, Some(&admin), j.id).await.unwrap();
        assert_eq!(resumed.state, JobState::Queued);
        let again = queue::claim(db, "instance-b").await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (j.id, 2));
        assert!(queue::finish(
            db,
            j.id,
            "instance-b",
            Outcome::Succeeded(Box::new(cleaned())),
            &Progress::default(),
            again.log.clone()
        )
        .await
        .unwrap());
        let done = state(db, j.id).await;
        assert_eq!((done.state, JobResult::of(&done)), (JobState::Succeeded, Some(cleaned())));
        assert!(done.finished_at.is_some());
        assert_eq!(
            queue::resume(db, Some(&admin), j.id).await.unwrap_err().kind(),
            insectid::error::ErrorKind::Conflict,
            "a success is not resumed"
        );
        assert_eq!(
            queue::cancel(db, Some(&admin), j.id).await.unwrap_err().kind(),
            insectid::error::ErrorKind::Conflict
        );

        // Cancelling: a queued job at once, a running one through its heartbeat.
        let queued = queue::submit(db, Some(&admin), &clean(), "").await.unwrap();
        assert_eq!(queue::cancel(db, Some(&admin), queued.id).await.unwrap().state, JobState::Cancelled);
        let running = queue::submit(db, Some(&admin), &clean(), "").await.unwrap();
        queue::claim(db, "instance-a").await.unwrap().unwrap();
        assert_eq!(queue::cancel(db, Some(&admin), running.id).await.unwrap().state, JobState::Running);
        assert!(queue::heartbeat(db, running.id, "instance-a", None, None).await.unwrap().cancel_requested);
        // A cancelled job whose instance then died is not resumed by itself.
        assert_eq!(queue::reap(db, Duration::ZERO, 3, true).await.unwrap(), vec![running.id]);
        assert_eq!(state(db, running.id).await.state, JobState::Interrupted);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_job_is_resumed_within_its_attempts() {
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        let j = queue::submit(db, Some(&admin), &clean(), "").await.unwrap();
        for attempt in 1..=2 {
            let c = queue::claim(db, &format!("doomed-{attempt}")).await.unwrap().unwrap();
            assert_eq!(c.attempts, attempt);
            queue::reap(db, Duration::ZERO, 2, true).await.unwrap();
        }
        let last = state(db, j.id).await;
        assert_eq!(last.state, JobState::Interrupted, "after its last attempt it waits for an administrator");
        assert!(last.log.contains("queued again (attempt 2 of 2 next)"), "{}", last.log);
        // A fresh heartbeat is not reaped.
        let k = queue::submit(db, Some(&admin), &clean(), "").await.unwrap();
        queue::claim(db, "alive").await.unwrap().unwrap();
        assert!(queue::reap(db, Duration::from_secs(30), 3, true).await.unwrap().is_empty());
        assert_eq!(state(db, k.id).await.state, JobState::Running);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_take_each_job_exactly_once() {
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(queue::submit(db, Some(&admin), &clean(), "").await.unwrap().id);
        }
        let claimers = (0..8).map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..10 {
                    // SQLite may answer "busy" to a second writer: that claim just found nothing.
                    if let Ok(Some(j)) = queue::claim(&db, &format!("w{n}")).await {
                        mine.push(j.id);
                    }
                }
                mine
            })
        });
        let mut claimed: Vec<i64> =
            futures::future::join_all(claimers).await.into_iter().flat_map(|r| r.unwrap()).collect();
        // Anything a busy SQLite left queued is claimed now, by one more worker.
        while let Some(j) = queue::claim(db, "late").await.unwrap() {
            claimed.push(j.id);
        }
        claimed.sort();
        assert_eq!(claimed, ids, "{}: every job claimed, none twice", t.backend);
        for id in ids {
            assert_eq!(state(db, id).await.attempts, 1);
        }
    }
}

/// Generated "rice pests" in class folders, imported as a dataset version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_kind_only_a_newer_instance_knows_is_left_alone() {
    use sea_orm::ConnectionTrait;
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        let future = queue::submit(db, Some(&admin), &clean(), "").await.unwrap();
        db.execute_unprepared(&format!("UPDATE job SET kind = 'from_the_future' WHERE id = {}", future.id))
            .await
            .unwrap();
        let known = queue::submit(db, Some(&admin), &clean(), "").await.unwrap();
        assert_eq!(
            queue::list(db, Some(&admin), 10).await.unwrap().iter().map(|j| j.id).collect::<Vec<_>>(),
            [known.id]
        );
        let claimed = queue::claim(db, "instance-a").await.unwrap().expect("the job this version knows");
        assert_eq!(claimed.id, known.id, "{}", t.backend);
        assert!(queue::claim(db, "instance-a").await.unwrap().is_none(), "the other one waits for its instance");
        t.close().await;
    }
}
