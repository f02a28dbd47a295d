//! `hcctl risk-persons import <file.csv>`: the authority's risk-person list
//! from a CSV file, through the same validation and import as
//! `POST /v1/admin/risk-persons` (`shared::service::risk_import`).
//!
//! The file is read as a stream of records (any size, quoted fields, BOM,
//! CRLF or LF); rows are reported by their line in the file, the header
//! being line 1. Nothing of a row's content is ever printed: a refused row
//! is named by its line and a code.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use shared::crypto::PiiKeys;
use shared::service::risk_import::{self, RiskRow};
use shared::store::Store;

use crate::cli::OutputFormat;
use crate::{Failure, failure};

pub const HEADER: [&str; 3] = ["id_number", "status", "since"];

/// A row that is not three UTF-8 fields: refused before validation.
const MALFORMED: &str = "malformed-row";

/// The rows of a file, by line, and the lines that are not rows at all.
#[derive(Debug, Default)]
pub struct Rows {
    pub rows: Vec<(usize, RiskRow)>,
    pub malformed: Vec<usize>,
}

/// Valid rows stored per call of the import, between two progress lines.
const CHUNK: usize = 1000;
/// Rows read between two progress lines while the file is read.
const READ_PROGRESS: usize = 10_000;

/// Imports the file's valid rows; refused rows are reported in `output`'s
/// format and make the command fail (exit status 1) once the valid ones are
/// stored. Progress goes to stderr.
pub async fn import(store: &Store, path: &Path, output: OutputFormat) -> Result<(), Failure> {
    let pii = PiiKeys::from_env().map_err(failure::pii_keys)?;
    let file = read(path)?;
    let count = file.rows.len() + file.malformed.len();
    eprintln!("hcctl: {count} rows read");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::audit(
        store,
        "risk-persons",
        &format!("{count} records"),
        format!("file {name}"),
        count,
    )
    .await?;
    let now = time::OffsetDateTime::now_utc();
    let (valid, mut refused) = sort_rows(file.rows, now);
    refused.extend(file.malformed.iter().map(|line| (*line, MALFORMED.to_owned())));
    refused.sort();
    // The valid rows in chunks, each a call of the same import as the
    // route's, so that progress can be shown; a person listed twice is in
    // one row only (the last), as in one call.
    let (mut applied, mut unmatched, mut stored) = (0, 0, 0);
    for chunk in valid.chunks(CHUNK) {
        let report = risk_import::import(store, &pii, chunk.iter().cloned(), now).await?;
        applied += report.applied;
        unmatched += report.unmatched;
        stored += chunk.len();
        // Validated above with the same `now`: nothing more is refused here.
        refused.extend(report.errors.iter().map(|e| (e.position, slug(&e.code))));
        eprintln!(
            "hcctl: {stored} of {} valid rows stored, {applied} applied to a registered person so far",
            valid.len()
        );
    }
    report(output, applied, unmatched, &refused)?;
    if refused.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{} of {count} rows refused; they changed nothing, the {} valid ones were imported: correct the refused rows and import those again",
            refused.len(),
            valid.len()
        )))
    }
}

/// A refused row: its line and code.
type Refused = (usize, String);

