//! `hcctl subjects find` and `hcctl venues search`: where a trace starts,
//! as `GET /v1/admin/subjects` and `GET /v1/admin/venues` find it
//! (`shared::service::find`). The ID number is read from standard input,
//! so that it stays out of the shell's history and the process list.

use std::io::BufRead;

use shared::crypto::PiiKeys;
use shared::domain::day::{rfc3339, shanghai_day};
use shared::domain::identity::IdNumber;
use shared::domain::rules::RuleSet;
use shared::service::find;
use shared::service::trace::{Reader, TraceError};
use shared::store::Store;
use shared::store::venues::{Listing, Search};
use time::OffsetDateTime;

use crate::Failure;
use crate::cli::OutputFormat;
use crate::rankings::width;

const SUBJECT_HEADER: [&str; 6] = ["subject_id", "name", "id_number", "phone", "color", "registered"];
const VENUE_HEADER: [&str; 7] = ["id", "name", "address", "region", "category", "created_at", "revoked"];

/// Venues read per page, and index entries evaluated per page, as the route.
const PAGE: usize = 100;
const BUDGET: usize = 4000;

/// The first line of `input`, trimmed: the ID number.
fn read_number(input: impl BufRead) -> Result<String, Failure> {
    let line = input
        .lines()
        .next()
        .transpose()
        .map_err(|err| Failure::usage(format!("cannot read the ID number from standard input: {err}")))?
        .unwrap_or_default();
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err(Failure::usage(
            "give the ID number on standard input, for example `hcctl subjects find --id-number-stdin < number.txt`",
        ));
    }
    Ok(line)
}

pub async fn subject(store: &Store, output: OutputFormat) -> Result<(), Failure> {
    let now = OffsetDateTime::now_utc();
    let raw = read_number(std::io::stdin().lock())?;
    // The error says what is wrong with the number, never the number.
    let id = IdNumber::parse(&raw, shanghai_day(now))
        .map_err(|err| Failure::usage(format!("the ID number on standard input is not valid: {err}")))?;
    let pii = PiiKeys::from_env().map_err(crate::failure::pii_keys)?;
    let officer = crate::officer();
    let reader = Reader { officer: &officer, now };
    let found = find::subject(store, &pii, RuleSet::embedded(), &reader, &id)
        .await
        .map_err(|err| match err {
            TraceError::Store(err) => err.into(),
            other => Failure::new(other.to_string()),
        })?;
    let found = found.ok_or_else(|| Failure::new("no one has registered this ID number (the lookup is audited)"))?;
    let view = found.json();
    let cells = SUBJECT_HEADER.map(|field| match &view[field] {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    });
    match output {
        OutputFormat::Json => println!("{}", serde_json::json!({ "subject": view })),
        OutputFormat::Csv => crate::print_csv(&SUBJECT_HEADER, [cells.to_vec()])?,
        OutputFormat::Table => {
            let label = SUBJECT_HEADER.iter().map(|h| h.len()).max().unwrap_or(0);
            for (heading, cell) in SUBJECT_HEADER.iter().zip(&cells) {
                println!("{heading:<label$}  {cell}");
            }
        }
    }
    Ok(())
}

pub async fn venues(store: &Store, region: &str, part: Option<&str>, output: OutputFormat) -> Result<(), Failure> {
    if !find::is_county(region) {
        return Err(Failure::usage("--region is the code of a Hebei county, such as 130102"));
    }
    let part = part
        .map(|q| {
            find::name_part(q)
                .map_err(|_| Failure::usage("--q is 1 to 50 letters, digits, spaces and common punctuation"))
        })
        .transpose()?;
    let mut listed: Vec<Listing> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let search = Search {
            region,
            name_part: part.as_deref(),
            after: after.as_deref(),
            limit: PAGE,
            budget: BUDGET,
        };
        let page = find::venues(store, &search).await?;
        listed.extend(page.venues);
        match page.next {
            Some(next) => {
                eprintln!("hcctl: {} venues found so far", listed.len());
                after = Some(next);
            }
            None => break,
        }
    }
    let rows: Vec<[String; 7]> = listed.iter().map(cells).collect();
    match output {
        OutputFormat::Json => {
            let venues: Vec<_> = listed.iter().map(find::listing_json).collect();
            println!("{}", serde_json::json!({ "venues": venues, "next": null }));
        }
        OutputFormat::Csv => crate::print_csv(&VENUE_HEADER, rows.iter().map(|r| r.to_vec()))?,
        OutputFormat::Table => print!("{}", table(&rows)),
    }
    Ok(())
}

fn cells(v: &Listing) -> [String; 7] {
    [
        v.id.clone(),
        v.name.clone(),
        v.address.clone(),
        v.region.clone(),
        serde_json::to_value(v.category)
            .ok()
            .and_then(|c| c.as_str().map(str::to_owned))
            .unwrap_or_default(),
        rfc3339(v.created_at),
        v.revoked_at.is_some().to_string(),
    ]
}

/// The venues in columns, a Chinese character taking two.
fn table(rows: &[[String; 7]]) -> String {
    let mut widths = VENUE_HEADER.map(width);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: [&str; 7]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - width(cell))))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(VENUE_HEADER);
    for row in rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_is_the_first_line_trimmed() {
        assert_eq!(
            read_number(&b" 11010519491231002X \r\nrest\n"[..]).unwrap(),
            "11010519491231002X"
        );
        for empty in [&b""[..], b"\n", b"   \n"] {
            assert_eq!(read_number(empty).unwrap_err().exit_code(), 2);
        }
    }
}
