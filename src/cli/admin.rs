//! The operator's one-call commands: database roles, organizations, users, API tokens and
//! the sandbox's injected faults.

use std::io::Read;

use sqlx::PgPool;

use super::commands::list_tokens;
use super::{DbCommand, OrgCommand, SandboxCommand, TokenCommand, UserCommand};
use crate::domain::policy::{OrgKind, Role};

pub(super) async fn db(pool: &PgPool, command: DbCommand) -> anyhow::Result<()> {
    let DbCommand::SetupRoles { owner, runtime } = command;
    let mut conn = pool.acquire().await?;
    for line in crate::roles::setup(&mut conn, &owner, &runtime).await? {
        println!("{line}");
    }
    println!(
        "next: run `inward migrate` as {owner} and everything else as {runtime} (set passwords with ALTER ROLE … PASSWORD where the server asks for them)"
    );
    Ok(())
}

pub(super) async fn orgs(pool: &PgPool, command: OrgCommand) -> anyhow::Result<()> {
    let OrgCommand::Add {
        kind,
        parent,
        slug,
        name,
    } = command;
    let kind: OrgKind = kind.parse().map_err(anyhow::Error::msg)?;
    let id = crate::admin::add_org(pool, kind, &parent, &slug, &name).await?;
    println!("{} `{slug}` created ({id})", kind.as_str());
    Ok(())
}

/// Adds a user; the password is read from standard input, never from the command line.
pub(super) async fn users(pool: &PgPool, command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Add { org, role, email } = command;
    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let id = crate::admin::add_user(pool, &org, role, &email, password).await?;
    println!("user {email} created ({id})");
    Ok(())
}

pub(super) async fn tokens(pool: &PgPool, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            email,
            name,
            expires_in_days,
        } => {
            let new = crate::auth::tokens::NewToken::parse(&name, expires_in_days)
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            let token = crate::admin::create_named_token(pool, &email, &new).await?;
            println!("{token}");
            eprintln!("Store this token now: it cannot be shown again.");
        }
        TokenCommand::List { email } => list_tokens(pool, email.as_deref()).await?,
        TokenCommand::Revoke { id } => {
            let revoked = crate::auth::tokens::revoke_any(pool, id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no API token with id {id}"))?;
            println!("revoked “{}” of {}", revoked.name, revoked.user_email);
        }
    }
    Ok(())
}

pub(super) async fn sandbox(pool: &PgPool, command: SandboxCommand) -> anyhow::Result<()> {
    let SandboxCommand::Fail {
        operation,
        times,
        message,
    } = command;
    crate::providers::sandbox::Sandbox::inject_fault(pool, &operation, times, &message).await?;
    println!("the next {times} sandbox `{operation}` call(s) will fail");
    Ok(())
}
