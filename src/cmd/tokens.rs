//! `custodia tokens create|list|revoke`: API tokens for `custodia serve`, stored hashed in
//! `DATA/api.db`. A new token's secret is printed once, on stdout, and never again.

use crate::cli::{CreateArgs, DataDir, Location, TokensCommand};
use crate::exit::{self, bad_input};
use custodia_api::auth::{ApiDb, Role, ROLES};

pub(crate) async fn run(command: TokensCommand) -> anyhow::Result<u8> {
    match command {
        TokensCommand::Create(args) => create(args).await,
        TokensCommand::List(data) => list(&data).await,
        TokensCommand::Revoke { data, id } => revoke(&data, &id).await,
    }
}

async fn open(data: &DataDir) -> anyhow::Result<ApiDb> {
    if let Location::Postgres(_) = data.location() {
        // Tokens belong to a ledger: refuse a database that holds none.
        super::open_store(data).await?.close().await;
    }
    super::open_api_db(data).await
}

async fn create(args: CreateArgs) -> anyhow::Result<u8> {
    let role = Role::parse(&args.role).ok_or_else(|| {
        let names: Vec<_> = ROLES.iter().map(|r| r.as_str()).collect();
        bad_input(format!(
            "--role {}: must be one of {}",
            args.role,
            names.join(", ")
        ))
    })?;
    crate::cmd::check_actor(&args.principal, "--principal")?;
    custodia_domain::Actor::new(args.principal.as_str())
        .map_err(|e| bad_input(format!("--principal: {e}")))?;
    let db = open(&args.data).await?;
    let token = db.create(&args.principal, role).await?;
    eprintln!(
        "token {} for {} as {}: shown once, keep it now",
        token.id,
        args.principal,
        role.as_str()
    );
    println!("{}", token.secret);
    Ok(exit::OK)
}

async fn list(data: &DataDir) -> anyhow::Result<u8> {
    let db = open(data).await?;
    for t in db.list().await? {
        let revoked = t
            .revoked_at
            .map(|at| format!("revoked {at}"))
            .unwrap_or_default();
        println!(
            "{}\t{}\t{}\t{}\t{}",
            t.id, t.principal, t.role, t.created_at, revoked
        );
    }
    Ok(exit::OK)
}

async fn revoke(data: &DataDir, id: &str) -> anyhow::Result<u8> {
    let db = open(data).await?;
    if !db.revoke(id).await? {
        return Err(bad_input(format!("no active token with id {id}")));
    }
    println!("revoked {id}");
    Ok(exit::OK)
}
