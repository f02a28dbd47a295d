//! `hcctl` as an operator runs it: the real binary against the DynamoDB
//! emulator of `HC_TEST_DYNAMODB_ENDPOINT` (`make test` starts one), each
//! test on tables of its own prefix. Test data is written with the store
//! API of `shared`, the personal data is made up, and none of it is printed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use shared::crypto::{PiiKeys, random_id};
use shared::domain::day::{iso_date, shanghai_day};
use shared::domain::identity::{IdNumber, mask_name};
use shared::domain::status::Color;
use shared::store::accounts::{Account, BindResult, Identity, PersonState};
use shared::store::audit::AuditEntry;
use shared::store::log::{Entry, EntryKind};
use shared::store::venues::{Category, Venue};
use shared::store::{Store, Tables, sort_time};
use time::OffsetDateTime;

const HASH_KEY: [u8; 32] = [21; 32];
const ENC_KEY: [u8; 32] = [22; 32];
const OPERATOR: &str = "tester";

fn endpoint() -> String {
    std::env::var("HC_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "HC_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which starts the DynamoDB emulator"
        )
    })
}

fn pii() -> PiiKeys {
    PiiKeys::new(&HASH_KEY, &ENC_KEY, None)
}

/// What a run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "hcctl failed: {}", self.stderr);
        self
    }

    /// A failure: exit code 1 and one line on stderr, `hcctl: ...`.
    fn failed(self) -> Run {
        assert_eq!(self.code, 1, "hcctl should have failed; stdout: {}", self.stdout);
        assert!(self.stderr.starts_with("hcctl: "), "{}", self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "{}", self.stderr);
        self
    }

    /// A usage error: exit code 2 and one line on stderr, `hcctl: ...`.
    fn usage(self) -> Run {
        assert_eq!(
            self.code, 2,
            "hcctl should have refused the arguments; stderr: {}",
            self.stderr
        );
        assert!(self.stderr.starts_with("hcctl: "), "{}", self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "{}", self.stderr);
        self
    }

    /// An import that refused rows: exit code 1, progress on stderr and,
    /// last, the line that says how many rows were refused.
    fn refused(self, how_many: usize) -> Run {
        assert_eq!(self.code, 1, "hcctl should have failed; stdout: {}", self.stdout);
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with(&format!("hcctl: {how_many} of ")), "{}", self.stderr);
        assert!(last.contains("rows refused"), "{}", self.stderr);
        self
    }
}

/// hcctl on tables of its own, and a folder for its files.
struct Hcctl {
    prefix: String,
    dir: PathBuf,
}

impl Hcctl {
    fn new() -> Self {
        let prefix = format!("{}-", random_id("c"));
        let dir = std::env::temp_dir().join(format!("hcctl-test-{prefix}"));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let hcctl = Hcctl { prefix, dir };
        hcctl.run(&["tables", "create"]).ok();
        hcctl
    }

    /// The command with nothing of the environment but what it needs.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hcctl"));
        command
            .env_clear()
            .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint())
            .env("HC_PII_HASH_KEY", B64.encode(HASH_KEY))
            .env("HC_PII_ENC_KEY", B64.encode(ENC_KEY))
            .env("USER", OPERATOR)
            .args(["--prefix", &self.prefix])
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        output(self.command(args))
    }

    fn store(&self) -> Store {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .build();
        Store::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            Tables::with_prefix(&self.prefix),
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, content: &[u8]) -> String {
        let path = self.path(name);
        std::fs::write(&path, content).expect("a test file");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Hcctl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn output(mut command: Command) -> Run {
    let out = command.output().expect("hcctl runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 output"),
    }
}

