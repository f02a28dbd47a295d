//! Faults inside requests. Every write route runs through a fault proxy
//! (tests/src/fault_proxy.rs) between the functions and the emulator, and
//! each DynamoDB call the request makes is cut in turn: dropped before it
//! reaches the store, cut while the store applies it, its answer lost after
//! the store applied it (once, and on every one of the SDK's attempts),
//! throttled, or cancelled by a transaction conflict.
//!
//! For each: the answer is the success it would have been or 503 with
//! `Retry-After`; an acknowledged write is in the table, found by its id; an
//! unacknowledged one is wholly there or wholly absent; and the client's
//! retry (with the same `Idempotency-Key` where the route takes one)
//! converges to exactly one. The emulator is also stopped and restarted in
//! the middle of a run of writes, and frozen, which must fail fast.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use integration_tests::fault_proxy::{Fault, FaultProxy, Seen};
use integration_tests::*;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::crypto::{keyed_id, random_id};
use shared::store::{Store, Tables};

// ---------------------------------------------------------------- the rig

/// Every function on a store whose calls pass through a fault proxy.
struct Rig {
    proxy: FaultProxy,
    w: World,
    people: std::sync::atomic::AtomicU32,
}

/// Three attempts as in production, with a short first backoff so that a
/// test of hundreds of faults runs in seconds. The timeouts are the
/// production ones where a test measures them (a frozen store), and longer
/// elsewhere: the tests share one emulator, which answers one call at a
/// time, and a busy machine must not turn a slow answer into a fault.
fn client_to(url: &str) -> aws_sdk_dynamodb::Client {
    client_with(url, patient_timeouts())
}

fn patient_timeouts() -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
    aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .connect_timeout(StdDuration::from_secs(5))
        .operation_attempt_timeout(StdDuration::from_secs(10))
        .operation_timeout(StdDuration::from_secs(30))
        .build()
}

