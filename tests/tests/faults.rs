//! Faults: the DynamoDB emulator is stopped in the middle of a run of
//! writes and started again (its tables saved and reloaded), or frozen.
//! Requests during the outage get 503 `unavailable` with `Retry-After`,
//! never a 500; no write is left half done; every acknowledged write is
//! there after the restart; a frozen store fails fast instead of hanging.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use integration_tests::*;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::store::{Store, Tables};

/// An emulator process of this test's own, so it can be stopped and frozen.
struct Emulator {
    port: u16,
    state: PathBuf,
    child: Option<Child>,
}

impl Emulator {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let state = std::env::temp_dir().join(format!("emulator-{}.state", shared::crypto::random_id("")));
        let mut emulator = Self {
            port,
            state,
            child: None,
        };
        emulator.restart();
        emulator
    }

    fn restart(&mut self) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = std::env::var("HC_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join(".venv/bin/python"));
        let child = Command::new(python)
            .arg(root.join("infra/dynamodb_emulator.py"))
            .args(["--port", &self.port.to_string(), "--state"])
            .arg(&self.state)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the emulator starts (make test creates .venv)");
        self.child = Some(child);
        let deadline = Instant::now() + StdDuration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the emulator listens");
            std::thread::sleep(StdDuration::from_millis(50));
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    /// Stops it as an operator would: SIGTERM, which saves the tables.
    fn stop(&mut self) {
        self.signal("-TERM");
        self.child.take().unwrap().wait().unwrap();
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.state);
    }
}

/// A store with the production timeouts and retries (shared::store).
async fn store_on(emulator: &Emulator) -> Store {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(emulator.url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .timeout_config(shared::store::timeouts())
        .retry_config(shared::store::retries())
        .build();
    let store = Store::new(aws_sdk_dynamodb::Client::from_conf(config), Tables::with_prefix("f-"));
    store.create_tables().await.unwrap();
    store
}

struct Apps {
    login: login::App,
    declaration: declaration::App,
    venue: venue::App,
    scan: scan::App,
}

fn assert_unavailable(what: &str, response: Response<Body>) {
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("2".to_owned()),
        "{what}"
    );
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("unavailable")),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn writes_during_an_outage_get_503_and_every_acknowledged_write_survives_a_restart() {
    let mut emulator = Emulator::start();
    let store = store_on(&emulator).await;
    let clock = Clock::fixed(NOW);
    let apps = Apps {
        login: long_login_app(&store, &clock),
        declaration: declaration_app(&store, &clock),
        venue: venue_app(&store, &clock),
        scan: scan_app(&store, &clock),
    };
    let mut people = Vec::new();
    for n in 0..6 {
        people.push(verified(&apps.login, &format!("p{n}"), n).await);
    }
    let (_, venue) = parts(
        venue::handle(
            &apps.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&people[0])),
        )
        .await,
    );
    let venue_code = venue["qr"].as_str().unwrap().to_owned();

    // A run of writes of every kind; the store goes away after the 12th and
    // comes back before the 25th.
    let mut acknowledged: Vec<(String, usize, Value)> = Vec::new();
    let mut refused = 0;
    for step in 0..36usize {
        if step == 12 {
            emulator.stop();
        }
        if step == 24 {
            emulator.restart();
        }
        let who = step % people.len();
        let token = &people[who];
        let (kind, response) = match step % 4 {
            0 => (
                "declaration",
                declaration::handle(
                    &apps.declaration,
                    request("POST", "/v1/declarations", Some(normal_declaration()), Some(token)),
                )
                .await,
            ),
            1 => {
                let mut req = request(
                    "POST",
                    "/v1/checkins",
                    Some(json!({"venue_code": venue_code})),
                    Some(token),
                );
                req.headers_mut()
                    .insert("idempotency-key", format!("step-{step}").parse().unwrap());
                ("checkin", scan::handle(&apps.scan, req).await)
            }
            2 => (
                "venue",
                venue::handle(
                    &apps.venue,
                    request("POST", "/v1/venues", Some(venue_body()), Some(token)),
                )
                .await,
            ),
            _ => {
                let body = json!({"name": "孙小明", "id_number": person_id(100 + step as u32), "relation": "child"});
                (
                    "dependent",
                    login::handle(&apps.login, request("POST", "/v1/dependents", Some(body), Some(token))).await,
                )
            }
        };
        let status = response.status().as_u16();
        assert!(status < 500 || status == 503, "{kind} at step {step}: {status}");
        if (12..24).contains(&step) {
            assert_unavailable(&format!("{kind} during the outage"), response);
            refused += 1;
            continue;
        }
        let (status, body) = parts(response);
        assert!(status < 500, "{kind} at step {step} after the restart: {status} {body}");
        if status < 300 {
            acknowledged.push((kind.to_owned(), who, body));
        }
    }
    assert_eq!(refused, 12);
    assert!(acknowledged.len() > 12, "{} writes acknowledged", acknowledged.len());

    // Every acknowledged write is there.
    for (kind, who, body) in &acknowledged {
        let subject = sessions().verify(&people[*who], NOW).unwrap().subject_id.unwrap();
        match kind.as_str() {
            "declaration" => {
                let listed = store
                    .declarations_since(&subject, NOW - time::Duration::days(1))
                    .await
                    .unwrap();
                assert!(
                    listed
                        .iter()
                        .any(|d| d.id == body["declaration"]["id"].as_str().unwrap()),
                    "declaration kept"
                );
            }
            "checkin" => {
                let entries = store
                    .subject_entries(&subject, NOW - time::Duration::hours(1), NOW + time::Duration::hours(1))
                    .await
                    .unwrap();
                assert!(!entries.is_empty(), "check-in kept");
            }
            "venue" => assert!(
                store
                    .get_venue(body["venue"]["id"].as_str().unwrap())
                    .await
                    .unwrap()
                    .is_some(),
                "venue kept"
            ),
            _ => {
                let account = store
                    .get_account(&sessions().verify(&people[*who], NOW).unwrap().account_id)
                    .await
                    .unwrap()
                    .unwrap();
                assert!(
                    account
                        .dependents
                        .contains_key(body["dependent"]["subject_id"].as_str().unwrap()),
                    "dependent kept"
                );
            }
        }
    }
    check_nothing_half_done(&store).await;
}