/// A valid resident ID number from its first 17 digits.
fn id_number(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// A registered person: an account and its own subject, as real-name
/// authentication leaves them. Returns the subject id.
async fn person(store: &Store, name: &str, id: &str, phone: &str) -> String {
    let now = OffsetDateTime::now_utc();
    let account = random_id("u_");
    store
        .create_account(Account::new(account.clone(), "dev", now))
        .await
        .expect("the store");
    let id = IdNumber::parse(id, shanghai_day(now)).expect("a valid ID number");
    let subject_id = random_id("s_");
    let keys = pii();
    let seal = |value: &str, field: &str| keys.seal(value, &format!("{subject_id}/{field}")).expect("sealing");
    let identity = Identity {
        subject_id: subject_id.clone(),
        id_hash: keys.id_hash(id.as_str()),
        id_sealed: seal(id.as_str(), "id"),
        name_sealed: seal(name, "name"),
        phone_sealed: Some(seal(phone, "phone")),
        name_masked: mask_name(name),
        id_masked: id.masked(),
        owner: Some(account.clone()),
        guardians: BTreeMap::new(),
        created_at: now,
    };
    let bound = store
        .bind_new_subject(&account, &identity, &PersonState::default(), None)
        .await
        .expect("the store");
    assert_eq!(bound, BindResult::Bound);
    subject_id
}

async fn venue(store: &Store, name: &str) -> Venue {
    let venue = Venue {
        id: random_id("v_"),
        owner: random_id("u_"),
        name: name.to_owned(),
        address: "河北省石家庄市长安区建设北大街66号".to_owned(),
        region: "130102".to_owned(),
        category: Category::Medical,
        created_at: OffsetDateTime::now_utc(),
        revoked_at: None,
        shards: 4,
    };
    assert!(store.create_venue(&venue).await.expect("the store"));
    venue
}

/// Logs a check-in (at `venue`) or a scan (in `region`) on `day`.
async fn log(
    store: &Store,
    kind: EntryKind,
    subject: &str,
    venue: Option<&Venue>,
    region: &str,
    day: &str,
    at: OffsetDateTime,
) {
    let entry = Entry {
        id: random_id("e_"),
        kind,
        subject_id: subject.to_owned(),
        account: random_id("u_"),
        at: sort_time(at),
        day: day.to_owned(),
        region: Some(region.to_owned()),
        venue_id: venue.map(|v| v.id.clone()),
        color: Color::Green,
        name_masked: "张*".to_owned(),
        method: None,
    };
    let shards = venue.map(|v| v.shards);
    store
        .log_entry(
            &entry,
            shared::store::log::Slot::Exact,
            shards,
            at + time::Duration::days(28),
        )
        .await
        .expect("the store");
}

async fn audit_entries(store: &Store, since: OffsetDateTime) -> Vec<AuditEntry> {
    let mut days = vec![iso_date::format(shanghai_day(since))];
    let today = iso_date::format(shanghai_day(OffsetDateTime::now_utc()));
    if days[0] != today {
        days.push(today);
    }
    let mut entries = Vec::new();
    for day in days {
        entries.extend(store.audit_of_day(&day).await.expect("the store"));
    }
    entries
}

async fn risk_item_exists(store: &Store, id: &str) -> bool {
    let id = IdNumber::parse(id, shanghai_day(OffsetDateTime::now_utc())).expect("a valid ID number");
    let out = store
        .client()
        .get_item()
        .table_name(&store.tables.subjects)
        .key("pk", AttributeValue::S(format!("P#{}", pii().id_hash(id.as_str()))))
        .key("sk", AttributeValue::S("RISK".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("the store");
    out.item.is_some()
}

// --- tables and roles ---

#[test]
fn creating_the_tables_twice_is_harmless() {
    let hcctl = Hcctl::new();
    let again = hcctl.run(&["tables", "create"]).ok();
    assert_eq!(
        again.stdout.lines().filter(|l| l.starts_with("exists  ")).count(),
        shared::store::tables::ALL.len(),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains(&format!("exists  {}accounts", hcctl.prefix)));
}

#[test]
fn granting_a_role_to_a_missing_account_names_the_account() {
    let hcctl = Hcctl::new();
    let run = hcctl
        .run(&["roles", "grant", "--user", "u_nobody", "--role", "authority"])
        .failed();
    assert!(run.stderr.contains("no account `u_nobody`"), "{}", run.stderr);
}

#[tokio::test]
async fn an_inspector_is_granted_listed_and_revoked() {
    let hcctl = Hcctl::new();
    let account = random_id("u_");
    hcctl
        .store()
        .create_account(Account::new(account.clone(), "dev", OffsetDateTime::now_utc()))
        .await
        .unwrap();
    hcctl
        .run(&["roles", "grant", "--user", &account, "--role", "inspector"])
        .ok();
    let listed = hcctl
        .run(&["roles", "list", "--user", &account, "--output", "csv"])
        .ok();
    assert!(listed.stdout.contains("inspector,"), "{}", listed.stdout);
    hcctl
        .run(&["roles", "revoke", "--user", &account, "--role", "inspector"])
        .ok();
    let listed = hcctl.run(&["roles", "list", "--user", &account]).ok();
    assert!(!listed.stdout.contains("inspector"), "{}", listed.stdout);
}

#[test]
fn an_unknown_role_is_refused() {
    let hcctl = Hcctl::new();
    let run = hcctl
        .run(&["roles", "grant", "--user", "u_nobody", "--role", "mayor"])
        .usage();
    assert!(run.stderr.contains("invalid value 'mayor'"), "{}", run.stderr);
    assert!(
        run.stderr.contains("[possible values: authority, inspector]"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2_and_failures_of_the_work_exit_1() {
    let hcctl = Hcctl::new();
    for args in [
        &["roles", "grant", "--user", "u_nobody"][..],
        &["roles", "list"],
        &["rankings", "--level", "province"],
        &["rankings", "--output", "xml"],
        &["rankings", "--json", "--output", "csv"],
        &["no-such-command"],
        &["traces", "export", "--out", "x.csv"],
        &[
            "traces",
            "export",
            "--venue",
            "v_a",
            "--subject",
            "s_a",
            "--out",
            "x.csv",
        ],
        &[
            "traces",
            "export",
            "--venue",
            "v_a",
            "--from",
            "yesterday",
            "--out",
            "x.csv",
        ],
        &["risk-persons", "import"],
    ] {
        let run = hcctl.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        run.usage();
    }
    // Work failures: no such account, no such file.
    hcctl
        .run(&["roles", "grant", "--user", "u_nobody", "--role", "authority"])
        .failed();
    hcctl.run(&["risk-persons", "import", "/nonexistent/risk.csv"]).failed();
}

#[test]
fn help_and_version_exit_0() {
    let hcctl = Hcctl::new();
    assert!(hcctl.run(&["--help"]).ok().stdout.contains("Usage:"));
    assert!(
        hcctl
            .run(&["roles", "grant", "--help"])
            .ok()
            .stdout
            .contains("authority")
    );
    hcctl.run(&["--version"]).ok();
}

#[tokio::test]
async fn a_granted_role_is_listed_until_it_is_revoked() {
    let hcctl = Hcctl::new();
    let account = random_id("u_");
    hcctl
        .store()
        .create_account(Account::new(account.clone(), "dev", OffsetDateTime::now_utc()))
        .await
        .unwrap();
    hcctl
        .run(&["roles", "grant", "--user", &account, "--role", "authority"])
        .ok();
    assert!(
        hcctl
            .run(&["roles", "list", "--user", &account])
            .ok()
            .stdout
            .starts_with("authority  granted ")
    );
    let json: serde_json::Value = serde_json::from_str(
        &hcctl
            .run(&["roles", "list", "--user", &account, "--output", "json"])
            .ok()
            .stdout,
    )
    .expect("JSON");
    assert_eq!(json["user"], account.as_str());
    assert_eq!(json["roles"].as_array().unwrap().len(), 1);
    assert_eq!(json["roles"][0]["role"], "authority");
    assert!(json["roles"][0]["granted"].as_str().unwrap().starts_with("20"));
    let csv = hcctl
        .run(&["roles", "list", "--user", &account, "--output", "csv"])
        .ok()
        .stdout;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "role,granted");
    assert!(lines[1].starts_with("authority,20"), "{csv}");
    assert_eq!(lines.len(), 2);
    hcctl
        .run(&["roles", "revoke", "--user", &account, "--role", "authority"])
        .ok();
    assert!(
        hcctl
            .run(&["roles", "list", "--user", &account])
            .ok()
            .stdout
            .contains("has no roles")
    );
    assert_eq!(
        hcctl
            .run(&["roles", "list", "--user", &account, "--output", "csv"])
            .ok()
            .stdout,
        "role,granted\n"
    );
    let json = hcctl
        .run(&["roles", "list", "--user", &account, "--output", "json"])
        .ok()
        .stdout;
    assert!(json.contains("\"roles\":[]"), "{json}");
}

#[test]
fn an_unreachable_endpoint_fails_within_seconds() {
    let hcctl = Hcctl::new();
    let started = Instant::now();
    let mut command = hcctl.command(&["roles", "list", "--user", "u_nobody"]);
    command.env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9");
    let run = output(command).failed();
    assert!(run.stderr.contains("cannot reach DynamoDB"), "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn tables_of_another_prefix_are_missing_tables() {
    // Tables exist, under another prefix.
    let _tables = Hcctl::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hcctl"));
    command
        .env_clear()
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint())
        .args(["--prefix", "absent-", "rankings"]);
    let run = output(command).failed();
    assert!(run.stderr.contains("the tables do not exist"), "{}", run.stderr);
}

// --- risk-persons import ---

#[test]
fn importing_a_missing_file_fails() {
    let hcctl = Hcctl::new();
    let missing = hcctl.path("absent.csv");
    let run = hcctl
        .run(&["risk-persons", "import", &missing.to_string_lossy()])
        .failed();
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
}

#[tokio::test]
async fn a_file_with_another_header_is_refused_naming_the_expected_one() {
    let hcctl = Hcctl::new();
    let started = OffsetDateTime::now_utc();
    let file = hcctl.write(
        "header.csv",
        b"id,status,since\n11010519491231002X,confirmed,2026-11-20\n",
    );
    let run = hcctl.run(&["risk-persons", "import", &file]).failed();
    assert!(run.stderr.contains("`id_number,status,since`"), "{}", run.stderr);
    assert!(
        audit_entries(&hcctl.store(), started).await.is_empty(),
        "nothing was done, so nothing is audited"
    );
}

#[test]
fn an_import_without_the_personal_data_keys_names_them() {
    let hcctl = Hcctl::new();
    let file = hcctl.write("rows.csv", b"id_number,status,since\n");
    let mut command = hcctl.command(&["risk-persons", "import", &file]);
    command.env_remove("HC_PII_ENC_KEY");
    let run = output(command).failed();
    assert!(run.stderr.contains("HC_PII_ENC_KEY is not set"), "{}", run.stderr);
}

#[tokio::test]
async fn valid_rows_are_stored_and_invalid_ones_reported_by_line() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let started = OffsetDateTime::now_utc();
    let registered = id_number("13010219800101001");
    let unregistered = id_number("13010219800101002");
    let subject = person(&store, "张三丰", &registered, "13812345678").await;
    let today = iso_date::format(shanghai_day(started));
    let text = format!(
        "\u{feff}id_number,status,since\r\n{registered},confirmed,{today}\r\n130102198013010010,confirmed,{today}\r\n\r\n{unregistered},close-contact,{today}\r\n{unregistered},recovered,{today}\r\nonly,two\r\n"
    );
    let file = hcctl.write("rows.csv", text.as_bytes());
    let run = hcctl.run(&["risk-persons", "import", &file]).refused(3);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "line 3: invalid-id-number",
            "line 6: invalid-status",
            "line 7: malformed-row",
            "applied 1, unmatched 1, refused 3"
        ]
    );
    assert!(
        run.stderr
            .contains("hcctl: 3 of 5 rows refused; they changed nothing, the 2 valid ones were imported"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hcctl: 5 rows read\n"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hcctl: 2 of 2 valid rows stored, 1 applied to a registered person so far"),
        "{}",
        run.stderr
    );
    for shown in [&run.stdout, &run.stderr] {
        assert!(
            !shown.contains(&registered) && !shown.contains(&unregistered),
            "no ID number is printed"
        );
    }
    assert!(risk_item_exists(&store, &registered).await && risk_item_exists(&store, &unregistered).await);
    let profile = store.get_subject(&subject, true).await.unwrap().expect("the subject");
    assert!(
        profile.facts.risk.is_some(),
        "the registered person's profile carries the record"
    );
    let audit = audit_entries(&store, started).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].officer.as_str(), audit[0].action.as_str(), audit[0].records),
        ("hcctl:tester", "risk-persons", 5)
    );
}

