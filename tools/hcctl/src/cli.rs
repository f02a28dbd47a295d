//! The command line: every subcommand and flag, parsed with clap. Values
//! that can be checked without the store (days, times, levels) are checked
//! here, so that a typo fails before anything is read or written.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use shared::domain::day::iso_date;
use shared::domain::ranking::Ranked;
use shared::domain::role::Role;
use time::{Date, OffsetDateTime};

#[derive(Parser)]
#[command(name = "hcctl", version, about = "Operate the Hebei health-code backend")]
pub struct Cli {
    /// Prefix of the table names, given before the command (`hcctl --prefix <p> <command>`):
    /// not a global flag, since `trust add --prefix` is the QR prefix of an issuer's codes.
    #[arg(long, env = "HC_TABLE_PREFIX", default_value = shared::store::tables::DEFAULT_PREFIX)]
    pub prefix: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Manage the tables.
    Tables {
        #[command(subcommand)]
        action: TablesAction,
    },
    /// Grant, revoke or list roles.
    Roles {
        #[command(subcommand)]
        action: RolesAction,
    },
    /// The health authority's list of risk persons (needs HC_PII_HASH_KEY and HC_PII_ENC_KEY).
    RiskPersons {
        #[command(subcommand)]
        action: RiskPersonsAction,
    },
    /// Localities ranked by health codes claimed and used on a day.
    Rankings {
        /// The Asia/Shanghai day, YYYY-MM-DD [default: today in Shanghai]
        #[arg(long, value_parser = parse_day)]
        date: Option<Date>,
        /// Cities, counties, or the notice's fourteen units (the cities, 定州市, 辛集市, 雄安新区).
        #[arg(long, value_enum, default_value_t = LevelArg::City)]
        level: LevelArg,
        /// How to print the ranking; json is the body of `GET /v1/admin/rankings`.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
        /// The same as --output json.
        #[arg(long, conflicts_with = "output")]
        json: bool,
    },
    /// Find a person by ID number, with full identity (needs HC_PII_HASH_KEY and HC_PII_ENC_KEY).
    Subjects {
        #[command(subcommand)]
        action: SubjectsAction,
    },
    /// Venue codes: a county's venues, by a part of the name.
    Venues {
        #[command(subcommand)]
        action: VenuesAction,
    },
    /// Contact tracing with full identities (needs HC_PII_HASH_KEY and HC_PII_ENC_KEY).
    Traces {
        #[command(subcommand)]
        action: TracesAction,
    },
    /// Exposures: mark a venue or a case's visits, follow the work, list the contacts
    /// (needs HC_PII_HASH_KEY and HC_PII_ENC_KEY).
    Exposures {
        #[command(subcommand)]
        action: ExposuresAction,
    },
    /// Issuers of other provinces whose codes the scanners honour.
    Trust {
        #[command(subcommand)]
        action: TrustAction,
    },
    /// Partner systems that verify our codes (POST /v1/verify).
    Partners {
        #[command(subcommand)]
        action: PartnersAction,
    },
    /// Count the rankings from the tables' DynamoDB Streams: the local stand-in for the aggregator Lambda.
    Aggregate {
        /// Keep polling every second, until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// With --follow, count the streams' whole history first rather than only new records
        /// (without --follow the history is always read).
        #[arg(long)]
        from_start: bool,
    },
}

