//! A decided appeal's notice: listed by `GET /v1/notices` for the owner and the guardians (a
//! stranger is refused), and sent once as a WeChat subscribe message (the real client against a
//! fake WeChat server) however many senders run, never holding the decision up, tried again after
//! a failure and given up after five.

use std::sync::atomic::Ordering;

use integration_tests::fake_wechat::FakeWeChat;
use integration_tests::*;
use serde_json::{Value, json};
use shared::service::notices::{AppealNotices, Notifier, Sent};
use time::Duration;

fn sender<'a>(w: &'a World, pii: &'a shared::crypto::PiiKeys, notifier: &'a dyn Notifier) -> AppealNotices<'a> {
    AppealNotices {
        store: &w.store,
        pii,
        notifier,
        clock: w.clock.clone(),
        backoff: std::time::Duration::from_millis(1),
    }
}

async fn file(w: &World, token: &str, body: Value) -> String {
    let (status, filed) =
        parts(declaration::handle(&w.declaration, request("POST", "/v1/appeals", Some(body), Some(token))).await);
    assert_eq!(status, 201, "{filed}");
    filed["appeal"]["id"].as_str().unwrap().to_owned()
}

async fn decide(w: &World, officer: &str, id: &str, body: Value) {
    let (status, answer) = parts(
        admin::handle(
            &w.admin,
            request("POST", &format!("/v1/admin/appeals/{id}"), Some(body), Some(officer)),
        )
        .await,
    );
    assert_eq!(status, 200, "{answer}");
}

async fn notices(w: &World, token: &str, subject: Option<&str>) -> (u16, Value) {
    let path = match subject {
        Some(s) => format!("/v1/notices?subject_id={s}"),
        None => "/v1/notices".to_owned(),
    };
    parts(code::handle(&w.code, request("GET", &path, None, Some(token))).await)
}

const REASON: &str = "孩子没有去过风险地区，请核实。";

#[tokio::test]
async fn a_decided_appeal_is_a_notice_for_its_guardian_sent_once_however_many_senders_run() {
    let w = world().await;
    let (fake, wechat) = FakeWeChat::start().await;
    let pii = pii();
    let officer = officer(&w.login, "officer", 1).await;
    let mother = verified(&w.login, "mother", 2).await;
    let stranger = verified(&w.login, "stranger", 3).await;
    let child = child_of(&w, &mother).await;
    let id = file(&w, &mother, json!({"subject_id": child, "reason": REASON})).await;

    // Open: nothing to tell, nothing to send.
    assert_eq!(notices(&w, &mother, Some(&child)).await.1["notices"], json!([]));
    assert_eq!(sender(&w, &pii, &wechat).send_due().await.unwrap(), Sent::default());

    w.clock.advance(Duration::hours(2));
    decide(
        &w,
        &officer,
        &id,
        json!({"outcome": "upheld", "note": "经核实未去过风险地区", "color": "green"}),
    )
    .await;

    let (status, listed) = notices(&w, &mother, Some(&child)).await;
    assert_eq!(status, 200, "{listed}");
    let list = listed["notices"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{listed}");
    assert_eq!(list[0]["kind"], "appeal");
    assert_eq!(list[0]["id"], format!("n_{id}"));
    let text = list[0]["text"].as_str().unwrap();
    assert!(
        text.contains("申诉成立") && text.contains("绿码") && text.contains("经核实未去过风险地区"),
        "{text}"
    );
    assert!(!text.contains("李小宝"), "a notice names no one");
    let (status, refused) = notices(&w, &stranger, Some(&child)).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(
        notices(&w, &mother, None).await.1["notices"],
        json!([]),
        "the mother's own are hers"
    );

    // Three senders at once, then a fourth later: one message.
    let senders = [
        sender(&w, &pii, &wechat),
        sender(&w, &pii, &wechat),
        sender(&w, &pii, &wechat),
    ];
    let (a, b, c) = tokio::join!(senders[0].send_due(), senders[1].send_due(), senders[2].send_due());
    let sent: usize = [a, b, c].into_iter().map(|r| r.unwrap().sent).sum();
    assert_eq!(sent, 1);
    w.clock.advance(Duration::minutes(10));
    assert_eq!(sender(&w, &pii, &wechat).send_due().await.unwrap(), Sent::default());
    let messages = fake.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["touser"], "mother");
    assert_eq!(messages[0]["data"]["thing1"]["value"], "健康码申诉结果");
    assert_eq!(messages[0]["data"]["phrase4"]["value"], "改为绿码");
    assert!(w.store.due_appeal_notices(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rejected_appeal_is_decided_while_wechat_is_down_and_told_when_it_is_back() {
    let w = world().await;
    let (fake, wechat) = FakeWeChat::start().await;
    let pii = pii();
    let officer = officer(&w.login, "officer", 1).await;
    let alice = declared(&w, "alice", 2).await;
    let id = file(&w, &alice, json!({"reason": "我没有发热，体温登记时填错了。"})).await;
    fake.down.store(true, Ordering::SeqCst);
    decide(
        &w,
        &officer,
        &id,
        json!({"outcome": "rejected", "note": "登记记录无误"}),
    )
    .await;
    let listed = notices(&w, &alice, None).await.1;
    let text = listed["notices"][0]["text"].as_str().unwrap().to_owned();
    assert!(text.contains("申诉未成立"), "{text}");

    let failed = sender(&w, &pii, &wechat).send_due().await.unwrap();
    assert_eq!(failed, Sent { sent: 0, failed: 1 });
    // It waits before the next try, and is tried again after.
    assert_eq!(sender(&w, &pii, &wechat).send_due().await.unwrap(), Sent::default());
    fake.down.store(false, Ordering::SeqCst);
    w.clock.advance(Duration::minutes(6));
    assert_eq!(
        sender(&w, &pii, &wechat).send_due().await.unwrap(),
        Sent { sent: 1, failed: 0 }
    );
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["touser"], "alice");
    assert_eq!(messages[0]["data"]["phrase4"]["value"], "维持原码");
}

#[tokio::test]
async fn a_notice_wechat_refuses_five_times_is_given_up_and_the_appeal_keeps_its_outcome() {
    let w = world().await;
    let (fake, wechat) = FakeWeChat::start().await;
    let pii = pii();
    let officer = officer(&w.login, "officer", 1).await;
    let alice = declared(&w, "alice", 2).await;
    let id = file(&w, &alice, json!({"reason": "我没有发热，体温登记时填错了。"})).await;
    fake.down.store(true, Ordering::SeqCst);
    decide(&w, &officer, &id, json!({"outcome": "upheld", "note": "已核实"})).await;
    for _ in 0..shared::store::appeals::NOTICE_ATTEMPTS {
        assert_eq!(sender(&w, &pii, &wechat).send_due().await.unwrap().failed, 1);
        w.clock.advance(Duration::minutes(6));
    }
    assert!(w.store.due_appeal_notices(10).await.unwrap().is_empty(), "given up");
    fake.down.store(false, Ordering::SeqCst);
    assert_eq!(sender(&w, &pii, &wechat).send_due().await.unwrap(), Sent::default());
    assert!(fake.messages().is_empty());
    let appeal = w.store.get_appeal(&id).await.unwrap().unwrap();
    assert_eq!(appeal.status, shared::store::appeals::AppealStatus::Upheld);
    assert_eq!(
        notices(&w, &alice, None).await.1["notices"].as_array().unwrap().len(),
        1
    );
}
