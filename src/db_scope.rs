//! Whose rows a database connection may see. Row-level security (migration 0030) admits a
//! connection of the runtime role only to the rows of the organization its settings name; the
//! settings are those of the task the connection is handed to: a request runs within its
//! caller's scope, work that spans organizations by design within an explicit, named bypass
//! (counted on /metrics), and anything else within none, which sees no row at all.

use std::future::Future;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::policy::{OrgKind, Principal};

/// Why a task may see every organization's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bypass {
    /// The background jobs: expiries, syncs, reconciliation, sweeps.
    Jobs,
    /// Finding the caller behind a session or token, and signing in.
    Authentication,
    /// A user of the operator organization, which runs the whole platform.
    Operator,
    /// The command line, run by whoever runs the database.
    Cli,
    /// Writers that batch the requests of many tenants (holds, deferred audit entries).
    BatchWriter,
    /// Start-up upkeep (sealing stored secrets again).
    Startup,
    /// A hold that lapsed is ended by the first request that wants its number, whichever
    /// tenant held it.
    LapsedHold,
    /// An upload's set-based statements over its staged rows (up to millions, each confined
    /// to the upload by its id): a per-row policy check would cost more than the work.
    UploadPipeline,
}

impl Bypass {
    pub fn as_str(self) -> &'static str {
        match self {
            Bypass::Jobs => "jobs",
            Bypass::Authentication => "authentication",
            Bypass::Operator => "operator",
            Bypass::Cli => "cli",
            Bypass::BatchWriter => "batch_writer",
            Bypass::Startup => "startup",
            Bypass::LapsedHold => "lapsed_hold",
            Bypass::UploadPipeline => "upload_pipeline",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One organization's rows; for a reseller, its tenants' too.
    Org {
        org: Uuid,
        kind: OrgKind,
        parent: Option<Uuid>,
    },
    All(Bypass),
}

impl Scope {
    /// The scope of a request made by `principal`.
    pub fn of(principal: &Principal) -> Scope {
        match principal.org_kind {
            OrgKind::Operator => Scope::All(Bypass::Operator),
            kind => Scope::Org {
                org: principal.org_id,
                kind,
                parent: principal.parent_org_id,
            },
        }
    }

    /// The values of inward.scope, inward.org, inward.kind and inward.parent.
    fn settings(scope: Option<&Scope>) -> [String; 4] {
        match scope {
            None => ["none".into(), String::new(), String::new(), String::new()],
            Some(Scope::All(_)) => ["all".into(), String::new(), String::new(), String::new()],
            Some(Scope::Org { org, kind, parent }) => [
                "org".into(),
                org.to_string(),
                match kind {
                    OrgKind::Reseller => "reseller",
                    _ => "tenant",
                }
                .into(),
                parent.map(|p| p.to_string()).unwrap_or_default(),
            ],
        }
    }
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `work` within `scope`: every connection it takes from a pool sees that scope's rows.
pub async fn within<F: Future>(scope: Scope, work: F) -> F::Output {
    if let Scope::All(bypass) = &scope {
        crate::metrics::scope_bypass(bypass.as_str());
    }
    SCOPE.scope(scope, work).await
}

/// Runs `work` seeing every organization's rows, for the reason given.
pub async fn bypassing<F: Future>(bypass: Bypass, work: F) -> F::Output {
    within(Scope::All(bypass), work).await
}

/// The scope of the running task, if it has one.
pub fn current() -> Option<Scope> {
    SCOPE.try_with(Scope::clone).ok()
}

/// `tokio::spawn`, with the spawned task in the spawner's scope (a task-local does not cross
/// a spawn by itself).
pub fn spawn<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(scope) => tokio::spawn(SCOPE.scope(scope, work)),
        None => tokio::spawn(work),
    }
}

/// Gives `conn` the running task's scope; the pools call it each time they hand one out.
pub async fn apply(conn: &mut PgConnection) -> sqlx::Result<()> {
    let [scope, org, kind, parent] = Scope::settings(current().as_ref());
    sqlx::query(
        "SELECT set_config('inward.scope', $1, false), set_config('inward.org', $2, false),
                set_config('inward.kind', $3, false), set_config('inward.parent', $4, false)",
    )
    .bind(scope)
    .bind(org)
    .bind(kind)
    .bind(parent)
    .execute(conn)
    .await?;
    Ok(())
}

/// Within the transaction on `conn`, sees every organization's rows until `narrow` (or the
/// transaction's end): for one step of a request that must reach past its caller.
pub async fn widen(conn: &mut PgConnection, bypass: Bypass) -> sqlx::Result<()> {
    crate::metrics::scope_bypass(bypass.as_str());
    sqlx::query("SELECT set_config('inward.scope', 'all', true)")
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a `widen`: back to the running task's scope.
pub async fn narrow(conn: &mut PgConnection) -> sqlx::Result<()> {
    let [scope, ..] = Scope::settings(current().as_ref());
    sqlx::query("SELECT set_config('inward.scope', $1, true)")
        .bind(scope)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_names_its_rows() {
        let (org, parent) = (Uuid::from_u128(7), Uuid::from_u128(3));
        assert_eq!(Scope::settings(None)[0], "none");
        assert_eq!(
            Scope::settings(Some(&Scope::All(Bypass::Jobs))),
            [
                "all".to_string(),
                String::new(),
                String::new(),
                String::new()
            ]
        );
        let tenant = Scope::Org {
            org,
            kind: OrgKind::Tenant,
            parent: Some(parent),
        };
        assert_eq!(
            Scope::settings(Some(&tenant)),
            [
                "org".to_string(),
                org.to_string(),
                "tenant".into(),
                parent.to_string()
            ]
        );
        let reseller = Scope::Org {
            org,
            kind: OrgKind::Reseller,
            parent: None,
        };
        assert_eq!(Scope::settings(Some(&reseller))[2], "reseller");
        assert_eq!(Scope::settings(Some(&reseller))[3], "");
    }

    #[tokio::test]
    async fn a_spawned_task_keeps_its_spawners_scope() {
        let scope = Scope::All(Bypass::Jobs);
        let seen = within(scope.clone(), async { spawn(async { current() }).await })
            .await
            .unwrap();
        assert_eq!(seen, Some(scope));
        assert_eq!(spawn(async { current() }).await.unwrap(), None);
    }
}