/// The valid rows, one per person (the last row of a person listed twice,
/// at its first row's place), and the refused rows' lines and codes.
fn sort_rows(rows: Vec<(usize, RiskRow)>, now: time::OffsetDateTime) -> (Vec<(usize, RiskRow)>, Vec<Refused>) {
    let mut valid: Vec<(usize, RiskRow)> = Vec::with_capacity(rows.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut refused = Vec::new();
    for (line, row) in rows {
        match risk_import::validate(&row, now) {
            Ok((id, _)) => match seen.entry(id.as_str().to_owned()) {
                Entry::Occupied(at) => valid[*at.get()] = (line, row),
                Entry::Vacant(at) => {
                    at.insert(valid.len());
                    valid.push((line, row));
                }
            },
            Err(code) => refused.push((line, slug(&code))),
        }
    }
    (valid, refused)
}

/// The refused rows and the counts, on stdout in the format asked for (for
/// CSV, the refused rows only, and the counts on stderr).
fn report(output: OutputFormat, applied: usize, unmatched: usize, refused: &[Refused]) -> Result<(), Failure> {
    let counts = format!("applied {applied}, unmatched {unmatched}, refused {}", refused.len());
    match output {
        OutputFormat::Table => {
            for (line, code) in refused {
                println!("line {line}: {code}");
            }
            println!("{counts}");
        }
        OutputFormat::Json => {
            let refused: Vec<_> = refused
                .iter()
                .map(|(line, code)| serde_json::json!({ "line": line, "code": code }))
                .collect();
            println!(
                "{}",
                serde_json::json!({ "applied": applied, "unmatched": unmatched, "refused": refused })
            );
        }
        OutputFormat::Csv => {
            crate::print_csv(
                &["line", "code"],
                refused.iter().map(|(line, code)| vec![line.to_string(), code.clone()]),
            )?;
            eprintln!("hcctl: {counts}");
        }
    }
    Ok(())
}

/// Reads the file: the header must be exactly [`HEADER`].
pub fn read(path: &Path) -> Result<Rows, Failure> {
    let shown = path.display();
    let file = File::open(path).map_err(|err| Failure::new(format!("cannot open {shown}: {}", io_reason(&err))))?;
    let mut lines = Lines::default();
    let counted = LineCounter {
        inner: BufReader::new(file),
        offset: 0,
        line_ends: Rc::clone(&lines.ends),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(counted);
    let unreadable = |err: csv::Error| Failure::new(format!("cannot read {shown}: {}", csv_reason(&err)));
    let mut record = csv::ByteRecord::new();
    let header_read = reader.read_byte_record(&mut record).map_err(unreadable)?;
    let header_ok = header_read
        && record.len() == HEADER.len()
        && record.iter().zip(HEADER).all(|(field, want)| {
            std::str::from_utf8(field).is_ok_and(|f| f.trim_start_matches('\u{feff}').trim() == want)
        });
    if !header_ok {
        return Err(Failure::new(format!(
            "{shown}: line 1 must be the header `{}`",
            HEADER.join(",")
        )));
    }
    let mut rows = Rows::default();
    while reader.read_byte_record(&mut record).map_err(unreadable)? {
        let line = lines.first_line(&record, reader.position().byte());
        let fields: Option<Vec<&str>> = record
            .iter()
            .map(|f| std::str::from_utf8(f).ok().map(str::trim))
            .collect();
        match fields.as_deref() {
            Some([id_number, status, since]) => rows.rows.push((
                line,
                RiskRow {
                    id_number: (*id_number).to_owned(),
                    status: (*status).to_owned(),
                    since: (*since).to_owned(),
                },
            )),
            _ => rows.malformed.push(line),
        }
        let read = rows.rows.len() + rows.malformed.len();
        if read % READ_PROGRESS == 0 {
            eprintln!("hcctl: {read} rows read so far");
        }
    }
    Ok(rows)
}

/// Line numbers of records. csv's own numbers and positions count from the
/// end of the previous record, before the `\n` of a CRLF and any blank
/// lines, so a record is placed from where it ends instead: the line of its
/// last byte, less the line ends inside its (quoted) fields. The reader
/// notes where lines end as it reads; records come in order, so the ends
/// before one are counted once and forgotten.
#[derive(Default)]
struct Lines {
    ends: Rc<RefCell<VecDeque<u64>>>,
    passed: usize,
}

impl Lines {
    /// The line (from 1) where `record` starts, given the offset just past
    /// it (past the `\r` or `\n` that ended it, if any).
    fn first_line(&mut self, record: &csv::ByteRecord, end: u64) -> usize {
        let last_byte = end.saturating_sub(1);
        let mut ends = self.ends.borrow_mut();
        while ends.front().is_some_and(|e| *e < last_byte) {
            ends.pop_front();
            self.passed += 1;
        }
        let inside = record
            .iter()
            .map(|f| f.iter().filter(|b| **b == b'\n').count())
            .sum::<usize>();
        self.passed + 1 - inside
    }
}

struct LineCounter<R> {
    inner: R,
    offset: u64,
    line_ends: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.line_ends.borrow_mut();
        ends.extend(
            buf[..n]
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| self.offset + i as u64),
        );
        self.offset += n as u64;
        Ok(n)
    }
}

/// The error code as the admin route writes it: `invalid-id-number`.
fn slug(code: &risk_import::RowError) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