fn client_with(url: &str, timeouts: aws_sdk_dynamodb::config::timeout::TimeoutConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .timeout_config(timeouts)
        .retry_config(shared::store::retries().with_initial_backoff(StdDuration::from_millis(5)))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

impl Rig {
    async fn start() -> Rig {
        Self::start_with(patient_timeouts()).await
    }

    async fn start_with(timeouts: aws_sdk_dynamodb::config::timeout::TimeoutConfig) -> Rig {
        let proxy = FaultProxy::start(&endpoint()).await;
        let store = Store::new(
            client_with(&proxy.url(), timeouts),
            Tables::with_prefix(&format!("{}-", random_id("f"))),
        );
        store.create_tables().await.expect("tables on the emulator");
        Rig {
            proxy,
            w: world_on(store),
            people: 0.into(),
        }
    }

    fn next(&self) -> u32 {
        self.people.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// A new verified citizen who has declared today: their token.
    async fn citizen(&self) -> String {
        let n = self.next();
        declared(&self.w, &format!("c{n}"), n).await
    }

    /// The DynamoDB calls a request makes when nothing goes wrong.
    async fn calls(&self, send: impl Future<Output = Response<Body>>) -> Vec<Seen> {
        self.proxy.disarm();
        let (status, body) = parts(send.await);
        assert!(status < 300, "the request works without faults: {status} {body}");
        self.proxy.seen()
    }

    /// Sends with a fault armed at call `at`: the answer is a success
    /// (`Some` of its body) or 503 with `Retry-After` (`None`).
    async fn faulted(
        &self,
        what: &str,
        (at, fault, times): (usize, Fault, usize),
        send: impl Future<Output = Response<Body>>,
    ) -> Option<Value> {
        self.proxy.arm(at, fault, times);
        let response = send.await;
        self.proxy.disarm();
        let case = format!("{what}, {fault:?} x{times} at call {at}");
        let retry_after = response.headers().get("retry-after").is_some();
        let (status, body) = parts(response);
        match status {
            200..=299 => Some(body),
            503 => {
                assert!(retry_after, "{case}: 503 with Retry-After");
                assert_eq!(body["code"], "unavailable", "{case}");
                None
            }
            _ => panic!("{case}: {status} {body}"),
        }
    }
}

/// The faults for each call: lost before the store, during, after (once,
/// and on every attempt), throttled on every attempt; and a conflict for a
/// transaction, which the store retries.
fn cases(calls: &[Seen]) -> Vec<(usize, Fault, usize)> {
    let mut cases = Vec::new();
    for (at, call) in calls.iter().enumerate() {
        cases.push((at, Fault::Drop, 3));
        cases.push((at, Fault::CutDuring, 1));
        cases.push((at, Fault::CutAfter, 1));
        cases.push((at, Fault::CutAfter, 3));
        cases.push((at, Fault::Throttled, 3));
        if call.operation == "TransactWriteItems" {
            cases.push((at, Fault::TransactionConflict, 2));
        }
    }
    cases
}

fn subject_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().subject_id.unwrap()
}

fn account_of(token: &str) -> String {
    sessions().verify(token, NOW).unwrap().account_id
}

fn with_key(mut req: Request, key: &str) -> Request {
    req.headers_mut().insert("idempotency-key", key.parse().unwrap());
    req
}

fn declare(token: &str, key: &str) -> Request {
    with_key(
        request("POST", "/v1/declarations", Some(normal_declaration()), Some(token)),
        key,
    )
}

async fn declaration_ids(store: &Store, subject: &str) -> Vec<String> {
    let listed = store
        .declarations_since(subject, NOW - time::Duration::days(1))
        .await
        .unwrap();
    listed.into_iter().map(|d| d.id).collect()
}

async fn entry_ids(store: &Store, subject: &str) -> Vec<String> {
    let entries = store
        .subject_entries(
            subject,
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            None,
            100,
        )
        .await
        .unwrap();
    entries.entries.into_iter().map(|e| e.id).collect()
}

// ------------------------------------------------------- the write routes

#[tokio::test]
async fn a_declaration_cut_anywhere_is_filed_once() {
    let rig = &Rig::start().await;
    let probe = rig.citizen().await;
    let calls = rig
        .calls(declaration::handle(&rig.w.declaration, declare(&probe, "probe")))
        .await;
    for case in cases(&calls) {
        let token = rig.citizen().await;
        let subject = subject_of(&token);
        let before = declaration_ids(&rig.w.store, &subject).await;
        let send = || declaration::handle(&rig.w.declaration, declare(&token, "k1"));
        let first = rig.faulted("declaration", case, send()).await;
        let id = keyed_id("d_", "declaration", &account_of(&token), "k1");
        let stored = declaration_ids(&rig.w.store, &subject).await;
        if let Some(body) = &first {
            assert_eq!(body["declaration"]["id"], id.as_str(), "{case:?}: the id the key names");
            assert!(stored.contains(&id), "{case:?}: an acknowledged declaration is stored");
        }
        let (status, retry) = parts(send().await);
        assert_eq!(status, 201, "{case:?}: the retry {retry}");
        assert_eq!(retry["declaration"]["id"], id.as_str());
        let after = declaration_ids(&rig.w.store, &subject).await;
        assert_eq!(after.len(), before.len() + 1, "{case:?}: filed exactly once");
    }
    check_nothing_half_done(&rig.w.store).await;
}

#[tokio::test]
async fn a_checkin_cut_anywhere_is_logged_once() {
    let rig = &Rig::start().await;
    let holder = rig.citizen().await;
    let (_, venue) = parts(
        venue::handle(
            &rig.w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&holder)),
        )
        .await,
    );
    let code = venue["qr"].as_str().unwrap().to_owned();
    let checkin = |token: &str, key: &str| {
        with_key(
            request("POST", "/v1/checkins", Some(json!({"venue_code": code})), Some(token)),
            key,
        )
    };
    let probe = rig.citizen().await;
    let calls = rig.calls(scan::handle(&rig.w.scan, checkin(&probe, "probe"))).await;
    for case in cases(&calls) {
        let token = rig.citizen().await;
        let subject = subject_of(&token);
        let send = || scan::handle(&rig.w.scan, checkin(&token, "k1"));
        let first = rig.faulted("check-in", case, send()).await;
        let id = keyed_id("e_", "checkin", &account_of(&token), "k1");
        let stored = entry_ids(&rig.w.store, &subject).await;
        if first.is_some() {
            assert_eq!(
                stored,
                std::slice::from_ref(&id),
                "{case:?}: an acknowledged check-in is logged"
            );
        } else {
            assert!(stored.is_empty() || stored == [id.clone()], "{case:?}: all or nothing");
        }
        let (status, retry) = parts(send().await);
        assert_eq!(status, 201, "{case:?}: the retry {retry}");
        assert_eq!(entry_ids(&rig.w.store, &subject).await, [id], "{case:?}: logged once");
    }
}

#[tokio::test]
async fn a_checkpoint_scan_cut_anywhere_logs_at_most_once_per_answer() {
    let rig = &Rig::start().await;
    let guard = rig.citizen().await;
    let scan_of = |code: &str| request("POST", "/v1/scans", Some(json!({"code": code})), Some(&guard));
    let code_of = |token: String| async move {
        let (_, body) = parts(code::handle(&rig.w.code, request("GET", "/v1/code", None, Some(&token))).await);
        body["qr"].as_str().unwrap().to_owned()
    };
    let probe = code_of(rig.citizen().await).await;
    let calls = rig.calls(scan::handle(&rig.w.scan, scan_of(&probe))).await;
    for case in cases(&calls) {
        let token = rig.citizen().await;
        let subject = subject_of(&token);
        let qr = code_of(token).await;
        let first = rig.faulted("scan", case, scan::handle(&rig.w.scan, scan_of(&qr))).await;
        let stored = entry_ids(&rig.w.store, &subject).await;
        // A scan carries no key: the SDK's own retry of a lost answer finds
        // its first write (the same entry id), never a second entry.
        if first.is_some() {
            assert_eq!(stored.len(), 1, "{case:?}: an acknowledged scan is logged once");
        } else {
            assert!(stored.len() <= 1, "{case:?}: all or nothing");
        }
    }
}