#[tokio::test]
async fn ten_thousand_rows_import_in_one_run() {
    let hcctl = Hcctl::new();
    let since = iso_date::format(shanghai_day(OffsetDateTime::now_utc()));
    let mut text = String::from("id_number,status,since\n");
    let mut ids = Vec::new();
    for day in 1..=10 {
        for sequence in 0..1000 {
            let id = id_number(&format!("130102199001{day:02}{sequence:03}"));
            text.push_str(&format!("{id},close-contact,{since}\n"));
            ids.push(id);
        }
    }
    let file = hcctl.write("large.csv", text.as_bytes());
    let started = Instant::now();
    let run = hcctl.run(&["risk-persons", "import", &file]).ok();
    println!("10,000 rows imported in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(run.stdout.trim(), "applied 0, unmatched 10000, refused 0");
    assert!(run.stderr.contains("hcctl: 10000 rows read\n"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hcctl: 1000 of 10000 valid rows stored, 0 applied to a registered person so far"),
        "progress after each chunk: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hcctl: 10000 of 10000 valid rows stored"),
        "{}",
        run.stderr
    );
    let store = hcctl.store();
    assert!(risk_item_exists(&store, &ids[0]).await && risk_item_exists(&store, &ids[9999]).await);
}

#[tokio::test]
async fn the_refused_rows_report_as_json_and_csv() {
    let hcctl = Hcctl::new();
    let today = iso_date::format(shanghai_day(OffsetDateTime::now_utc()));
    let valid = id_number("13010219800101003");
    let text = format!(
        "id_number,status,since\n{valid},confirmed,{today}\n{valid},suspected,{today}\nnot-an-id,confirmed,{today}\n{valid},confirmed,someday\n"
    );
    let file = hcctl.write("rows.csv", text.as_bytes());
    let run = hcctl
        .run(&["risk-persons", "import", &file, "--output", "json"])
        .refused(2);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "applied": 0,
            "unmatched": 1,
            "refused": [
                { "line": 4, "code": "invalid-id-number" },
                { "line": 5, "code": "invalid-since" }
            ]
        })
    );
    let run = hcctl
        .run(&["risk-persons", "import", &file, "--output", "csv"])
        .refused(2);
    assert_eq!(run.stdout, "line,code\n4,invalid-id-number\n5,invalid-since\n");
    assert!(
        run.stderr.contains("hcctl: applied 0, unmatched 1, refused 2\n"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains(&valid) && !run.stderr.contains(&valid));
    // A file without refused rows succeeds, in any format.
    let clean = hcctl.write(
        "clean.csv",
        format!("id_number,status,since\n{valid},confirmed,{today}\n").as_bytes(),
    );
    let run = hcctl.run(&["risk-persons", "import", &clean, "--output", "csv"]).ok();
    assert_eq!(run.stdout, "line,code\n");
}

