//! `hcctl exposures`: the work of `/v1/admin/exposures` from a terminal
//! (create, status, contacts), and `work`, the exposure worker run here:
//! the local stand-in for the exposure function, which `make dev` runs with
//! `--follow`. Progress goes to stderr; nothing personal is printed, and
//! contacts (with identities) go only to a file of mode 0600.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration as StdDuration;

use shared::clock::Clock;
use shared::crypto::{PiiKeys, random_id};
use shared::http::Problem;
use shared::service::exposures::{self, Budget, ExposureRequest, Outcome};
use shared::store::Store;
use shared::store::exposures::{Exposure, ExposureStatus};
use time::OffsetDateTime;

use crate::cli::{ExposuresAction, OutputFormat};
use crate::{Failure, failure};

pub async fn run(store: &Store, action: ExposuresAction) -> Result<(), Failure> {
    match action {
        ExposuresAction::Create {
            venue,
            id_number,
            subject,
            from,
            to,
            level,
            reason,
            window_minutes,
            wait,
            output,
        } => {
            let pii = PiiKeys::from_env().map_err(failure::pii_keys)?;
            let request = ExposureRequest {
                venue_id: venue,
                id_number,
                subject_id: subject,
                from,
                to,
                level: level.into(),
                reason,
                window_minutes,
            };
            let officer = crate::officer();
            let retention = shared::store::log::retention_from_env().map_err(|e| Failure::usage(e.to_string()))?;
            let now = OffsetDateTime::now_utc();
            let exposure = exposures::create(store, &pii, &officer, random_id("x_"), request, now, retention)
                .await
                .map_err(problem)?;
            crate::audit(store, "exposure", &exposure.id, format!("{:?}", exposure.level), 0).await?;
            eprintln!(
                "exposure {} recorded; the exposure worker finds its contacts",
                exposure.id
            );
            let exposure = if wait {
                follow(store, &exposure.id).await?
            } else {
                exposure
            };
            print(&exposure, output)
        }
        ExposuresAction::Status { id, output } => print(&found(store, &id).await?, output),
        ExposuresAction::Contacts { id, out, force } => contacts(store, &id, &out, force).await,
        ExposuresAction::Work { follow } => work(store, follow).await,
    }
}

fn problem(p: Problem) -> Failure {
    let message = p.detail.unwrap_or_else(|| p.title.to_owned());
    if p.status.as_u16() == 400 || p.status.as_u16() == 422 {
        Failure::usage(message)
    } else {
        Failure::new(message)
    }
}

async fn found(store: &Store, id: &str) -> Result<Exposure, Failure> {
    if !exposures::is_exposure_id(id) {
        return Err(Failure::usage(format!(
            "`{id}` is not an exposure id (x_ and 26 letters and digits)"
        )));
    }
    store
        .get_exposure(id, true)
        .await?
        .ok_or_else(|| Failure::new(format!("no exposure `{id}` in table {}", store.tables.exposures)))
}

/// Polls the exposure every second, its progress on stderr, until it is done.
async fn follow(store: &Store, id: &str) -> Result<Exposure, Failure> {
    loop {
        let e = found(store, id).await?;
        eprintln!(
            "{}: {} contacts, {} pages read",
            e.status.as_str(),
            e.contacts,
            e.progress.pages
        );
        if matches!(e.status, ExposureStatus::Done | ExposureStatus::Withdrawn) {
            return Ok(e);
        }
        tokio::time::sleep(StdDuration::from_secs(1)).await;
    }
}

fn print(e: &Exposure, output: OutputFormat) -> Result<(), Failure> {
    let view = exposures::view(e);
    match output {
        OutputFormat::Json => println!("{}", serde_json::json!({ "exposure": view })),
        OutputFormat::Csv => crate::print_csv(
            &[
                "id",
                "kind",
                "status",
                "level",
                "from",
                "to",
                "contacts",
                "created_at",
                "finished_at",
            ],
            [vec![
                e.id.clone(),
                format!("{:?}", e.kind).to_lowercase(),
                e.status.as_str().to_owned(),
                format!("{:?}", e.level).to_lowercase(),
                e.from.clone(),
                e.to.clone(),
                e.contacts.to_string(),
                e.created_at.clone(),
                e.finished_at.clone().unwrap_or_default(),
            ]],
        )?,
        OutputFormat::Table => {
            for key in [
                "id",
                "kind",
                "status",
                "level",
                "from",
                "to",
                "contacts",
                "created_at",
                "finished_at",
            ] {
                let value = match &view[key] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".to_owned(),
                    other => other.to_string(),
                };
                println!("{key:<12} {value}");
            }
        }
    }
    Ok(())
}

/// Every contact with identity, as CSV into a new file of mode 0600.
async fn contacts(store: &Store, id: &str, out: &std::path::Path, force: bool) -> Result<(), Failure> {
    let pii = PiiKeys::from_env().map_err(failure::pii_keys)?;
    found(store, id).await?;
    crate::audit(store, "exposure-contacts", id, String::new(), 0).await?;
    if force {
        let _ = std::fs::remove_file(out);
    }
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|err| Failure::new(format!("cannot create {}: {err} (--force replaces it)", out.display())))?;
    let mut writer = csv::Writer::from_writer(file);
    let header = ["subject_id", "name", "id_number", "phone", "venue_id", "entered_at"];
    let failed = |err: csv::Error| Failure::new(format!("cannot write {}: {err}", out.display()));
    writer.write_record(header).map_err(failed)?;
    let mut after: Option<String> = None;
    let mut written = 0;
    loop {
        let (rows, next) = exposures::contacts(store, &pii, id, after.as_deref())
            .await
            .map_err(problem)?;
        for row in &rows {
            let field = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
            writer.write_record(header.map(field)).map_err(failed)?;
        }
        written += rows.len();
        eprintln!("{written} contacts written");
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    writer
        .flush()
        .map_err(|err| Failure::new(format!("cannot write {}: {err}", out.display())))?;
    eprintln!("{written} contacts in {}", out.display());
    Ok(())
}

/// Sends the due notices of decided appeals and runs the worker on every open exposure; with
/// `follow`, every second until Ctrl-C.
async fn work(store: &Store, follow: bool) -> Result<(), Failure> {
    exposure::init_logging();
    let pii = PiiKeys::from_env().map_err(failure::pii_keys)?;
    let notifier = exposure::notifier::from_env().map_err(|e| Failure::usage(e.to_string()))?;
    let worker = shared::service::exposures::Worker {
        store,
        pii: &pii,
        notifier: notifier.as_ref(),
        clock: Clock::system(),
        name: random_id("w_"),
        page_size: 200,
        lease: time::Duration::minutes(2),
        backoff: StdDuration::from_millis(200),
    };
    let appeals = shared::service::notices::AppealNotices {
        store,
        pii: &pii,
        notifier: notifier.as_ref(),
        clock: Clock::system(),
        backoff: StdDuration::from_millis(200),
    };
    if follow {
        eprintln!("working on exposures and appeals' notices as they come: polling every second, Ctrl-C stops");
    }
    loop {
        let sent = appeals.send_due().await?;
        if sent.sent + sent.failed > 0 {
            eprintln!("appeal notices: {} sent, {} failed", sent.sent, sent.failed);
        }
        for id in store.open_exposures().await? {
            let outcome = worker.work(&id, Budget::default()).await?;
            if outcome != Outcome::Busy {
                eprintln!("exposure {id}: {outcome:?}");
            }
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
