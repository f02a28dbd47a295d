//! `hcctl`, the operations CLI. It talks to the same DynamoDB tables as the
//! functions, with the standard AWS settings (endpoint, region, credentials)
//! and the table prefix of `--prefix` (before the command) or `HC_TABLE_PREFIX`
//! (`hc-` by default).
//! With `AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000` alone it reaches
//! the tables of a running `make dev`.
//!
//! Every command that shows or changes personal data writes an audit entry
//! (officer `hcctl:<$USER>`) before it does, as the admin function does.
//!
//! The library holds the commands; [`streams`] is public so that tests of
//! other crates can count the streams as the aggregator Lambda would.

mod aggregate;
pub mod cli;
mod exposures;
pub mod failure;
mod find;
mod rankings;
mod risk_persons;
mod roles;
pub mod streams;
mod traces;
mod trust;

use shared::store::audit::AuditEntry;
use shared::store::schema::Created;
use shared::store::{Store, Tables};

pub use cli::Cli;
use cli::{Command, OutputFormat, RiskPersonsAction, SubjectsAction, TablesAction, TracesAction, VenuesAction};
pub use failure::Failure;

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let config = shared::store::sdk_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&config), Tables::with_prefix(&cli.prefix));
    match cli.command {
        Command::Tables {
            action: TablesAction::Create,
        } => create_tables(&store).await,
        Command::Roles { action } => roles::run(&store, action).await,
        Command::RiskPersons {
            action: RiskPersonsAction::Import { file, output },
        } => risk_persons::import(&store, &file, output).await,
        Command::Rankings {
            date,
            level,
            output,
            json,
        } => {
            let output = if json { OutputFormat::Json } else { output };
            rankings::show(&store, date, level.into(), output).await
        }
        Command::Subjects {
            action: SubjectsAction::Find { output, .. },
        } => find::subject(&store, output).await,
        Command::Venues {
            action: VenuesAction::Search { region, q, output },
        } => find::venues(&store, &region, q.as_deref(), output).await,
        Command::Traces {
            action: TracesAction::Export(args),
        } => traces::export(&store, args).await,
        Command::Exposures { action } => exposures::run(&store, action).await,
        Command::Trust { action } => trust::trust(&store, action).await,
        Command::Partners { action } => trust::partners(&store, action).await,
        Command::Aggregate { follow, from_start } => {
            let client = streams::streams_client(&config);
            aggregate::run(&store, &client, follow, from_start).await
        }
    }
}

async fn create_tables(store: &Store) -> Result<(), Failure> {
    if !shared::store::local_endpoint() {
        return Err(Failure::new(
            "`tables create` is for a local emulator: set AWS_ENDPOINT_URL_DYNAMODB to it (in AWS, deploy template.yaml)",
        ));
    }
    for outcome in store.create_tables().await? {
        match outcome {
            Created::Created(name) => println!("created {name}"),
            Created::Existed(name) => println!("exists  {name}"),
        }
    }
    Ok(())
}

/// The officer of audit entries: `hcctl:` and the operator's login name.
fn officer() -> String {
    format!(
        "hcctl:{}",
        shared::config::optional("USER")
            .unwrap_or_else(|| "operator".to_owned())
            .trim()
    )
}

/// Writes records as CSV to stdout: the header, then the rows.
fn print_csv<R: AsRef<[u8]>>(header: &[&str], rows: impl IntoIterator<Item = Vec<R>>) -> Result<(), Failure> {
    let failed = |err: csv::Error| Failure::new(format!("cannot write to stdout: {err}"));
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    out.write_record(header).map_err(failed)?;
    for row in rows {
        out.write_record(row).map_err(failed)?;
    }
    out.flush()
        .map_err(|err| Failure::new(format!("cannot write to stdout: {err}")))
}

/// Records an action on personal data before it happens.
async fn audit(store: &Store, action: &str, target: &str, detail: String, records: usize) -> Result<(), Failure> {
    let entry = AuditEntry {
        officer: officer(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
        records,
        at: time::OffsetDateTime::now_utc(),
    };
    store.audit(&entry).await?;
    Ok(())
}