#[derive(Subcommand)]
pub enum ExposuresAction {
    /// Record an exposure of a venue (--venue) or of a case (--id-number or --subject).
    #[command(group(ArgGroup::new("target").required(true).args(["venue", "id_number", "subject"])))]
    Create {
        #[arg(long)]
        venue: Option<String>,
        #[arg(long)]
        id_number: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        /// Start of the window, RFC 3339.
        #[arg(long)]
        from: String,
        /// End of the window, RFC 3339.
        #[arg(long)]
        to: String,
        /// The colour the contacts turn.
        #[arg(long, value_enum)]
        level: ExposureLevel,
        #[arg(long)]
        reason: String,
        /// For a case: minutes before and after each of the case's entries [default: 60].
        #[arg(long)]
        window_minutes: Option<u32>,
        /// Wait until the worker is done, with its progress on stderr.
        #[arg(long)]
        wait: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Show an exposure and its progress.
    Status {
        id: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Write an exposure's contacts, with identities, to a CSV file (mode 0600).
    Contacts {
        id: String,
        #[arg(long)]
        out: PathBuf,
        /// Overwrite the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Run the exposure worker on every open exposure and send the due notices of decided appeals: the local stand-in for the exposure function.
    Work {
        /// Keep polling every second, until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExposureLevel {
    Yellow,
    Red,
}

impl From<ExposureLevel> for shared::domain::status::Color {
    fn from(level: ExposureLevel) -> Self {
        match level {
            ExposureLevel::Yellow => Self::Yellow,
            ExposureLevel::Red => Self::Red,
        }
    }
}

#[derive(Subcommand)]
pub enum TablesAction {
    /// Create the tables on a local emulator (in AWS, `template.yaml` creates them).
    Create,
}

#[derive(Subcommand)]
pub enum RolesAction {
    /// Grant a role to a user (an account id from `GET /v1/me`).
    Grant {
        #[arg(long)]
        user: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Revoke a role.
    Revoke {
        #[arg(long)]
        user: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List a user's roles.
    List {
        #[arg(long)]
        user: String,
        /// How to print the roles.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Subcommand)]
pub enum TrustAction {
    /// Trust an issuer, or replace its prefix and keys (after a key rotation).
    Add {
        /// The `iss` of its codes, such as https://hc.beijing.example
        #[arg(long)]
        issuer: String,
        /// The QR prefix of its codes, such as BJHC:1:
        #[arg(long)]
        prefix: String,
        /// Its JWK Set (public Ed25519 or P-256 keys, each with a `kid`), as a file.
        #[arg(long)]
        jwks: PathBuf,
    },
    /// List the trusted issuers.
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Stop trusting an issuer: its codes fail within HC_TRUST_TTL_SECONDS.
    Remove {
        #[arg(long)]
        issuer: String,
    },
}

#[derive(Subcommand)]
pub enum PartnersAction {
    /// Add a partner and print its new API key, once (only its hash is stored).
    Add {
        /// 2 to 40 of a-z, 0-9 and '-', starting with a letter.
        #[arg(long)]
        name: String,
    },
    /// Revoke a partner's key: refused within HC_TRUST_TTL_SECONDS.
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// List the partners (never their keys).
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Subcommand)]
pub enum RiskPersonsAction {
    /// Import a CSV file with the header `id_number,status,since`.
    Import {
        /// UTF-8, with or without BOM, CRLF or LF line ends.
        file: PathBuf,
        /// How to print the refused rows and the counts.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Subcommand)]
pub enum SubjectsAction {
    /// The person holding an ID number: full identity, live colour, whether
    /// they registered themselves. Audited, found or not.
    Find {
        /// Read the ID number from standard input (its first line), so that it
        /// stays out of the shell history and the process list.
        #[arg(long, required = true)]
        id_number_stdin: bool,
        /// How to print the person; json is the body of `GET /v1/admin/subjects`.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Subcommand)]
pub enum VenuesAction {
    /// The venues of a county, newest first, whose name contains --q (every page).
    Search {
        /// The county's division code, such as 130102.
        #[arg(long)]
        region: String,
        /// A part of the venue's name.
        #[arg(long)]
        q: Option<String>,
        /// How to print the venues; json is the body of `GET /v1/admin/venues`, all pages in one.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Subcommand)]
pub enum TracesAction {
    /// Write the trace of a venue or a subject to a CSV file (mode 0600).
    Export(ExportArgs),
}

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["venue", "subject"])))]
pub struct ExportArgs {
    /// Everyone who entered this venue.
    #[arg(long)]
    pub venue: Option<String>,
    /// Every venue this subject entered and every scan of their code.
    #[arg(long)]
    pub subject: Option<String>,
    /// Start of the window, RFC 3339 [default: 14 days before --to]
    #[arg(long, value_parser = parse_time)]
    pub from: Option<OffsetDateTime>,
    /// End of the window, RFC 3339 [default: now]
    #[arg(long, value_parser = parse_time)]
    pub to: Option<OffsetDateTime>,
    /// The CSV file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// How a command prints its records on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON document.
    Json,
    /// A header line, then one line per record.
    Csv,
}

/// The roles of `shared::domain::role::Role`, as clap values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// The health authority: risk data, verification, traces, rankings.
    Authority,
    /// A checkpoint officer: scans by ID number for people without a phone.
    Inspector,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Authority => Role::Authority,
            RoleArg::Inspector => Role::Inspector,
        }
    }
}

impl From<Role> for RoleArg {
    /// Exhaustive, so that a role added to `Role` fails to compile here
    /// until it is offered on the command line too.
    fn from(role: Role) -> RoleArg {
        match role {
            Role::Authority => RoleArg::Authority,
            Role::Inspector => RoleArg::Inspector,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LevelArg {
    City,
    County,
    Unit,
}

impl From<LevelArg> for Ranked {
    fn from(level: LevelArg) -> Ranked {
        match level {
            LevelArg::City => Ranked::City,
            LevelArg::County => Ranked::County,
            LevelArg::Unit => Ranked::Unit,
        }
    }
}

fn parse_day(text: &str) -> Result<Date, String> {
    iso_date::parse(text).ok_or_else(|| "a day is YYYY-MM-DD, such as 2026-11-26".to_owned())
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    shared::store::parse_time(text).ok_or_else(|| "a time is RFC 3339, such as 2026-11-26T08:00:00+08:00".to_owned())
}

/// A clap error as one line: its message without the usage that follows.
pub fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty())
        .collect();
    let message = message.join(" ");
    format!(
        "{} (see `hcctl --help`)",
        message.strip_prefix("error: ").unwrap_or(&message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_value_is_the_roles_own_name() {
        for arg in RoleArg::value_variants() {
            let role = Role::from(*arg);
            let name = arg.to_possible_value().expect("shown");
            assert_eq!(name.get_name(), role.as_str());
            assert_eq!(RoleArg::from(role), *arg);
        }
    }
}