/// A read error, without csv's rendering of the record it stopped at.
fn csv_reason(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Io(io) => io_reason(io),
        _ => match err.position() {
            Some(p) => format!("malformed CSV at line {}", p.line()),
            None => "malformed CSV".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &[u8]) -> Result<Rows, Failure> {
        let path = std::env::temp_dir().join(format!("hcctl-read-{}.csv", shared::crypto::random_id("")));
        std::fs::write(&path, text).unwrap();
        let rows = read(&path);
        std::fs::remove_file(&path).unwrap();
        rows
    }

    fn lines(rows: &Rows) -> Vec<usize> {
        rows.rows.iter().map(|(line, _)| *line).collect()
    }

    #[test]
    fn rows_are_numbered_by_line_with_the_header_as_line_one() {
        let rows = read_text(b"id_number,status,since\na,confirmed,2026-11-20\n\nb,suspected,2026-11-21\n").unwrap();
        assert_eq!(lines(&rows), [2, 4]);
        assert_eq!(rows.rows[1].1.status, "suspected");
    }

    #[test]
    fn a_bom_and_crlf_line_ends_are_accepted() {
        let rows =
            read_text(b"\xef\xbb\xbfid_number,status,since\r\na,confirmed,2026-11-20\r\nb,cleared,2026-11-21\r\n")
                .unwrap();
        assert_eq!(lines(&rows), [2, 3]);
        assert_eq!(rows.rows[0].1.since, "2026-11-20");
    }

    #[test]
    fn blank_crlf_lines_and_a_missing_last_line_end_keep_the_numbering() {
        let rows =
            read_text(b"id_number,status,since\r\n\r\na,confirmed,2026-11-20\r\n\r\n\r\nb,cleared,2026-11-21").unwrap();
        assert_eq!(lines(&rows), [3, 6]);
    }

    #[test]
    fn a_quoted_field_over_two_lines_keeps_the_numbering() {
        let rows =
            read_text(b"id_number,status,since\r\n\"a\r\nb\",confirmed,2026-11-20\r\nc,confirmed,2026-11-20\r\n")
                .unwrap();
        assert_eq!(lines(&rows), [2, 4]);
        let rows =
            read_text(b"id_number,status,since\n\"a\nb\",confirmed,2026-11-20\nc,confirmed,2026-11-20\n").unwrap();
        assert_eq!(lines(&rows), [2, 4]);
    }

    #[test]
    fn rows_with_other_than_three_fields_or_bad_utf8_are_malformed() {
        let rows = read_text(b"id_number,status,since\na,confirmed\nb,confirmed,2026-11-20,x\n\xff,confirmed,2026-11-20\nc,confirmed,2026-11-20\n").unwrap();
        assert_eq!(rows.malformed, [2, 3, 4]);
        assert_eq!(lines(&rows), [5]);
    }

    #[test]
    fn a_person_listed_twice_is_imported_once_from_the_last_row() {
        let now = time::macros::datetime!(2026-11-26 10:00 +8);
        let row = |id: &str, status: &str| RiskRow {
            id_number: id.into(),
            status: status.into(),
            since: "2026-11-20".into(),
        };
        let (valid, refused) = sort_rows(
            vec![
                (2, row("11010519491231002X", "confirmed")),
                (3, row("13010219800101001x", "confirmed")),
                (4, row("11010519491231002x", "suspected")),
                (5, row("11010519491231002X", "unknown")),
            ],
            now,
        );
        let kept: Vec<(usize, &str)> = valid.iter().map(|(line, r)| (*line, r.status.as_str())).collect();
        assert_eq!(kept, [(4, "suspected")]);
        assert_eq!(
            refused,
            [(3, "invalid-id-number".to_owned()), (5, "invalid-status".to_owned())]
        );
    }

    #[test]
    fn another_header_is_refused_without_echoing_it() {
        for text in [
            &b"id,status,since\n"[..],
            b"11010519491231002X,confirmed,2026-11-20\n",
            b"id_number,status\n",
            b"",
        ] {
            let err = read_text(text).unwrap_err().to_string();
            assert!(err.contains("`id_number,status,since`"), "{err}");
            assert!(!err.contains("11010519491231002X"));
        }
    }
}