// --- rankings ---

fn rankings_json(hcctl: &Hcctl, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["rankings", "--json"];
    all.extend(args);
    serde_json::from_str(&hcctl.run(&all).ok().stdout).expect("JSON")
}

#[test]
fn rankings_of_an_empty_store_list_every_city_with_zeros() {
    let hcctl = Hcctl::new();
    let json = rankings_json(&hcctl, &["--date", "2026-11-26"]);
    assert_eq!(
        (json["date"].as_str(), json["level"].as_str()),
        (Some("2026-11-26"), Some("city"))
    );
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 11);
    for row in rows {
        for column in ["claimed", "claimed_total", "scans", "checkins"] {
            assert_eq!(row[column], 0, "{row}");
        }
        assert_eq!(row["rank"], 1);
    }
    let table = hcctl.run(&["rankings", "--date", "2026-11-26"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2 + 11);
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "rank",
            "region",
            "name",
            "claimed",
            "claimed_total",
            "scans",
            "checkins"
        ]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["1", "130100", "石家庄市", "0", "0", "0", "0"]
    );
}

#[test]
fn rankings_by_unit_list_the_notices_fourteen_units() {
    let hcctl = Hcctl::new();
    let json = rankings_json(&hcctl, &["--date", "2026-11-26", "--level", "unit"]);
    assert_eq!(json["level"], "unit");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 14);
    for (code, name) in [("130682", "定州市"), ("130181", "辛集市"), ("133100", "雄安新区")] {
        assert!(rows.iter().any(|r| r["region"] == code && r["name"] == name), "{code}");
    }
}

#[test]
fn rankings_print_as_json_csv_or_table() {
    let hcctl = Hcctl::new();
    let json = hcctl
        .run(&["rankings", "--date", "2026-11-26", "--output", "json"])
        .ok()
        .stdout;
    let alias = hcctl.run(&["rankings", "--date", "2026-11-26", "--json"]).ok().stdout;
    assert_eq!(json, alias, "--json is --output json");
    let csv = hcctl
        .run(&["rankings", "--date", "2026-11-26", "--output", "csv"])
        .ok()
        .stdout;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 11);
    assert_eq!(
        lines[0],
        "date,level,rank,region,name,claimed,claimed_total,scans,checkins"
    );
    assert_eq!(lines[1], "2026-11-26,city,1,130100,石家庄市,0,0,0,0");
    let table = hcctl
        .run(&["rankings", "--date", "2026-11-26", "--output", "table"])
        .ok()
        .stdout;
    assert_eq!(table, hcctl.run(&["rankings", "--date", "2026-11-26"]).ok().stdout);
    assert!(table.starts_with("2026-11-26, city level\n"), "{table}");
}

#[test]
fn county_rankings_list_the_190_counties() {
    let hcctl = Hcctl::new();
    let json = rankings_json(&hcctl, &["--level", "county"]);
    assert_eq!(json["rows"].as_array().unwrap().len(), 190);
    assert_eq!(json["level"], "county");
}

#[test]
fn a_malformed_date_is_refused() {
    let hcctl = Hcctl::new();
    for date in ["2026-02-30", "26-11-2026", "today"] {
        let run = hcctl.run(&["rankings", "--date", date]).usage();
        assert!(run.stderr.contains("YYYY-MM-DD"), "{}", run.stderr);
    }
}

