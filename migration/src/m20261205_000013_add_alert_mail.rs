//! Pest-alert e-mail: how a subscriber wants alerts (on visits, by e-mail or both), and one notice row per
//! (alert, week, person) so that each alert is mailed once a week however many instances run.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Those who subscribed before asked to see alerts on their visits. Mail goes only to
        // an address its owner confirmed (by a link mailed there), and stops by the link in
        // every message.
        for mut column in [
            boolean(PestAlertSubscriber::OnVisit).default(true).to_owned(),
            boolean(PestAlertSubscriber::ByEmail).default(false).to_owned(),
            string_null(PestAlertSubscriber::MailTo).to_owned(),
            string_null(PestAlertSubscriber::ConfirmToken).to_owned(),
            string_null(PestAlertSubscriber::ConfirmAddress).to_owned(),
            timestamp_with_time_zone_null(PestAlertSubscriber::ConfirmSentAt).to_owned(),
            string_null(PestAlertSubscriber::StopToken).to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table(PestAlertSubscriber::Table).add_column(&mut column).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(PestAlertNotice::Table)
                    .col(big_integer(PestAlertNotice::AlertId))
                    // The Monday of the week whose count passed the threshold.
                    .col(date(PestAlertNotice::Week))
                    .col(big_integer(PestAlertNotice::UserId))
                    // Claimed by an instance's round about to send; sent once the relay accepted it.
                    .col(string(PestAlertNotice::ClaimedBy))
                    .col(timestamp_with_time_zone(PestAlertNotice::ClaimedAt))
                    .col(timestamp_with_time_zone_null(PestAlertNotice::SentAt))
                    // The relay refused the address for good: not tried again that week.
                    .col(string_null(PestAlertNotice::Refused))
                    .primary_key(
                        Index::create()
                            .col(PestAlertNotice::AlertId)
                            .col(PestAlertNotice::Week)
                            .col(PestAlertNotice::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pest_alert_notice_alert")
                            .from(PestAlertNotice::Table, PestAlertNotice::AlertId)
                            .to(PestAlert::Table, PestAlert::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pest_alert_notice_user")
                            .from(PestAlertNotice::Table, PestAlertNotice::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_pest_alert_subscriber_confirm", PestAlertSubscriber::ConfirmToken),
            ("idx_pest_alert_subscriber_stop", PestAlertSubscriber::StopToken),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(PestAlertSubscriber::Table).col(column).unique().to_owned(),
                )
                .await?;
        }
        // Deleting a person finds their notices without a scan.
        manager
            .create_index(
                Index::create()
                    .name("idx_pest_alert_notice_user")
                    .table(PestAlertNotice::Table)
                    .col(PestAlertNotice::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PestAlertNotice::Table).to_owned()).await?;
        for name in ["idx_pest_alert_subscriber_confirm", "idx_pest_alert_subscriber_stop"] {
            manager.drop_index(Index::drop().name(name).table(PestAlertSubscriber::Table).to_owned()).await?;
        }
        for column in [
            PestAlertSubscriber::OnVisit,
            PestAlertSubscriber::ByEmail,
            PestAlertSubscriber::MailTo,
            PestAlertSubscriber::ConfirmToken,
            PestAlertSubscriber::ConfirmAddress,
            PestAlertSubscriber::ConfirmSentAt,
            PestAlertSubscriber::StopToken,
        ] {
            manager
                .alter_table(Table::alter().table(PestAlertSubscriber::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum PestAlertSubscriber {
    Table,
    OnVisit,
    ByEmail,
    MailTo,
    ConfirmToken,
    ConfirmAddress,
    ConfirmSentAt,
    StopToken,
}

#[derive(DeriveIden)]
enum PestAlertNotice {
    Table,
    AlertId,
    Week,
    UserId,
    ClaimedBy,
    ClaimedAt,
    SentAt,
    Refused,
}

#[derive(DeriveIden)]
enum PestAlert {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
