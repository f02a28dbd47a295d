//! `hcctl traces export`: the trace of `GET /v1/admin/traces`, every page
//! of it, as a CSV file for the epidemiologists.
//!
//! The audit entry is written after the entries are read and before any
//! identity is opened or the file created, as the admin route does. The
//! file is created with mode 0600 and never overwritten without `--force`.
//! Nothing personal is printed.

use std::collections::{BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use shared::crypto::PiiKeys;
use shared::domain::day::rfc3339;
use shared::domain::rules::Color;
use shared::store::log::{Entry, EntryKind};
use shared::store::subjects::Subject;
use shared::store::{Store, parse_time};
use time::{Duration, OffsetDateTime};

use crate::cli::ExportArgs;
use crate::{Failure, failure};

/// The default and the longest window, as for the admin route.
const DEFAULT_WINDOW: Duration = Duration::days(14);
const MAX_WINDOW: Duration = Duration::days(60);
/// Entries read per query page of a venue.
const PAGE: usize = 500;

pub const VENUE_HEADER: [&str; 6] = ["entered_at", "subject_id", "name", "id_number", "phone", "color"];
pub const SUBJECT_HEADER: [&str; 12] = [
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
];

pub async fn export(store: &Store, args: ExportArgs) -> Result<(), Failure> {
    let pii = PiiKeys::from_env().map_err(failure::pii_keys)?;
    let to = args.to.unwrap_or_else(OffsetDateTime::now_utc);
    let from = args.from.unwrap_or(to - DEFAULT_WINDOW);
    if from > to || to - from > MAX_WINDOW {
        return Err(Failure::new("--from must precede --to, at most 60 days before it"));
    }
    check_destination(&args.out, args.force)?;
    let window = format!("{} to {}", rfc3339(from), rfc3339(to));
    let (rows, what) = match (&args.venue, &args.subject) {
        (Some(venue), None) => (
            venue_rows(store, &pii, venue, from, to, &window).await?,
            format!("venue {venue}"),
        ),
        (None, Some(subject)) => (
            subject_rows(store, &pii, subject, from, to, &window).await?,
            format!("subject {subject}"),
        ),
        _ => return Err(Failure::new("give one of --venue and --subject")),
    };
    let header: &[&str] = if args.venue.is_some() {
        &VENUE_HEADER
    } else {
        &SUBJECT_HEADER
    };
    write(&args.out, args.force, header, &rows)?;
    println!(
        "wrote {} entries of {what}, {window}, to {}",
        rows.len(),
        args.out.display()
    );
    Ok(())
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
async fn venue_rows(
    store: &Store,
    pii: &PiiKeys,
    venue_id: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    window: &str,
) -> Result<Vec<Vec<String>>, Failure> {
    let valid_id = venue_id.len() <= 64 && venue_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let venue = if valid_id {
        store.get_venue(venue_id).await?
    } else {
        None
    };
    let venue = venue.ok_or_else(|| Failure::new(format!("no venue `{venue_id}` in table {}", store.tables.venues)))?;
    let mut entries = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .venue_entries(&venue.id, venue.shards, from, to, after.as_deref(), PAGE)
            .await?;
        entries.extend(page.entries);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let ids: Vec<String> = entries
        .iter()
        .map(|e| e.subject_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    crate::audit(store, "trace-venue", &venue.id, window.to_owned(), ids.len()).await?;
    let subjects = store.get_subjects(&ids).await?;
    let mut people = HashMap::new();
    for (id, subject) in &subjects {
        people.insert(id.as_str(), person(pii, subject)?);
    }
    Ok(entries
        .iter()
        .filter_map(|entry| {
            let who = people.get(entry.subject_id.as_str())?;
            let at = parse_time(&entry.at)?;
            Some(vec![
                rfc3339(at),
                entry.subject_id.clone(),
                cell(&who.name),
                who.id_number.clone(),
                who.phone.clone(),
                color(entry.color),
            ])
        })
        .collect())
}

/// Every venue the subject entered and every scan of their code, newest first.
async fn subject_rows(
    store: &Store,
    pii: &PiiKeys,
    subject_id: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    window: &str,
) -> Result<Vec<Vec<String>>, Failure> {
    let subject = if shared::access::is_subject_id(subject_id) {
        store.get_subject(subject_id, false).await?
    } else {
        None
    };
    let subject =
        subject.ok_or_else(|| Failure::new(format!("no subject `{subject_id}` in table {}", store.tables.subjects)))?;
    let entries: Vec<Entry> = store.subject_entries(subject_id, from, to).await?;
    crate::audit(store, "trace-subject", subject_id, window.to_owned(), 1).await?;
    let venue_ids: Vec<String> = entries
        .iter()
        .filter_map(|e| e.venue_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let venues = store.get_venues(&venue_ids).await?;
    let who = person(pii, &subject)?;
    Ok(entries
        .iter()
        .map(|entry| {
            let at = parse_time(&entry.at).map(rfc3339).unwrap_or_default();
            let (kind, venue_columns, scanner) = match entry.kind {
                EntryKind::Checkin => {
                    let venue = entry.venue_id.as_ref().and_then(|v| venues.get(v));
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
                subject_id.to_owned(),
                cell(&who.name),
                who.id_number.clone(),
                who.phone.clone(),
            ]
        })
        .collect())
}

struct Person {
    name: String,
    id_number: String,
    phone: String,
}

fn person(pii: &PiiKeys, subject: &Subject) -> Result<Person, Failure> {
    let revealed = subject.identity.reveal(pii).map_err(|err| {
        Failure::new(format!(
            "the identity of subject {} does not open ({err}): are HC_PII_ENC_KEY (and HC_PII_ENC_KEY_PREVIOUS during a rotation) the deployment's?",
            subject.identity.subject_id
        ))
    })?;
    Ok(Person {
        name: revealed.name,
        id_number: revealed.id_number,
        phone: revealed.phone.unwrap_or_default(),
    })
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

/// Writes the file with mode 0600: a new file, never through a link, and
/// removed again if writing fails half-way.
fn write(out: &Path, force: bool, header: &[&str], rows: &[Vec<String>]) -> Result<(), Failure> {
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
            std::io::ErrorKind::AlreadyExists => Failure::new(format!("{shown} exists: pass --force to overwrite it")),
            _ => Failure::new(format!("cannot create {shown}: {err}")),
        })?;
    let written = (|| -> Result<(), Box<dyn std::error::Error>> {
        let mut writer = csv::Writer::from_writer(file);
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(row)?;
        }
        let mut file = writer.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        file.sync_all()?;
        Ok(())
    })();
    written.map_err(|err| {
        let _ = std::fs::remove_file(out);
        Failure::new(format!("cannot write {shown}: {err}"))
    })
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
}