// --- traces export ---

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("the export");
    text.lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_venue_trace_lists_everyone_who_entered_with_full_identity() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let started = OffsetDateTime::now_utc();
    let (first, second) = (id_number("13010219800101003"), id_number("13010219800101004"));
    let a = person(&store, "张三丰", &first, "13812345678").await;
    let b = person(&store, "欧阳娜娜", &second, "13912345678").await;
    let clinic = venue(&store, "长安区社区卫生服务中心").await;
    let day = iso_date::format(shanghai_day(started));
    log(
        &store,
        EntryKind::Checkin,
        &a,
        Some(&clinic),
        "130102",
        &day,
        started - time::Duration::hours(2),
    )
    .await;
    log(
        &store,
        EntryKind::Checkin,
        &b,
        Some(&clinic),
        "130102",
        &day,
        started - time::Duration::hours(1),
    )
    .await;
    log(
        &store,
        EntryKind::Checkin,
        &b,
        Some(&clinic),
        "130102",
        &day,
        started - time::Duration::days(20),
    )
    .await;
    let out = hcctl.path("venue.csv");
    let run = hcctl
        .run(&[
            "traces",
            "export",
            "--venue",
            &clinic.id,
            "--out",
            &out.to_string_lossy(),
        ])
        .ok();
    assert!(
        run.stdout.starts_with("wrote 2 entries"),
        "the default window is 14 days: {}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&first) && !run.stdout.contains("张三丰"),
        "nothing personal is printed"
    );
    let rows = csv_rows(&out);
    assert_eq!(
        rows[0],
        ["entered_at", "subject_id", "name", "id_number", "phone", "color"]
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][1], b, "newest first");
    assert!(
        rows[1][2] == "欧阳娜娜" && rows[1][3] == second && rows[1][4] == "13912345678",
        "the full identity"
    );
    assert!(rows[2][1] == a && rows[2][3] == first && rows[2][5] == "green");
    assert_eq!(mode(&out), 0o600);
    let audit = audit_entries(&store, started).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].target.as_str(),
            audit[0].officer.as_str()
        ),
        ("trace-venue", clinic.id.as_str(), "hcctl:tester")
    );
    assert_eq!(audit[0].records, 2);
}

#[tokio::test]
async fn a_subject_trace_lists_visits_and_scans() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let started = OffsetDateTime::now_utc();
    let id = id_number("13010219800101005");
    let subject = person(&store, "张三丰", &id, "13812345678").await;
    let clinic = venue(&store, "长安区社区卫生服务中心").await;
    let day = iso_date::format(shanghai_day(started));
    log(
        &store,
        EntryKind::Checkin,
        &subject,
        Some(&clinic),
        "130102",
        &day,
        started - time::Duration::hours(3),
    )
    .await;
    log(
        &store,
        EntryKind::Scan,
        &subject,
        None,
        "130104",
        &day,
        started - time::Duration::hours(1),
    )
    .await;
    let out = hcctl.path("subject.csv");
    let from = "2026-01-01T00:00:00+08:00";
    let window = (started - time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    hcctl
        .run(&[
            "traces",
            "export",
            "--subject",
            &subject,
            "--from",
            &window,
            "--out",
            &out.to_string_lossy(),
        ])
        .ok();
    let rows = csv_rows(&out);
    assert_eq!(
        rows[0][..8],
        [
            "time",
            "kind",
            "venue_id",
            "venue_name",
            "venue_address",
            "region",
            "color",
            "scanner"
        ]
    );
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[1][1].as_str(), rows[1][5].as_str()), ("scan", "130104"));
    assert_eq!(
        (rows[2][1].as_str(), rows[2][2].as_str(), rows[2][3].as_str()),
        ("checkin", clinic.id.as_str(), "长安区社区卫生服务中心")
    );
    assert!(rows[2][4].starts_with("河北省石家庄市"));
    assert!(rows[2][10] == id, "the subject's identity is on every row");
    assert_eq!(rows[0][12], "method");
    assert_eq!(
        (rows[1][12].as_str(), rows[2][12].as_str()),
        ("code", "app"),
        "a scan of the code shown, a check-in in the app"
    );
    let audit = audit_entries(&store, started).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].target.as_str()),
        ("trace-subject", subject.as_str())
    );
    let too_long = hcctl.run(&[
        "traces",
        "export",
        "--subject",
        &subject,
        "--from",
        from,
        "--out",
        &hcctl.path("long.csv").to_string_lossy(),
    ]);
    assert!(
        too_long.usage().stderr.contains("60 days"),
        "a window is at most 60 days"
    );
}

#[tokio::test]
async fn an_export_does_not_overwrite_a_file_without_force() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let clinic = venue(&store, "长安区社区卫生服务中心").await;
    let out = hcctl.write("existing.csv", b"keep me\n");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = hcctl
        .run(&["traces", "export", "--venue", &clinic.id, "--out", &out])
        .failed();
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me\n");
    hcctl
        .run(&["traces", "export", "--venue", &clinic.id, "--out", &out, "--force"])
        .ok();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "entered_at,subject_id,name,id_number,phone,color\n"
    );
    assert_eq!(mode(Path::new(&out)), 0o600, "a replaced file is private too");
}

#[test]
fn an_unknown_venue_or_subject_is_named() {
    let hcctl = Hcctl::new();
    let out = hcctl.path("none.csv");
    let out = out.to_string_lossy();
    let run = hcctl
        .run(&["traces", "export", "--venue", "v_unknown", "--out", &out])
        .failed();
    assert!(run.stderr.contains("no venue `v_unknown`"), "{}", run.stderr);
    let run = hcctl
        .run(&["traces", "export", "--subject", "s_unknown", "--out", &out])
        .failed();
    assert!(run.stderr.contains("no subject `s_unknown`"), "{}", run.stderr);
    assert!(!Path::new(out.as_ref()).exists());
}

#[test]
fn a_reversed_or_too_long_window_is_a_usage_error() {
    let hcctl = Hcctl::new();
    let out = hcctl.path("window.csv");
    let out = out.to_string_lossy();
    for (from, to) in [
        ("2026-11-26T00:00:00+08:00", "2026-11-25T00:00:00+08:00"),
        ("2026-01-01T00:00:00+08:00", "2026-11-25T00:00:00+08:00"),
    ] {
        let mut command = hcctl.command(&[
            "traces", "export", "--venue", "v_any", "--from", from, "--to", to, "--out", &out,
        ]);
        // Checked before the keys are: a usage error however the environment is.
        command.env_remove("HC_PII_ENC_KEY");
        let run = output(command).usage();
        assert!(run.stderr.contains("--from must precede --to"), "{}", run.stderr);
    }
    assert!(!Path::new(out.as_ref()).exists());
}

// --- aggregate ---

const DAY: &str = "2026-11-26";

