//! `hcctl traces export`: the trace of `GET /v1/admin/traces`, every page
//! of it, as a CSV file for the epidemiologists.
//!
//! The trace is the one of `shared::service::trace`, read whole: audited
//! after the entries are read and before any identity is opened or the
//! file created. The
//! file is created with mode 0600 and never overwritten without `--force`.
//! Nothing personal is printed.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use shared::crypto::PiiKeys;
use shared::domain::day::rfc3339;
use shared::domain::status::Color;
use shared::service::trace::{self, Page, Reader, SubjectTrace, TraceError, VenueTrace};
use shared::store::log::{EntryKind, EntryMethod};
use shared::store::{Store, parse_time};
use time::OffsetDateTime;

use crate::cli::ExportArgs;
use crate::{Failure, failure};

pub const VENUE_HEADER: [&str; 6] = ["entered_at", "subject_id", "name", "id_number", "phone", "color"];
pub const SUBJECT_HEADER: [&str; 13] = [
    "time",
    "kind",
    "venue_id",
    "venue_name",
    "venue_address",
    "region",
    "color",
    "scanner",
    "subject_id",
    "name",
    "id_number",
    "phone",
    "method",
];

/// Entries read per page; each page is written to the file before the next is read.
const PAGE: usize = 500;

pub async fn export(store: &Store, args: ExportArgs) -> Result<(), Failure> {
    let now = OffsetDateTime::now_utc();
    let window = trace::window(args.from, args.to, now)
        .map_err(|_| Failure::usage("--from must precede --to, at most 60 days before it"))?;
    let (header, what, id): (&[&str], _, &str) = match (&args.venue, &args.subject) {
        (Some(venue), None) => (&VENUE_HEADER, format!("venue {venue}"), venue),
        (None, Some(subject)) => (&SUBJECT_HEADER, format!("subject {subject}"), subject),
        _ => return Err(Failure::usage("give one of --venue and --subject")),
    };
    // The arguments first (exit status 2), then the environment.
    let pii = PiiKeys::from_env().map_err(failure::pii_keys)?;
    check_destination(&args.out, args.force)?;
    let officer = crate::officer();
    let reader = Reader { officer: &officer, now };
    let shown = format!("{} to {}", rfc3339(window.0), rfc3339(window.1));
    let mut file: Option<Output> = None;
    let mut after: Option<String> = None;
    let mut written = 0;
    loop {
        let page = Page {
            after: after.as_deref(),
            limit: PAGE,
        };
        let (rows, next) = if args.venue.is_some() {
            let found = trace::venue(store, &pii, &reader, id, window, page).await;
            let found = found.map_err(|err| trace_failure(store, err, id));
            let found = abandon_on_error(&mut file, found)?;
            (venue_rows(&found), found.next)
        } else {
            let found = trace::subject(store, &pii, &reader, id, window, page).await;
            let found = found.map_err(|err| trace_failure(store, err, id));
            let found = abandon_on_error(&mut file, found)?;
            (subject_rows(&found), found.next)
        };
        // The file is created once the first page is read and audited.
        if file.is_none() {
            file = Some(Output::create(&args.out, args.force, header)?);
        }
        let output = file.as_mut().expect("created above");
        let result = output.write(&rows);
        abandon_on_error(&mut file, result)?;
        written += rows.len();
        eprintln!("hcctl: {written} entries of {what} written");
        match next {
            Some(position) => after = Some(position),
            None => break,
        }
    }
    let output = file.take().expect("created with the first page");
    output.finish()?;
    println!("wrote {written} entries of {what}, {shown}, to {}", args.out.display());
    Ok(())
}

/// Removes a half-written file when a later page fails.
fn abandon_on_error<T>(file: &mut Option<Output>, result: Result<T, Failure>) -> Result<T, Failure> {
    if result.is_err()
        && let Some(output) = file.take()
    {
        output.abandon();
    }
    result
}

fn trace_failure(store: &Store, err: TraceError, id: &str) -> Failure {
    match err {
        TraceError::NoVenue => Failure::new(format!("no venue `{id}` in table {}", store.tables.venues)),
        TraceError::NoSubject => Failure::new(format!("no subject `{id}` in table {}", store.tables.subjects)),
        TraceError::Sealed { subject_id, error } => Failure::new(format!(
            "the identity of subject {subject_id} does not open ({error}): are HC_PII_ENC_KEY (and HC_PII_ENC_KEY_PREVIOUS during a rotation) the deployment's?"
        )),
        TraceError::Window => Failure::usage("--from must precede --to, at most 60 days before it"),
        TraceError::Store(err) => err.into(),
    }
}

/// Refuses early, before the audit, what would fail at the end.
fn check_destination(out: &Path, force: bool) -> Result<(), Failure> {
    if out.symlink_metadata().is_ok() && !force {
        return Err(Failure::new(format!(
            "{} exists: pass --force to overwrite it",
            out.display()
        )));
    }
    if out.is_dir() {
        return Err(Failure::new(format!("{} is a directory", out.display())));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::new(format!(
            "no directory {} to write {} in",
            parent.display(),
            out.display()
        )));
    }
    Ok(())
}

