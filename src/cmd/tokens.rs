//! `custodia tokens create|list|revoke`: API tokens for `custodia serve`, stored hashed in
//! `DATA/api.db`. A new token's secret is printed once, on stdout, and never again.

use crate::cli::{DataDir, Location};
use crate::exit::{self, bad_input};
use clap::{Args, Subcommand};
use custodia_api::auth::{ApiDb, Role, ROLES};

#[derive(Debug, Subcommand)]
pub(crate) enum TokensCommand {
    /// Create a token for a principal with a role; prints the secret once.
    #[command(after_help = "\
Roles: admin, top_management, security_manager, risk_owner (read and write), auditor (read,
verify, cosign checkpoints; never write), subscriber (the event stream only). The principal is
the actor recorded in every event written with the token. Only the token's SHA-256 is stored:
keep the printed secret, it cannot be shown again.")]
    Create(CreateArgs),
    /// List tokens (id, principal, role, created, revoked); never the secrets.
    List(crate::cli::DataDir),
    /// Revoke a token by its id.
    Revoke {
        #[command(flatten)]
        data: crate::cli::DataDir,
        /// The token's id, as `tokens list` prints it (tok_…).
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    data: crate::cli::DataDir,
    /// Who the token acts for, as <class>:<name> (e.g. user:alice@acme.example).
    #[arg(long)]
    principal: String,
    /// What it may do: admin, top_management, security_manager, risk_owner, auditor, subscriber.
    #[arg(long)]
    role: String,
}

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