/// Check-ins and scans of one day: Shijiazhuang's 长安区 and 桥西区 and Tangshan's 路北区.
async fn day_of_entries(store: &Store) {
    let at = OffsetDateTime::now_utc();
    for (kind, region) in [
        (EntryKind::Checkin, "130102"),
        (EntryKind::Checkin, "130102"),
        (EntryKind::Checkin, "130102"),
        (EntryKind::Scan, "130104"),
        (EntryKind::Scan, "130104"),
        (EntryKind::Scan, "130203"),
    ] {
        log(store, kind, &random_id("s_"), None, region, DAY, at).await;
    }
}

fn counts(json: &serde_json::Value, region: &str) -> (u64, u64) {
    let row = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == region)
        .expect("the region is ranked");
    (row["checkins"].as_u64().unwrap(), row["scans"].as_u64().unwrap())
}

#[tokio::test]
async fn each_run_of_aggregate_counts_only_what_the_last_left_unread() {
    let hcctl = Hcctl::new();
    day_of_entries(&hcctl.store()).await;
    let first = hcctl.run(&["aggregate"]).ok();
    assert_eq!(
        first.stdout.trim(),
        "read 6 stream records: 6 counted now, 0 counted before, 0 with nothing to count"
    );
    let second = hcctl.run(&["aggregate"]).ok();
    assert_eq!(
        second.stdout.trim(),
        "read 0 stream records: 0 counted now, 0 counted before, 0 with nothing to count",
        "the first run saved where it stopped"
    );
    // New entries between runs are counted, and the old ones not again.
    let at = OffsetDateTime::now_utc();
    log(
        &hcctl.store(),
        EntryKind::Checkin,
        &random_id("s_"),
        None,
        "130102",
        DAY,
        at,
    )
    .await;
    log(
        &hcctl.store(),
        EntryKind::Scan,
        &random_id("s_"),
        None,
        "130203",
        DAY,
        at,
    )
    .await;
    let third = hcctl.run(&["aggregate"]).ok();
    assert_eq!(
        third.stdout.trim(),
        "read 2 stream records: 2 counted now, 0 counted before, 0 with nothing to count"
    );
    let cities = rankings_json(&hcctl, &["--date", DAY]);
    assert_eq!(counts(&cities, "130100"), (4, 2));
    assert_eq!(counts(&cities, "130200"), (0, 2));
    assert_eq!(cities["rows"][0]["region"], "130100", "the busiest city ranks first");
    let counties = rankings_json(&hcctl, &["--date", DAY, "--level", "county"]);
    assert_eq!(
        (
            counts(&counties, "130102"),
            counts(&counties, "130104"),
            counts(&counties, "130203")
        ),
        ((4, 0), (0, 2), (0, 2))
    );
}

#[test]
fn aggregating_is_refused_outside_a_local_emulator() {
    let hcctl = Hcctl::new();
    let mut command = hcctl.command(&["aggregate"]);
    command
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .env("AWS_REGION", "us-east-1");
    let run = output(command).failed();
    assert!(run.stderr.contains("local emulator"), "{}", run.stderr);
}

#[tokio::test]
async fn a_cursor_drains_only_what_is_new() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let streams = hcctl::streams::emulator_streams_client(&endpoint());
    let mut cursor = hcctl::streams::Cursor::default();
    day_of_entries(&store).await;
    assert_eq!(hcctl::streams::drain(&store, &streams, &mut cursor).await.unwrap(), 6);
    assert_eq!(hcctl::streams::drain(&store, &streams, &mut cursor).await.unwrap(), 0);
    day_of_entries(&store).await;
    assert_eq!(hcctl::streams::drain(&store, &streams, &mut cursor).await.unwrap(), 6);
    assert_eq!(cursor.totals().counted, 12);
    assert_eq!(counts(&rankings_json(&hcctl, &["--date", DAY]), "130100"), (6, 4));
}

#[tokio::test]
async fn a_cursor_that_starts_at_the_end_counts_only_later_records() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let streams = hcctl::streams::emulator_streams_client(&endpoint());
    let mut cursor = hcctl::streams::Cursor::new(hcctl::streams::Start::Latest);
    day_of_entries(&store).await;
    assert_eq!(hcctl::streams::drain(&store, &streams, &mut cursor).await.unwrap(), 0);
    day_of_entries(&store).await;
    assert_eq!(hcctl::streams::drain(&store, &streams, &mut cursor).await.unwrap(), 6);
    assert_eq!(counts(&rankings_json(&hcctl, &["--date", DAY]), "130100"), (3, 2));
}

#[tokio::test]
async fn following_counts_entries_written_after_it_started() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    day_of_entries(&store).await;
    let mut child = hcctl
        .command(&["aggregate", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hcctl runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("UTF-8");
    assert!(first.starts_with("following the streams of"), "{first}");
    day_of_entries(&store).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = (0, 0);
    while Instant::now() < deadline && seen != (3, 2) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        seen = counts(&rankings_json(&hcctl, &["--date", DAY]), "130100");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = counts(&rankings_json(&hcctl, &["--date", DAY]), "130100");
    child.kill().expect("the follower stops");
    child.wait().unwrap();
    assert_eq!(seen, (3, 2), "the follower counted the new entries");
    assert_eq!(settled, (3, 2), "and neither the ones before it started nor any twice");
}

// --- trust list and partners ---

/// A JWK Set with one public Ed25519 key (RFC 8037's example key).
const JWKS: &str = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "bj-1", "alg": "EdDSA", "use": "sig"}]}"#;

