//! Every `tuning.*` mechanism is a faster way to the same answers: the same searches, holds
//! and cancellations on two fresh databases, served once with every mechanism on and once
//! with every mechanism off, answer alike.

use std::sync::{Arc, Mutex};

use inward::config::AppConfig;
use serde_json::{Value, json};

use crate::common::spawn_app_with;

const SEARCHES: [&str; 9] = [
    "state=TX",
    "npa=512",
    "npa=512&nxx=206",
    "state=TX&rate_center=austin",
    "state=TX&city=austin",
    "npa=512&pattern=512-XXX-XXX0",
    "kind=toll_free",
    "kind=toll_free&npa=888",
    "kind=toll_free&pattern=8XX-XXX-XXX1",
];

/// What a tenant's agent sees doing the same things: each answer's status and numbers.
fn answers(tweak: fn(&mut AppConfig)) -> Vec<Value> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    crate::db::db_test(move |pool| async move {
        let app = spawn_app_with(pool.clone(), tweak).await;
        let api = app.api("agent@globex.test").await;
        let mut seen = Vec::new();
        let mut texas = Vec::new();
        for query in SEARCHES {
            let (status, body) = api.get(&format!("/api/v1/numbers/available?{query}")).await;
            let numbers: Vec<String> = body["numbers"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .map(|n| n["e164"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default();
            if query == "state=TX" {
                texas = numbers.clone();
            }
            seen.push(json!({ "search": query, "status": status.as_u16(), "numbers": numbers }));
        }
        assert!(texas.len() >= 3, "the demo stock has Texan numbers");
        let mut reserve = async |numbers: &[String]| {
            let (status, body) = api.reserve(numbers).await;
            seen.push(json!({ "reserve": numbers, "status": status.as_u16(), "code": body["error"]["code"] }));
            body["id"].as_str().map(str::to_string)
        };
        let first = reserve(&texas[..1]).await.expect("the first hold");
        assert!(reserve(&texas[..1]).await.is_none(), "held already");
        reserve(&texas[1..3]).await.expect("a pair");
        let (status, _) = api.delete(&format!("/api/v1/reservations/{first}")).await;
        let back = reserve(&texas[..1]).await;
        seen.push(json!({ "cancel": status.as_u16(), "held_again": back.is_some() }));
        app.state.deferred_audit.flush().await;
        let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM search_log")
            .fetch_one(&pool)
            .await
            .unwrap();
        seen.push(json!({ "searches_logged": logged }));
        out.lock().unwrap().extend(seen);
    });
    seen.lock().unwrap().clone()
}

#[test]
fn every_mechanism_off_answers_as_every_mechanism_on() {
    let on = answers(|_| {});
    let off = answers(|c| {
        let t = &mut c.tuning;
        t.search_pools = false;
        t.group_commit = false;
        t.one_statement_hold = false;
        t.deferred_search_audit = false;
        t.caches = false;
        t.inline_codes = false;
    });
    assert_eq!(on.len(), off.len());
    for (with, without) in on.iter().zip(&off) {
        assert_eq!(with, without, "with every mechanism on, then off");
    }
    let logged = on.last().unwrap()["searches_logged"].as_i64().unwrap();
    assert_eq!(logged, SEARCHES.len() as i64, "{on:?}");
}
