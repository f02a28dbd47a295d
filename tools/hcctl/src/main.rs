//! `hcctl`, the operations CLI. It talks to the same DynamoDB tables as the
//! functions, with the standard AWS settings (endpoint, region, credentials)
//! and the table prefix of `--prefix` or `HC_TABLE_PREFIX` (`hc-` by default).
//! With `AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000` alone it reaches
//! the tables of a running `make dev`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::auth::Role;
use shared::store::schema::Created;
use shared::store::{Store, StoreError, Tables};

#[derive(Parser)]
#[command(name = "hcctl", version, about = "Operate the Hebei health-code backend")]
struct Cli {
    /// Prefix of the table names.
    #[arg(long, global = true, env = "HC_TABLE_PREFIX", default_value = shared::store::tables::DEFAULT_PREFIX)]
    prefix: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the tables.
    Tables {
        #[command(subcommand)]
        action: TablesAction,
    },
    /// Grant or revoke roles.
    Roles {
        #[command(subcommand)]
        action: RolesAction,
    },
}

#[derive(Subcommand)]
enum TablesAction {
    /// Create the tables on a local emulator (in AWS, `template.yaml` creates them).
    Create,
}

#[derive(Subcommand)]
enum RolesAction {
    /// Grant a role to a user (an account id from `GET /v1/me`).
    Grant {
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
    },
    /// Revoke a role.
    Revoke {
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hcctl: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let store = Store::new(
        aws_sdk_dynamodb::Client::new(&shared::store::sdk_config().await),
        Tables::with_prefix(&cli.prefix),
    );
    match cli.command {
        Command::Tables { action: TablesAction::Create } => {
            if !shared::store::local_endpoint() {
                return Err("`tables create` is for a local emulator: set AWS_ENDPOINT_URL_DYNAMODB to it (in AWS, deploy template.yaml)".into());
            }
            for outcome in store.create_tables().await.map_err(store_error)? {
                match outcome {
                    Created::Created(name) => println!("created {name}"),
                    Created::Existed(name) => println!("exists  {name}"),
                }
            }
            Ok(())
        }
        Command::Roles { action } => {
            let (user, role, grant) = match action {
                RolesAction::Grant { user, role } => (user, role, true),
                RolesAction::Revoke { user, role } => (user, role, false),
            };
            let role = Role::parse(&role).ok_or_else(|| format!("unknown role `{role}` (known: authority)"))?;
            let at = grant.then(time::OffsetDateTime::now_utc);
            if !store.set_role(&user, role, at).await.map_err(store_error)? {
                return Err(format!("no account `{user}` in table {}", store.tables.accounts));
            }
            println!("{} {} {} {user}", if grant { "granted" } else { "revoked" }, role.as_str(), if grant { "to" } else { "from" });
            Ok(())
        }
    }
}

fn store_error(err: StoreError) -> String {
    match err {
        StoreError::Unavailable(reason) => format!(
            "cannot reach DynamoDB ({reason}); check AWS_ENDPOINT_URL_DYNAMODB, the region and credentials, or start the local stack with `make dev`"
        ),
        StoreError::Rejected(code) if code == "ResourceNotFoundException" => {
            "the tables do not exist: run `hcctl tables create` (local) or deploy template.yaml, and check --prefix".into()
        }
        other => other.to_string(),
    }
}