/// `trust add --prefix` is the issuer's QR prefix; the table prefix comes before the command.
#[test]
fn an_issuer_is_trusted_listed_and_removed() {
    let hcctl = Hcctl::new();
    let jwks = hcctl.write("bj.jwks.json", JWKS.as_bytes());
    let added = hcctl
        .run(&[
            "trust",
            "add",
            "--issuer",
            "https://hc.beijing.test",
            "--prefix",
            "BJHC:1:",
            "--jwks",
            &jwks,
        ])
        .ok();
    assert!(
        added
            .stdout
            .contains("trusted https://hc.beijing.test (BJHC:1:), keys bj-1"),
        "{}",
        added.stdout
    );
    let listed = hcctl.run(&["trust", "list", "--output", "json"]).ok();
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(listed["issuers"][0]["issuer"], "https://hc.beijing.test");
    assert_eq!(listed["issuers"][0]["prefix"], "BJHC:1:");
    assert_eq!(listed["issuers"][0]["jwks"]["keys"][0]["kid"], "bj-1");
    let csv = hcctl.run(&["trust", "list", "--output", "csv"]).ok();
    assert_eq!(csv.stdout.lines().next(), Some("issuer,prefix,added_at,kids"));

    // Another issuer may not take an overlapping prefix; the same one may replace its own.
    let clash = hcctl
        .run(&[
            "trust",
            "add",
            "--issuer",
            "https://hc.other.test",
            "--prefix",
            "BJHC:",
            "--jwks",
            &jwks,
        ])
        .failed();
    assert!(
        clash.stderr.contains("overlaps that of https://hc.beijing.test"),
        "{}",
        clash.stderr
    );
    hcctl
        .run(&[
            "trust",
            "add",
            "--issuer",
            "https://hc.beijing.test",
            "--prefix",
            "BJHC:2:",
            "--jwks",
            &jwks,
        ])
        .ok();

    hcctl
        .run(&["trust", "remove", "--issuer", "https://hc.beijing.test"])
        .ok();
    assert_eq!(hcctl.run(&["trust", "list"]).ok().stdout.trim(), "no trusted issuers");
    let again = hcctl
        .run(&["trust", "remove", "--issuer", "https://hc.beijing.test"])
        .failed();
    assert!(again.stderr.contains("not a trusted issuer"), "{}", again.stderr);
}

#[test]
fn private_keys_our_prefix_and_unreadable_sets_are_refused() {
    let hcctl = Hcctl::new();
    let private = hcctl.write(
        "private.json",
        br#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", "kid": "k"}]}"#,
    );
    let good = hcctl.write("good.json", JWKS.as_bytes());
    let not_json = hcctl.write("not.json", b"keys");
    let missing = hcctl.path("missing.json").to_string_lossy().into_owned();
    for (prefix, file, says) in [
        ("BJHC:1:", &private, "private part"),
        ("HBHC:1:", &good, "overlaps ours"),
        ("bjhc:1:", &good, "a prefix is"),
        ("BJHC:1:", &not_json, "not JSON"),
        ("BJHC:1:", &missing, "cannot read"),
    ] {
        let run = hcctl
            .run(&[
                "trust",
                "add",
                "--issuer",
                "https://hc.beijing.test",
                "--prefix",
                prefix,
                "--jwks",
                file,
            ])
            .failed();
        assert!(run.stderr.contains(says), "{prefix} {file}: {}", run.stderr);
    }
    assert_eq!(hcctl.run(&["trust", "list"]).ok().stdout.trim(), "no trusted issuers");
}

#[tokio::test]
async fn a_partners_key_is_printed_once_stored_as_a_hash_and_revoked() {
    let hcctl = Hcctl::new();
    let added = hcctl.run(&["partners", "add", "--name", "beijing"]).ok();
    let key = added.stdout.trim().to_owned();
    assert!(key.starts_with("hcpk_") && key.len() == 57, "one line, the key");
    assert!(!added.stderr.contains(&key), "the key goes to stdout only");
    let stored = hcctl.store().partners().await.expect("the store");
    assert_eq!(stored["beijing"].key_hash, shared::service::partners::key_hash(&key));
    for output in ["table", "json", "csv"] {
        let listed = hcctl.run(&["partners", "list", "--output", output]).ok();
        assert!(listed.stdout.contains("beijing"), "{}", listed.stdout);
        assert!(!listed.stdout.contains(&key[5..]), "never the key");
        assert!(!listed.stdout.contains(&stored["beijing"].key_hash), "nor its hash");
    }
    let twice = hcctl.run(&["partners", "add", "--name", "beijing"]).failed();
    assert!(twice.stderr.contains("revoke it first"), "{}", twice.stderr);
    hcctl.run(&["partners", "revoke", "--name", "beijing"]).ok();
    let listed = hcctl.run(&["partners", "list"]).ok();
    assert!(listed.stdout.contains("revoked"), "{}", listed.stdout);
    hcctl.run(&["partners", "revoke", "--name", "beijing"]).failed();
    hcctl.run(&["partners", "revoke", "--name", "nobody"]).failed();
    // A revoked partner can be given a new key.
    let renewed = hcctl.run(&["partners", "add", "--name", "beijing"]).ok();
    assert_ne!(renewed.stdout.trim(), key);
    let bad = hcctl.run(&["partners", "add", "--name", "Bei Jing"]).failed();
    assert!(bad.stderr.contains("a partner name is"), "{}", bad.stderr);
}

// --- finding a person and venues ---

/// hcctl with `input` on its standard input.
fn run_with_stdin(hcctl: &Hcctl, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = hcctl
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hcctl runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().expect("hcctl ends");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 output"),
    }
}

