//! `hcctl rankings`: the localities of a day ranked by codes claimed and
//! used, as `GET /v1/admin/rankings` returns them.

use shared::domain::day::{iso_date, shanghai_day};
use shared::domain::ranking::{Ranked, Row};
use shared::store::Store;
use time::{Date, OffsetDateTime};

use crate::Failure;
use crate::cli::OutputFormat;

pub async fn show(store: &Store, date: Option<Date>, ranked: Ranked, output: OutputFormat) -> Result<(), Failure> {
    let day = iso_date::format(date.unwrap_or_else(|| shanghai_day(OffsetDateTime::now_utc())));
    let rows = store.rankings(ranked, &day).await?;
    let level = ranked.as_str();
    match output {
        OutputFormat::Json => println!("{}", serde_json::json!({ "date": day, "level": level, "rows": rows })),
        OutputFormat::Table => {
            println!("{day}, {level} level");
            print!("{}", table(&rows));
        }
        // The day and level on every line, so that files of several days can be joined.
        OutputFormat::Csv => {
            let mut header = vec!["date", "level"];
            header.extend(HEADINGS);
            crate::print_csv(
                &header,
                cells(&rows).into_iter().map(|row| {
                    let mut line = vec![day.clone(), level.to_owned()];
                    line.extend(row);
                    line
                }),
            )?;
        }
    }
    Ok(())
}

const HEADINGS: [&str; 7] = [
    "rank",
    "region",
    "name",
    "claimed",
    "claimed_total",
    "scans",
    "checkins",
];

/// The cells of each row, in the order of [`HEADINGS`].
fn cells(rows: &[Row]) -> Vec<[String; 7]> {
    rows.iter()
        .map(|r| {
            [
                r.rank.to_string(),
                r.region.clone(),
                r.name.clone(),
                r.claimed.to_string(),
                r.claimed_total.to_string(),
                r.scans.to_string(),
                r.checkins.to_string(),
            ]
        })
        .collect()
}

/// The rows aligned in columns: numbers to the right, names to the left,
/// a Chinese character taking two columns of the terminal.
fn table(rows: &[Row]) -> String {
    let cells = cells(rows);
    let mut widths = HEADINGS.map(width);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: [&str; 7]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let pad = " ".repeat(w - width(cell));
                if i == 2 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(HEADINGS);
    for row in &cells {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// Terminal columns of a text: two for East Asian wide characters.
pub(crate) fn width(text: &str) -> usize {
    text.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rank: u32, region: &str, name: &str, claimed: u64) -> Row {
        Row {
            region: region.into(),
            name: name.into(),
            claimed,
            claimed_total: claimed,
            scans: 0,
            checkins: 0,
            rank,
        }
    }

    #[test]
    fn columns_line_up_with_chinese_names() {
        let text = table(&[row(1, "130100", "石家庄市", 12), row(2, "130200", "唐山市", 3)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "rank  region  name      claimed  claimed_total  scans  checkins"
        );
        assert_eq!(
            lines[1],
            "   1  130100  石家庄市       12             12      0         0"
        );
        assert_eq!(
            lines[2],
            "   2  130200  唐山市          3              3      0         0"
        );
        let columns: Vec<usize> = lines.iter().map(|l| width(l)).collect();
        assert!(columns.iter().all(|c| *c == columns[0]), "{columns:?}");
    }
}