/// No declaration counted but not stored (or stored but not counted), no
/// venue without its marker, no dependent subject without its guardian's link.
async fn check_nothing_half_done(store: &Store) {
    let items = table_items(store, &store.tables.subjects).await;
    for profile in items.iter().filter(|i| i["sk"] == "PROFILE") {
        let pk = profile["pk"].as_str().unwrap();
        let day = profile["decl_day"].as_str();
        let stored = items
            .iter()
            .filter(|i| {
                i["pk"] == pk && i["sk"].as_str().unwrap().starts_with("D#") && Some(i["day"].as_str().unwrap()) == day
            })
            .count();
        assert_eq!(
            profile["decl_count"].as_u64().unwrap_or(0),
            stored as u64,
            "{pk}: declarations counted = stored"
        );
        if profile.get("owner").is_none() {
            let guardians = profile["guardians"].as_object().unwrap();
            assert!(!guardians.is_empty(), "{pk}: a dependent has its guardian");
            for guardian in guardians.keys() {
                let account = store.get_account(guardian).await.unwrap().unwrap();
                assert!(
                    account.dependents.contains_key(profile["subject_id"].as_str().unwrap()),
                    "{pk}: linked from its guardian"
                );
            }
        }
    }
    for person in items.iter().filter(|i| i["sk"] == "PERSON") {
        let profile = format!("S#{}", person["subject_id"].as_str().unwrap());
        assert!(
            items
                .iter()
                .any(|i| i["pk"] == profile.as_str() && i["sk"] == "PROFILE"),
            "the ID index points at a profile"
        );
    }
    let venues = table_items(store, &store.tables.venues).await;
    for venue in venues
        .iter()
        .filter(|v| v["pk"].as_str().unwrap().starts_with("V#") && v.get("revoked_at").is_none())
    {
        let marker = format!("O#{}", venue["owner"].as_str().unwrap());
        assert!(
            venues
                .iter()
                .any(|m| m["pk"] == marker.as_str() && m["venue_id"] == venue["id"]),
            "a venue has its applicant's marker"
        );
    }
}

#[tokio::test]
async fn a_frozen_store_fails_fast_with_503_and_recovers() {
    let emulator = Emulator::start();
    let store = store_on(&emulator).await;
    let clock = Clock::fixed(NOW);
    let login = long_login_app(&store, &clock);
    let declaration = declaration_app(&store, &clock);
    let token = verified(&login, "alice", 1).await;

    emulator.signal("-STOP");
    let started = Instant::now();
    let response = declaration::handle(
        &declaration,
        request("POST", "/v1/declarations", Some(normal_declaration()), Some(&token)),
    )
    .await;
    println!(
        "a declaration against a frozen store answered after {:?}",
        started.elapsed()
    );
    assert_unavailable("a declaration against a frozen store", response);
    emulator.signal("-CONT");

    let (status, _) = parts(
        declaration::handle(
            &declaration,
            request("POST", "/v1/declarations", Some(normal_declaration()), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 201);
    let subject = sessions().verify(&token, NOW).unwrap().subject_id.unwrap();
    let profile = store.get_subject(&subject, true).await.unwrap().unwrap();
    let stored = store
        .declarations_since(&subject, NOW - time::Duration::days(1))
        .await
        .unwrap();
    // The frozen attempt may have reached the store before it froze; either way count and items agree.
    assert_eq!(profile.decl_count as usize, stored.len());
}