#[tokio::test]
async fn a_person_is_found_by_the_number_on_stdin_and_the_lookup_is_audited() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let since = OffsetDateTime::now_utc();
    let number = id_number("13010219900101031");
    let subject = person(&store, "李四", &number, "13912345678").await;
    let args = ["subjects", "find", "--id-number-stdin", "--output", "json"];

    let run = run_with_stdin(&hcctl, &args, &format!("{number}\n")).ok();
    let found: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        found,
        serde_json::json!({"subject": {"subject_id": subject, "name": "李四", "id_number": number,
            "phone": "13912345678", "color": "green", "registered": true}})
    );
    let csv = run_with_stdin(
        &hcctl,
        &["subjects", "find", "--id-number-stdin", "--output", "csv"],
        &number,
    )
    .ok();
    assert_eq!(
        csv.stdout,
        format!("subject_id,name,id_number,phone,color,registered\n{subject},李四,{number},13912345678,green,true\n")
    );
    let table = run_with_stdin(&hcctl, &["subjects", "find", "--id-number-stdin"], &number).ok();
    assert!(
        table.stdout.contains(&format!("subject_id  {subject}")),
        "{}",
        table.stdout
    );

    let nobody = id_number("13010219900101032");
    let missed = run_with_stdin(&hcctl, &args, &nobody).failed();
    assert!(missed.stderr.contains("no one has registered"), "{}", missed.stderr);
    assert!(!missed.stderr.contains(&nobody));

    let finds: Vec<_> = audit_entries(&store, since)
        .await
        .into_iter()
        .filter(|e| e.action == "find-subject")
        .collect();
    assert_eq!(finds.len(), 4);
    assert!(finds.iter().all(|e| e.officer == format!("hcctl:{OPERATOR}")));
    assert_eq!(finds.iter().filter(|e| e.target == subject).count(), 3);
    assert_eq!(finds.iter().filter(|e| e.target == "no subject").count(), 1);
    assert!(!format!("{finds:?}").contains(&number[..17]), "no number in the audit");

    // A bad number, no number, or the flag missing: usage errors that echo nothing.
    let bad = run_with_stdin(&hcctl, &args, "130102199001010319\n").usage();
    assert!(
        bad.stderr.contains("check character") && !bad.stderr.contains("1301021990"),
        "{}",
        bad.stderr
    );
    run_with_stdin(&hcctl, &args, "\n").usage();
    run_with_stdin(&hcctl, &["subjects", "find"], &number).usage();
    assert_eq!(
        audit_entries(&store, since).await.len(),
        4,
        "refused runs audit nothing"
    );
}

#[tokio::test]
async fn a_countys_venues_are_searched_by_part_of_the_name_as_table_json_or_csv() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    for name in ["长安区第一超市", "长安区人民医院", "长安区第二超市"] {
        venue(&store, name).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let run = hcctl
        .run(&[
            "venues", "search", "--region", "130102", "--q", "超市", "--output", "json",
        ])
        .ok();
    let found: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = found["venues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["长安区第二超市", "长安区第一超市"], "newest first");
    assert_eq!(found["venues"][0]["revoked"], false);

    let csv = hcctl
        .run(&["venues", "search", "--region", "130102", "--output", "csv"])
        .ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines[0], "id,name,address,region,category,created_at,revoked");
    assert_eq!(lines.len(), 4);
    let table = hcctl
        .run(&["venues", "search", "--region", "130102", "--q", "医院"])
        .ok();
    assert_eq!(table.stdout.lines().count(), 2, "{}", table.stdout);
    assert!(table.stdout.contains("长安区人民医院"));
    assert!(
        hcctl
            .run(&["venues", "search", "--region", "130104"])
            .ok()
            .stdout
            .lines()
            .count()
            == 1,
        "another county: the header only"
    );
    hcctl.run(&["venues", "search", "--region", "130100"]).usage();
    hcctl
        .run(&["venues", "search", "--region", "130102", "--q", "'; DROP"])
        .usage();
}

#[tokio::test]
async fn an_exposure_created_worked_and_listed_from_the_terminal() {
    let hcctl = Hcctl::new();
    let store = hcctl.store();
    let place = venue(&store, "长安区社区卫生服务中心").await;
    let visitor = person(&store, "张三丰", &id_number("13010219900101001"), "13812345678").await;
    let now = OffsetDateTime::now_utc();
    let day = iso_date::format(shanghai_day(now));
    log(
        &store,
        EntryKind::Checkin,
        &visitor,
        Some(&place),
        "130102",
        &day,
        now - time::Duration::minutes(30),
    )
    .await;
    let from = sort_time(now - time::Duration::hours(1));
    let to = sort_time(now);

    let created = hcctl
        .run(&[
            "exposures",
            "create",
            "--venue",
            &place.id,
            "--from",
            &from,
            "--to",
            &to,
            "--level",
            "yellow",
            "--reason",
            "确诊病例到访",
            "--output",
            "json",
        ])
        .ok();
    let id = serde_json::from_str::<serde_json::Value>(&created.stdout).unwrap()["exposure"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(created.stderr.contains("recorded"), "{}", created.stderr);
    hcctl.run(&["exposures", "work"]).ok();
    let status = hcctl.run(&["exposures", "status", &id]).ok();
    assert!(
        status.stdout.contains("done") && status.stdout.contains("contacts     1"),
        "{}",
        status.stdout
    );

    let out = hcctl.path("contacts.csv");
    let listed = hcctl
        .run(&["exposures", "contacts", &id, "--out", out.to_str().unwrap()])
        .ok();
    assert!(
        !listed.stderr.contains("张三丰") && !listed.stdout.contains("张三丰"),
        "nothing personal printed"
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.starts_with("subject_id,name,id_number,phone,venue_id,entered_at\n"),
        "{csv}"
    );
    assert!(csv.contains(&format!("{visitor},张三丰,")), "{csv}");
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    let audits: Vec<String> = audit_entries(&store, now - time::Duration::minutes(1))
        .await
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert!(
        audits.contains(&"exposure".to_owned()) && audits.contains(&"exposure-contacts".to_owned()),
        "{audits:?}"
    );

    hcctl.run(&["exposures", "status", "x_bad"]).usage();
    hcctl
        .run(&[
            "exposures",
            "create",
            "--venue",
            &place.id,
            "--from",
            &to,
            "--to",
            &from,
            "--level",
            "red",
            "--reason",
            "x",
        ])
        .usage();
    hcctl
        .run(&["exposures", "status", "x_aaaaaaaaaaaaaaaaaaaaaaaaaa"])
        .failed();
}