#[tokio::test]
async fn a_paper_code_issue_cut_anywhere_issues_one_version() {
    let rig = &Rig::start().await;
    let issue = |token: &str| with_key(request("POST", "/v1/code/paper", Some(json!({})), Some(token)), "k1");
    let probe = rig.citizen().await;
    let calls = rig.calls(code::handle(&rig.w.code, issue(&probe))).await;
    for case in cases(&calls) {
        let token = rig.citizen().await;
        let send = || code::handle(&rig.w.code, issue(&token));
        let first = rig.faulted("paper code", case, send()).await;
        let (status, retry) = parts(send().await);
        assert_eq!(status, 201, "{case:?}: the retry {retry}");
        if let Some(body) = &first {
            assert_eq!(
                body["qr"], retry["qr"],
                "{case:?}: the retry answers the code acknowledged"
            );
        }
        let profile = rig
            .w
            .store
            .get_subject(&subject_of(&token), true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(profile.paper_v, 1, "{case:?}: issued once");
    }
}

#[tokio::test]
async fn a_venue_application_cut_anywhere_creates_one_venue() {
    let rig = &Rig::start().await;
    let apply = |token: &str| with_key(request("POST", "/v1/venues", Some(venue_body()), Some(token)), "k1");
    let probe = rig.citizen().await;
    let calls = rig.calls(venue::handle(&rig.w.venue, apply(&probe))).await;
    for case in cases(&calls) {
        let token = rig.citizen().await;
        let send = || venue::handle(&rig.w.venue, apply(&token));
        let first = rig.faulted("venue application", case, send()).await;
        let id = keyed_id("v_", "venue", &account_of(&token), "k1");
        if let Some(body) = &first {
            assert_eq!(body["venue"]["id"], id.as_str());
            assert!(rig.w.store.get_venue(&id).await.unwrap().is_some(), "{case:?}: stored");
        }
        let (status, retry) = parts(send().await);
        assert_eq!(status, 201, "{case:?}: the retry {retry}");
        assert_eq!(retry["venue"]["id"], id.as_str(), "{case:?}: the same venue");
        let held = rig.w.store.venue_of(&account_of(&token)).await.unwrap().unwrap();
        assert_eq!(held.id, id, "{case:?}: the applicant holds it");
    }
    check_nothing_half_done(&rig.w.store).await;
}

#[tokio::test]
async fn a_venue_revocation_cut_anywhere_revokes_it_and_frees_the_applicant() {
    let rig = &Rig::start().await;
    let venue_of = |token: String| async move {
        let (status, _) = parts(
            venue::handle(
                &rig.w.venue,
                request("POST", "/v1/venues", Some(venue_body()), Some(&token)),
            )
            .await,
        );
        assert_eq!(status, 201);
        token
    };
    let revoke = |token: &str| request("DELETE", "/v1/venues/mine", None, Some(token));
    let probe = venue_of(rig.citizen().await).await;
    let calls = rig.calls(venue::handle(&rig.w.venue, revoke(&probe))).await;
    for case in cases(&calls) {
        let token = venue_of(rig.citizen().await).await;
        let id = rig.w.store.venue_of(&account_of(&token)).await.unwrap().unwrap().id;
        let first = rig
            .faulted("venue revocation", case, venue::handle(&rig.w.venue, revoke(&token)))
            .await;
        let venue = rig.w.store.get_venue(&id).await.unwrap().unwrap();
        let held = rig.w.store.venue_of(&account_of(&token)).await.unwrap();
        if first.is_some() {
            assert!(venue.revoked_at.is_some() && held.is_none(), "{case:?}: revoked");
        } else {
            assert_eq!(venue.revoked_at.is_some(), held.is_none(), "{case:?}: all or nothing");
        }
        // A retry revokes what is left, or finds nothing left to revoke.
        let (status, _) = parts(venue::handle(&rig.w.venue, revoke(&token)).await);
        assert!(status == 204 || status == 404, "{case:?}: the retry answered {status}");
        let venue = rig.w.store.get_venue(&id).await.unwrap().unwrap();
        assert!(venue.revoked_at.is_some(), "{case:?}: revoked in the end");
    }
    check_nothing_half_done(&rig.w.store).await;
}

#[tokio::test]
async fn a_dependent_link_cut_anywhere_links_once_both_ways() {
    let rig = &Rig::start().await;
    let link = |token: &str, n: u32| {
        let body = json!({"name": "孙小明", "id_number": person_id(500 + n), "relation": "child"});
        request("POST", "/v1/dependents", Some(body), Some(token))
    };
    let probe = rig.citizen().await;
    let calls = rig.calls(login::handle(&rig.w.login, link(&probe, 0))).await;
    for (n, case) in cases(&calls).into_iter().enumerate() {
        let n = n as u32 + 1;
        let token = rig.citizen().await;
        let first = rig
            .faulted("dependent link", case, login::handle(&rig.w.login, link(&token, n)))
            .await;
        let (status, retry) = parts(login::handle(&rig.w.login, link(&token, n)).await);
        assert_eq!(status, 201, "{case:?}: the retry {retry}");
        if let Some(body) = &first {
            assert_eq!(
                body["dependent"]["subject_id"], retry["dependent"]["subject_id"],
                "{case:?}"
            );
        }
        let account = rig.w.store.get_account(&account_of(&token)).await.unwrap().unwrap();
        assert_eq!(account.dependents.len(), 1, "{case:?}: linked once");
    }
    check_nothing_half_done(&rig.w.store).await;
}

#[tokio::test]
async fn a_dependent_unlink_cut_anywhere_unlinks_both_ways() {
    let rig = &Rig::start().await;
    let linked = |n: u32| async move {
        let token = rig.citizen().await;
        let body = json!({"name": "孙小明", "id_number": person_id(500 + n), "relation": "child"});
        let (status, body) = parts(
            login::handle(
                &rig.w.login,
                request("POST", "/v1/dependents", Some(body), Some(&token)),
            )
            .await,
        );
        assert_eq!(status, 201);
        (token, body["dependent"]["subject_id"].as_str().unwrap().to_owned())
    };
    let unlink =
        |token: &str, dependent: &str| request("DELETE", &format!("/v1/dependents/{dependent}"), None, Some(token));
    let (probe, dependent) = linked(0).await;
    let calls = rig.calls(login::handle(&rig.w.login, unlink(&probe, &dependent))).await;
    for (n, case) in cases(&calls).into_iter().enumerate() {
        let (token, dependent) = linked(n as u32 + 1).await;
        rig.faulted(
            "dependent unlink",
            case,
            login::handle(&rig.w.login, unlink(&token, &dependent)),
        )
        .await;
        // The retry finds it unlinked (403, the caller is no longer its
        // guardian) or unlinks it now.
        let (status, _) = parts(login::handle(&rig.w.login, unlink(&token, &dependent)).await);
        assert!(status == 204 || status == 403, "{case:?}: the retry answered {status}");
        let account = rig.w.store.get_account(&account_of(&token)).await.unwrap().unwrap();
        assert!(account.dependents.is_empty(), "{case:?}: unlinked");
    }
    check_nothing_half_done(&rig.w.store).await;
}

#[tokio::test]
async fn a_login_and_an_identity_cut_anywhere_make_one_account_bound_once() {
    let rig = &Rig::start().await;
    let login_req = |name: &str| request("POST", "/v1/login", Some(json!({"code": format!("dev:{name}")})), None);
    let calls = rig.calls(login::handle(&rig.w.login, login_req("probe"))).await;
    for (n, case) in cases(&calls).into_iter().enumerate() {
        let name = format!("l{n}");
        let first = rig
            .faulted("login", case, login::handle(&rig.w.login, login_req(&name)))
            .await;
        let (status, retry) = parts(login::handle(&rig.w.login, login_req(&name)).await);
        assert_eq!(status, 200, "{case:?}: the retry {retry}");
        if let Some(body) = first {
            assert_eq!(body["user"]["id"], retry["user"]["id"], "{case:?}: one account");
        }
    }

    let identity = |token: &str, n: u32| {
        let body = json!({"name": "张三丰", "id_number": person_id(700 + n), "phone": "13812345678"});
        request("POST", "/v1/identity", Some(body), Some(token))
    };
    let probe = login(&rig.w.login, "i-probe").await;
    let calls = rig.calls(login::handle(&rig.w.login, identity(&probe, 0))).await;
    for (n, case) in cases(&calls).into_iter().enumerate() {
        let n = n as u32 + 1;
        let token = login(&rig.w.login, &format!("i{n}")).await;
        let first = rig
            .faulted("identity", case, login::handle(&rig.w.login, identity(&token, n)))
            .await;
        let (status, retry) = parts(login::handle(&rig.w.login, identity(&token, n)).await);
        assert_eq!(status, 200, "{case:?}: the retry {retry}");
        if let Some(body) = first {
            assert_eq!(
                body["user"]["subject_id"], retry["user"]["subject_id"],
                "{case:?}: one subject"
            );
        }
    }
    check_nothing_half_done(&rig.w.store).await;
}

/// A new verified citizen: their number's index and token.
async fn numbered(rig: &Rig) -> (u32, String) {
    let n = rig.next();
    (n, verified(&rig.w.login, &format!("c{n}"), n).await)
}

fn invite(token: &str, subject: &str) -> Request {
    request(
        "POST",
        &format!("/v1/dependents/{subject}/invitations"),
        None,
        Some(token),
    )
}

/// An owner's invitation to their own subject: the owner's number and the code.
async fn invited(rig: &Rig) -> (u32, String, String) {
    let (n, owner) = numbered(rig).await;
    let (status, body) = parts(login::handle(&rig.w.login, invite(&owner, &subject_of(&owner))).await);
    assert_eq!(status, 201, "{body}");
    (n, owner, body["invitation"]["code"].as_str().unwrap().to_owned())
}

fn redeem(token: &str, owner: u32, code: &str) -> Request {
    let body = json!({"name": "张三丰", "id_number": person_id(owner), "relation": "parent", "invitation": code});
    request("POST", "/v1/dependents", Some(body), Some(token))
}

/// Whether `guardian` holds `owner`'s subject, checked both ways.
async fn holds(store: &Store, guardian: &str, owner: &str) -> bool {
    let subject = subject_of(owner);
    let profile = store.get_identity(&subject).await.unwrap().unwrap();
    let account = store.get_account(&account_of(guardian)).await.unwrap().unwrap();
    let (on_profile, on_account) = (
        profile.guardians.contains_key(&account_of(guardian)),
        account.dependents.contains_key(&subject),
    );
    assert_eq!(on_profile, on_account, "a guardian is linked both ways or not at all");
    on_profile
}

#[tokio::test]
async fn an_invitation_cut_anywhere_is_issued_once_answered_and_then_works() {
    let rig = &Rig::start().await;
    let (_, probe) = numbered(rig).await;
    let calls = rig
        .calls(login::handle(&rig.w.login, invite(&probe, &subject_of(&probe))))
        .await;
    for case in cases(&calls) {
        let (n, owner) = numbered(rig).await;
        let send = || login::handle(&rig.w.login, invite(&owner, &subject_of(&owner)));
        let code = match rig.faulted("invitation", case, send()).await {
            Some(body) => body["invitation"]["code"].as_str().unwrap().to_owned(),
            None => {
                let (status, body) = parts(send().await);
                assert_eq!(status, 201, "{case:?}: the retry {body}");
                body["invitation"]["code"].as_str().unwrap().to_owned()
            }
        };
        let (_, guardian) = numbered(rig).await;
        let (status, body) = parts(login::handle(&rig.w.login, redeem(&guardian, n, &code)).await);
        assert_eq!(status, 201, "{case:?}: the code answered works: {body}");
    }
}

#[tokio::test]
async fn a_redemption_cut_anywhere_adds_the_guardian_once_both_ways() {
    let rig = &Rig::start().await;
    let (n, _, code) = invited(rig).await;
    let (_, probe) = numbered(rig).await;
    let calls = rig.calls(login::handle(&rig.w.login, redeem(&probe, n, &code))).await;
    for case in cases(&calls) {
        let (n, owner, code) = invited(rig).await;
        let (_, guardian) = numbered(rig).await;
        let first = rig
            .faulted(
                "redemption",
                case,
                login::handle(&rig.w.login, redeem(&guardian, n, &code)),
            )
            .await;
        if first.is_some() {
            assert!(
                holds(&rig.w.store, &guardian, &owner).await,
                "{case:?}: acknowledged, linked"
            );
        } else {
            holds(&rig.w.store, &guardian, &owner).await;
        }
        // The retry finds the guardian linked, or redeems the unused invitation.
        let (status, retry) = parts(login::handle(&rig.w.login, redeem(&guardian, n, &code)).await);
        assert_eq!(status, 201, "{case:?}: the retry {retry}");
        assert!(holds(&rig.w.store, &guardian, &owner).await, "{case:?}: linked once");
        let profile = rig.w.store.get_identity(&subject_of(&owner)).await.unwrap().unwrap();
        assert_eq!(profile.guardians.len(), 1, "{case:?}: one guardian");
        // The invitation is spent.
        let (_, other) = numbered(rig).await;
        let (status, _) = parts(login::handle(&rig.w.login, redeem(&other, n, &code)).await);
        assert_eq!(status, 403, "{case:?}: single use");
    }
    check_nothing_half_done(&rig.w.store).await;
}

#[tokio::test]
async fn a_guardian_removal_cut_anywhere_removes_both_ways() {
    let rig = &Rig::start().await;
    let guarded = || async move {
        let (n, owner, code) = invited(rig).await;
        let (_, guardian) = numbered(rig).await;
        let (status, _) = parts(login::handle(&rig.w.login, redeem(&guardian, n, &code)).await);
        assert_eq!(status, 201);
        let (_, list) = parts(login::handle(&rig.w.login, request("GET", "/v1/guardians", None, Some(&owner))).await);
        let id = list["guardians"][0]["id"].as_str().unwrap().to_owned();
        (owner, guardian, id)
    };
    let remove = |owner: &str, id: &str| request("DELETE", &format!("/v1/guardians/{id}"), None, Some(owner));
    let (probe, _, id) = guarded().await;
    let calls = rig.calls(login::handle(&rig.w.login, remove(&probe, &id))).await;
    for case in cases(&calls) {
        let (owner, guardian, id) = guarded().await;
        let first = rig
            .faulted(
                "guardian removal",
                case,
                login::handle(&rig.w.login, remove(&owner, &id)),
            )
            .await;
        let still = holds(&rig.w.store, &guardian, &owner).await;
        assert!(first.is_none() || !still, "{case:?}: acknowledged, removed");
        // The retry removes what is left, or finds nothing left to remove.
        let (status, _) = parts(login::handle(&rig.w.login, remove(&owner, &id)).await);
        assert!(status == 204 || status == 404, "{case:?}: the retry answered {status}");
        assert!(
            !holds(&rig.w.store, &guardian, &owner).await,
            "{case:?}: removed in the end"
        );
    }
}

// ----------------------------------------------- the authority's writes

async fn officer_on(rig: &Rig) -> String {
    let n = rig.next();
    officer(&rig.w.login, &format!("o{n}"), n).await
}

#[tokio::test]
async fn the_authoritys_writes_cut_anywhere_apply_once_retried() {
    let rig = &Rig::start().await;
    let officer = officer_on(rig).await;
    let areas = |level: &str| {
        request(
            "PUT",
            "/v1/admin/risk-areas",
            Some(json!({"areas": [{"region": "130102", "level": level}]})),
            Some(&officer),
        )
    };
    let calls = rig.calls(admin::handle(&rig.w.admin, areas("low"))).await;
    for (n, case) in cases(&calls).into_iter().enumerate() {
        let level = ["high", "medium", "low"][n % 3];
        rig.faulted("risk areas", case, admin::handle(&rig.w.admin, areas(level)))
            .await;
        let (status, _) = parts(admin::handle(&rig.w.admin, areas(level)).await);
        assert_eq!(status, 200, "{case:?}");
        let stored = rig.w.store.risk_areas().await.unwrap();
        assert_eq!(
            serde_json::to_value(stored.areas["130102"]).unwrap(),
            level,
            "{case:?}: the list retried is the list stored"
        );
    }

    let verify = |subject: &str| {
        request(
            "POST",
            &format!("/v1/admin/subjects/{subject}/verification"),
            Some(json!({"color": "yellow", "reason": "核酸检测待复核"})),
            Some(&officer),
        )
    };
    let probe = subject_of(&rig.citizen().await);
    let calls = rig.calls(admin::handle(&rig.w.admin, verify(&probe))).await;
    for case in cases(&calls) {
        let subject = subject_of(&rig.citizen().await);
        rig.faulted("verification", case, admin::handle(&rig.w.admin, verify(&subject)))
            .await;
        let (status, _) = parts(admin::handle(&rig.w.admin, verify(&subject)).await);
        assert_eq!(status, 200, "{case:?}");
        let profile = rig.w.store.get_subject(&subject, true).await.unwrap().unwrap();
        assert!(profile.facts.override_.is_some(), "{case:?}: the verification holds");
    }
}

#[tokio::test]
async fn the_authoritys_venue_revocation_cut_anywhere_revokes_it_once_audited() {
    let rig = &Rig::start().await;
    let officer = officer_on(rig).await;
    let venue_of = |token: String| async move {
        let (status, created) = parts(
            venue::handle(
                &rig.w.venue,
                request("POST", "/v1/venues", Some(venue_body()), Some(&token)),
            )
            .await,
        );
        assert_eq!(status, 201);
        (token, created["venue"]["id"].as_str().unwrap().to_owned())
    };
    let revoke = |id: &str| request("DELETE", &format!("/v1/admin/venues/{id}"), None, Some(&officer));
    let (_, probe) = venue_of(rig.citizen().await).await;
    let calls = rig.calls(admin::handle(&rig.w.admin, revoke(&probe))).await;
    for case in cases(&calls) {
        let (token, id) = venue_of(rig.citizen().await).await;
        let first = rig
            .faulted("authority's revocation", case, admin::handle(&rig.w.admin, revoke(&id)))
            .await;
        let venue = rig.w.store.get_venue(&id).await.unwrap().unwrap();
        let held = rig.w.store.venue_of(&account_of(&token)).await.unwrap();
        if first.is_some() {
            assert!(venue.revoked_at.is_some() && held.is_none(), "{case:?}: revoked");
        } else {
            assert_eq!(venue.revoked_at.is_some(), held.is_none(), "{case:?}: all or nothing");
        }
        // The officer retries: revoked in the end, answered as the first time.
        let (status, _) = parts(admin::handle(&rig.w.admin, revoke(&id)).await);
        assert_eq!(status, 204, "{case:?}");
        let venue = rig.w.store.get_venue(&id).await.unwrap().unwrap();
        assert!(venue.revoked_at.is_some(), "{case:?}: revoked in the end");
        let audited = rig.w.store.audit_of_day("2026-11-26").await.unwrap();
        assert!(
            audited.iter().any(|e| e.action == "revoke-venue" && e.target == id),
            "{case:?}: the revocation is audited"
        );
    }
    check_nothing_half_done(&rig.w.store).await;
}

/// The import writes the records, then updates the profiles one by one: a
/// cut in between leaves records whose profiles are not updated yet. The
/// answer is 503, and running the import again (as the officer does on a
/// 503) applies every record: the documented repair.
#[tokio::test]
async fn a_risk_import_cut_between_its_steps_is_completed_by_running_it_again() {
    let rig = &Rig::start().await;
    let officer = officer_on(rig).await;
    let mut people = Vec::new();
    for _ in 0..4 {
        let n = rig.next();
        let token = verified(&rig.w.login, &format!("r{n}"), n).await;
        people.push((person_id(n), subject_of(&token)));
    }
    let import = || {
        let records: Vec<Value> = people
            .iter()
            .map(|(id, _)| json!({"id_number": id, "status": "close-contact", "since": "2026-11-25"}))
            .collect();
        request(
            "POST",
            "/v1/admin/risk-persons",
            Some(json!({"records": records})),
            Some(&officer),
        )
    };
    let calls = rig.calls(admin::handle(&rig.w.admin, import())).await;
    let first_update = calls
        .iter()
        .position(|c| c.operation == "UpdateItem")
        .expect("the import updates profiles");
    for (at, fault, times) in cases(&calls)
        .into_iter()
        .filter(|(at, _, _)| *at >= first_update.saturating_sub(1))
    {
        let first = rig
            .faulted("risk import", (at, fault, times), admin::handle(&rig.w.admin, import()))
            .await;
        let (status, retry) = parts(admin::handle(&rig.w.admin, import()).await);
        assert_eq!(status, 200, "{fault:?} at {at}: {retry}");
        assert_eq!(retry["applied"], 4);
        if let Some(body) = first {
            assert_eq!(body["applied"], 4);
        }
        for (_, subject) in &people {
            let profile = rig.w.store.get_subject(subject, true).await.unwrap().unwrap();
            assert!(profile.facts.risk.is_some(), "{fault:?} at {at}: every record applied");
        }
    }
}

/// A trace's audit entry is written before the read it audits: a read cut
/// afterwards leaves an audit entry of an attempt that showed nothing. That
/// is the safe side (every attempt to open personal data is on record), and
/// the retry writes its own.
#[tokio::test]
async fn a_trace_cut_after_its_audit_entry_is_answered_503_and_stays_audited() {
    let rig = &Rig::start().await;
    let officer = officer_on(rig).await;
    let holder = rig.citizen().await;
    let (_, venue) = parts(
        venue::handle(
            &rig.w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&holder)),
        )
        .await,
    );
    let visitor = rig.citizen().await;
    let checkin = json!({"venue_code": venue["qr"]});
    let (status, _) = parts(
        scan::handle(
            &rig.w.scan,
            request("POST", "/v1/checkins", Some(checkin), Some(&visitor)),
        )
        .await,
    );
    assert_eq!(status, 201);
    let venue_id = venue["venue"]["id"].as_str().unwrap().to_owned();
    let trace = || {
        request(
            "GET",
            &format!("/v1/admin/traces?venue_id={venue_id}"),
            None,
            Some(&officer),
        )
    };
    let audits = || async {
        let day = shared::domain::day::iso_date::format(shared::domain::day::shanghai_day(NOW));
        rig.w.store.audit_of_day(&day).await.unwrap().len()
    };
    let calls = rig.calls(admin::handle(&rig.w.admin, trace())).await;
    let audit_at = calls
        .iter()
        .position(|c| c.operation == "PutItem")
        .expect("an audit entry");
    let read_at = audit_at + 1;
    assert_eq!(
        calls.get(read_at).map(|c| c.operation.as_str()),
        Some("BatchGetItem"),
        "the trace reads the visitors after it audits: {calls:?}"
    );
    let before = audits().await;
    let first = rig
        .faulted("trace", (read_at, Fault::Drop, 3), admin::handle(&rig.w.admin, trace()))
        .await;
    assert!(first.is_none(), "the read failed: 503");
    assert_eq!(audits().await, before + 1, "the attempt is on record");
    let (status, body) = parts(admin::handle(&rig.w.admin, trace()).await);
    assert_eq!(status, 200);
    assert_eq!(body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(audits().await, before + 2);
}

