//! The one definition of the tables. `hcctl tables create` builds the local
//! tables from it, and a test checks that `template.yaml` declares the same
//! tables, keys, indexes, streams and TTL attributes.

/// How a global secondary index projects attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    KeysOnly,
    Include(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub projection: Projection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamView {
    NewImage,
    NewAndOldImages,
}

impl StreamView {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamView::NewImage => "NEW_IMAGE",
            StreamView::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }
}

/// A table. Every key attribute is a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// The name after the deployment's prefix: `hc-` + `accounts`.
    pub suffix: &'static str,
    /// The resource name in `template.yaml`.
    pub logical_id: &'static str,
    pub pk: &'static str,
    pub sk: Option<&'static str>,
    pub indexes: &'static [Index],
    pub ttl: Option<&'static str>,
    pub stream: Option<StreamView>,
}

/// WeChat accounts: roles, the bound subject, dependents.
pub const ACCOUNTS: TableDef = TableDef {
    suffix: "accounts",
    logical_id: "AccountsTable",
    pk: "pk",
    sk: None,
    indexes: &[],
    ttl: None,
    stream: None,
};

/// Persons: subject profiles with their status facts, declarations, the
/// ID-hash index and risk records. Its stream feeds the count of codes claimed.
pub const SUBJECTS: TableDef = TableDef {
    suffix: "subjects",
    logical_id: "SubjectsTable",
    pk: "pk",
    sk: Some("sk"),
    indexes: &[],
    ttl: Some("expires"),
    stream: Some(StreamView::NewAndOldImages),
};

/// Venue codes and the one-venue-per-applicant markers; the index lists a
/// county's venues, newest first, for the authority's search (markers have
/// no `region`, so they stay out of it).
pub const VENUES: TableDef = TableDef {
    suffix: "venues",
    logical_id: "VenuesTable",
    pk: "pk",
    sk: None,
    indexes: &[Index {
        name: "by-region",
        pk: "region",
        sk: "listed",
        projection: Projection::Include(&["id", "name", "address", "category", "created_at", "revoked_at"]),
    }],
    ttl: None,
    stream: None,
};

/// The scan and check-in log: by subject in the table, by venue in the index.
/// Its stream feeds the rankings.
pub const LOG: TableDef = TableDef {
    suffix: "log",
    logical_id: "LogTable",
    pk: "pk",
    sk: Some("sk"),
    indexes: &[Index {
        name: "by-venue",
        pk: "gpk",
        sk: "gsk",
        projection: Projection::Include(&["at", "color", "name_masked", "subject_id"]),
    }],
    ttl: Some("expires"),
    stream: Some(StreamView::NewImage),
};

/// Ranking counters, and the aggregator's markers of counted stream batches
/// (which expire).
pub const STATS: TableDef = TableDef {
    suffix: "stats",
    logical_id: "StatsTable",
    pk: "pk",
    sk: Some("sk"),
    indexes: &[],
    ttl: Some("expires"),
    stream: None,
};

/// Append-only audit of the authority's reads of personal data.
pub const AUDIT: TableDef = TableDef {
    suffix: "audit",
    logical_id: "AuditTable",
    pk: "pk",
    sk: Some("sk"),
    indexes: &[],
    ttl: None,
    stream: None,
};

/// Per-caller counters of scans and check-ins a minute, which expire.
pub const LIMITS: TableDef = TableDef {
    suffix: "limits",
    logical_id: "LimitsTable",
    pk: "pk",
    sk: None,
    indexes: &[],
    ttl: Some("expires"),
    stream: None,
};

/// Province-wide settings such as the risk-area list.
pub const SETTINGS: TableDef = TableDef {
    suffix: "settings",
    logical_id: "SettingsTable",
    pk: "pk",
    sk: None,
    indexes: &[],
    ttl: None,
    stream: None,
};

/// Appeals (申诉) and the one-open-appeal-per-subject markers (`store/appeals.rs`). Its
/// stream starts the sending of a decided appeal's notice.
pub const APPEALS: TableDef = TableDef {
    suffix: "appeals",
    logical_id: "AppealsTable",
    pk: "pk",
    sk: Some("sk"),
    indexes: &[
        Index {
            name: "by-subject",
            pk: "spk",
            sk: "ssk",
            projection: Projection::Include(&[
                "appeal_id",
                "subject_id",
                "by",
                "status",
                "reason",
                "created_at",
                "resolved_at",
                "note",
                "officer",
                "color",
            ]),
        },
        Index {
            name: "open",
            pk: "queue",
            sk: "qsk",
            projection: Projection::Include(&["appeal_id", "subject_id", "by", "status", "reason", "created_at"]),
        },
        // Decided appeals whose notice has not gone out yet: the notice sender's work list.
        Index {
            name: "notices-due",
            pk: "notice_due",
            sk: "resolved_at",
            projection: Projection::KeysOnly,
        },
    ],
    ttl: None,
    // Starts the notice sender when an appeal is decided.
    stream: Some(StreamView::NewImage),
};

/// Exposures, their contacts and progress. Its stream starts the exposure worker.
pub const EXPOSURES: TableDef = TableDef {
    suffix: "exposures",
    logical_id: "ExposuresTable",
    pk: "pk",
    sk: Some("sk"),
    indexes: &[],
    ttl: None,
    stream: Some(StreamView::NewImage),
};

pub const ALL: [&TableDef; 10] = [
    &ACCOUNTS, &SUBJECTS, &VENUES, &LOG, &STATS, &AUDIT, &LIMITS, &SETTINGS, &APPEALS, &EXPOSURES,
];

/// The deployed names of the tables, from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub prefix: String,
    pub accounts: String,
    pub subjects: String,
    pub venues: String,
    pub log: String,
    pub stats: String,
    pub audit: String,
    pub limits: String,
    pub settings: String,
    pub appeals: String,
    pub exposures: String,
}

/// The prefix of the local stack and of `hcctl` when nothing else is set.
pub const DEFAULT_PREFIX: &str = "hc-";

impl Tables {
    pub fn with_prefix(prefix: &str) -> Self {
        let name = |t: &TableDef| format!("{prefix}{}", t.suffix);
        Self {
            prefix: prefix.to_owned(),
            accounts: name(&ACCOUNTS),
            subjects: name(&SUBJECTS),
            venues: name(&VENUES),
            log: name(&LOG),
            stats: name(&STATS),
            audit: name(&AUDIT),
            limits: name(&LIMITS),
            settings: name(&SETTINGS),
            appeals: name(&APPEALS),
            exposures: name(&EXPOSURES),
        }
    }

    /// From `HC_TABLE_PREFIX`, `hc-` by default.
    pub fn from_env() -> Self {
        Self::with_prefix(&crate::config::optional("HC_TABLE_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.to_owned()))
    }

    pub fn name_of(&self, def: &TableDef) -> String {
        format!("{}{}", self.prefix, def.suffix)
    }
}