/// Everyone who entered the venue, newest first, with full identity.
fn venue_rows(found: &VenueTrace) -> Vec<Vec<String>> {
    found
        .visits()
        .map(|visit| {
            vec![
                rfc3339(visit.entered_at),
                visit.entry.subject_id.clone(),
                cell(&visit.person.name),
                visit.person.id_number.clone(),
                visit.person.phone.clone().unwrap_or_default(),
                color(visit.entry.color),
            ]
        })
        .collect()
}

/// Every venue the subject entered and every scan of their code, newest first.
fn subject_rows(found: &SubjectTrace) -> Vec<Vec<String>> {
    let who = &found.subject;
    found
        .entries
        .iter()
        .map(|entry| {
            let at = parse_time(&entry.at).map(rfc3339).unwrap_or_default();
            let (kind, venue_columns, scanner) = match entry.kind {
                EntryKind::Checkin => {
                    let venue = entry.venue_id.as_ref().and_then(|v| found.venues.get(v));
                    let columns = match venue {
                        Some(v) => [v.id.clone(), cell(&v.name), cell(&v.address), v.region.clone()],
                        None => [
                            entry.venue_id.clone().unwrap_or_default(),
                            String::new(),
                            String::new(),
                            entry.region.clone().unwrap_or_default(),
                        ],
                    };
                    ("checkin", columns, String::new())
                }
                EntryKind::Scan => (
                    "scan",
                    [
                        String::new(),
                        String::new(),
                        String::new(),
                        entry.region.clone().unwrap_or_default(),
                    ],
                    entry.account.clone(),
                ),
            };
            let [venue_id, venue_name, venue_address, region] = venue_columns;
            vec![
                at,
                kind.to_owned(),
                venue_id,
                venue_name,
                venue_address,
                region,
                color(entry.color),
                scanner,
                who.subject_id.clone(),
                cell(&who.name),
                who.id_number.clone(),
                who.phone.clone().unwrap_or_default(),
                method(entry.kind, entry.method),
            ]
        })
        .collect()
}

/// How the person was identified, as `GET /v1/admin/traces` says it: by the app (`app`) or
/// a venue's holder (`assisted`) for a check-in, by the code shown (`code`) or an inspector's
/// ID-number entry (`id-card`) for a scan.
fn method(kind: EntryKind, method: Option<EntryMethod>) -> String {
    match (kind, method) {
        (_, Some(EntryMethod::IdCard)) => "id-card",
        (_, Some(EntryMethod::Assisted)) => "assisted",
        (EntryKind::Checkin, None) => "app",
        (EntryKind::Scan, None) => "code",
    }
    .to_owned()
}

fn color(color: Color) -> String {
    serde_json::to_value(color)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Free text as a spreadsheet will not run it: a cell that starts like a
/// formula (venue names and addresses are typed by applicants) gets a
/// leading apostrophe.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The CSV file, created with mode 0600, never through a link, and removed
/// again if writing fails half-way.
struct Output {
    path: std::path::PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl Output {
    fn create(out: &Path, force: bool, header: &[&str]) -> Result<Self, Failure> {
        let shown = out.display();
        if force {
            match std::fs::remove_file(out) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(Failure::new(format!("cannot replace {shown}: {err}"))),
            }
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out)
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    Failure::new(format!("{shown} exists: pass --force to overwrite it"))
                }
                _ => Failure::new(format!("cannot create {shown}: {err}")),
            })?;
        let mut output = Self {
            path: out.to_owned(),
            writer: csv::Writer::from_writer(file),
        };
        let result = output.writer.write_record(header).map_err(|err| output.failure(err));
        match result {
            Ok(()) => Ok(output),
            Err(failure) => {
                output.abandon();
                Err(failure)
            }
        }
    }

    fn failure(&self, err: impl std::fmt::Display) -> Failure {
        Failure::new(format!("cannot write {}: {err}", self.path.display()))
    }

    fn write(&mut self, rows: &[Vec<String>]) -> Result<(), Failure> {
        for row in rows {
            self.writer.write_record(row).map_err(|err| self.failure(err))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Failure> {
        let path = self.path.clone();
        let done = (|| -> Result<(), Box<dyn std::error::Error>> {
            let mut file = self.writer.into_inner().map_err(|e| e.into_error())?;
            file.flush()?;
            file.sync_all()?;
            Ok(())
        })();
        done.map_err(|err| {
            let _ = std::fs::remove_file(&path);
            Failure::new(format!("cannot write {}: {err}", path.display()))
        })
    }

    fn abandon(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("石家庄市长安区"), "石家庄市长安区");
    }

    #[test]
    fn the_method_is_named_as_the_dashboard_names_it() {
        assert_eq!(method(EntryKind::Checkin, None), "app");
        assert_eq!(method(EntryKind::Checkin, Some(EntryMethod::Assisted)), "assisted");
        assert_eq!(method(EntryKind::Scan, None), "code");
        assert_eq!(method(EntryKind::Scan, Some(EntryMethod::IdCard)), "id-card");
    }
}