// ------------------------------------ conflicts, throttling, a frozen store

#[tokio::test]
async fn a_transaction_conflict_is_retried_to_success() {
    let rig = &Rig::start().await;
    let token = rig.citizen().await;
    let probe = rig.citizen().await;
    let calls = rig
        .calls(declaration::handle(&rig.w.declaration, declare(&probe, "p")))
        .await;
    let at = calls
        .iter()
        .position(|c| c.operation == "TransactWriteItems")
        .expect("a declaration is a transaction");
    rig.proxy.arm(at, Fault::TransactionConflict, 3);
    let (status, body) = parts(declaration::handle(&rig.w.declaration, declare(&token, "k")).await);
    let seen = rig.proxy.seen();
    rig.proxy.disarm();
    assert_eq!(status, 201, "{body}");
    let transactions: Vec<Option<Fault>> = seen
        .iter()
        .filter(|c| c.operation == "TransactWriteItems")
        .map(|c| c.fault)
        .collect();
    assert_eq!(
        transactions,
        [
            Some(Fault::TransactionConflict),
            Some(Fault::TransactionConflict),
            Some(Fault::TransactionConflict),
            None
        ],
        "three conflicts, then the transaction commits"
    );
    let id = body["declaration"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        declaration_ids(&rig.w.store, &subject_of(&token))
            .await
            .iter()
            .filter(|d| **d == id)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_frozen_store_is_answered_503_within_seconds_and_recovers() {
    let rig = &Rig::start_with(shared::store::timeouts()).await;
    let token = rig.citizen().await;
    rig.proxy.arm(0, Fault::Freeze, 100);
    let started = Instant::now();
    let response = declaration::handle(&rig.w.declaration, declare(&token, "k")).await;
    let took = started.elapsed();
    rig.proxy.disarm();
    rig.proxy.release();
    let (status, body) = parts(response);
    assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")));
    // The client gives up after 4 s (shared::store::timeouts); this bound
    // only catches a hang.
    assert!(took < StdDuration::from_secs(10), "answered after {took:?}");
    let (status, _) = parts(declaration::handle(&rig.w.declaration, declare(&token, "k")).await);
    assert_eq!(status, 201);
    check_nothing_half_done(&rig.w.store).await;
}

// -------------------------------------------- the emulator stopped outright

/// An emulator process of this test's own, so it can be stopped and restarted.
struct Emulator {
    port: u16,
    state: PathBuf,
    child: Option<Child>,
}

impl Emulator {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let state = std::env::temp_dir().join(format!("emulator-{}.state", random_id("")));
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

    /// Stops it as an operator would: SIGTERM, which saves the tables.
    fn stop(&mut self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.take().unwrap().wait().unwrap();
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

#[tokio::test]
async fn writes_during_an_outage_get_503_and_every_acknowledged_write_survives_a_restart() {
    let mut emulator = Emulator::start();
    let store = Store::new(
        client_to(&format!("http://127.0.0.1:{}", emulator.port)),
        Tables::with_prefix("f-"),
    );
    store.create_tables().await.unwrap();
    let w = world_on(store.clone());
    let mut people = Vec::new();
    for n in 0..6 {
        // Declared today, so that their check-ins are taken.
        people.push(declared(&w, &format!("p{n}"), n).await);
    }
    let (_, venue) = parts(
        venue::handle(
            &w.venue,
            request("POST", "/v1/venues", Some(venue_body()), Some(&people[0])),
        )
        .await,
    );
    let venue_code = venue["qr"].as_str().unwrap().to_owned();

    // A run of writes of every kind; the store goes away after the 12th and
    // comes back before the 25th.
    let mut acknowledged: Vec<(&str, usize, String)> = Vec::new();
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
        let key = format!("step-{step}");
        let (kind, response) = match step % 4 {
            0 => (
                "declaration",
                declaration::handle(&w.declaration, declare(token, &key)).await,
            ),
            1 => {
                let req = request(
                    "POST",
                    "/v1/checkins",
                    Some(json!({"venue_code": venue_code})),
                    Some(token),
                );
                ("checkin", scan::handle(&w.scan, with_key(req, &key)).await)
            }
            2 => {
                let req = request("POST", "/v1/venues", Some(venue_body()), Some(token));
                ("venue", venue::handle(&w.venue, with_key(req, &key)).await)
            }
            _ => {
                let body = json!({"name": "孙小明", "id_number": person_id(100 + step as u32), "relation": "child"});
                (
                    "dependent",
                    login::handle(&w.login, request("POST", "/v1/dependents", Some(body), Some(token))).await,
                )
            }
        };
        let status = response.status().as_u16();
        if (12..24).contains(&step) {
            assert_eq!(status, 503, "{kind} during the outage");
            assert!(response.headers().get("retry-after").is_some());
            refused += 1;
            continue;
        }
        let (status, body) = parts(response);
        assert!(status < 500, "{kind} at step {step} after the restart: {status} {body}");
        if status < 300 {
            let id = match kind {
                "declaration" => body["declaration"]["id"].as_str().unwrap().to_owned(),
                "checkin" => keyed_id("e_", "checkin", &account_of(token), &key),
                "venue" => body["venue"]["id"].as_str().unwrap().to_owned(),
                _ => body["dependent"]["subject_id"].as_str().unwrap().to_owned(),
            };
            acknowledged.push((kind, who, id));
        }
    }
    assert_eq!(refused, 12);
    let kinds: BTreeSet<&str> = acknowledged.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(kinds.len(), 4, "every kind of write was acknowledged: {kinds:?}");

    // Every acknowledged write is there, found by its id.
    for (kind, who, id) in &acknowledged {
        let subject = subject_of(&people[*who]);
        let found = match *kind {
            "declaration" => declaration_ids(&store, &subject).await.contains(id),
            "checkin" => entry_ids(&store, &subject).await.contains(id),
            "venue" => store.get_venue(id).await.unwrap().is_some(),
            _ => store
                .get_account(&account_of(&people[*who]))
                .await
                .unwrap()
                .unwrap()
                .dependents
                .contains_key(id),
        };
        assert!(found, "{kind} {id} kept");
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
