use std::collections::HashSet;

use futures::future::join_all;
use reqwest::StatusCode;

use crate::common::{error_code, spawn_app};

#[test]
fn fifty_concurrent_reservations_of_one_number_yield_exactly_one_hold() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let globex = app.api("agent@globex.test").await;
        let initech = app.api("agent@initech.test").await;
        let number = globex.find("npa=512", 1).await;
        let attempts = (0..50).map(|i| {
            let api = if i % 2 == 0 { &globex } else { &initech };
            let number = number.clone();
            async move { api.reserve(&number).await }
        });
        let results = join_all(attempts).await;
        let created = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        let conflicts: Vec<_> = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CONFLICT)
            .collect();
        assert_eq!(created, 1, "{results:?}");
        assert_eq!(conflicts.len(), 49);
        for (_, body) in conflicts {
            assert_eq!(error_code(body), "numbers_unavailable");
            assert_eq!(
                body["error"]["details"]["unavailable"][0],
                number[0].as_str()
            );
        }
        let live: i64 =
            sqlx::query_scalar("SELECT count(*) FROM holds WHERE e164 = $1 AND ended_at IS NULL")
                .bind(&number[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(live, 1);
    })
}

#[test]
fn overlapping_reservations_never_hold_a_number_twice() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let pool_of_numbers = api.find("npa=718&limit=30", 30).await;
        // Twenty requests over sliding, overlapping windows of five numbers, in both orders.
        let requests = (0..20).map(|i| {
            let mut window: Vec<String> = pool_of_numbers
                .iter()
                .cycle()
                .skip(i)
                .take(5)
                .cloned()
                .collect();
            if i % 2 == 1 {
                window.reverse();
            }
            let api = &api;
            async move { (window.clone(), api.reserve(&window).await) }
        });
        let results = join_all(requests).await;
        let mut held = HashSet::new();
        for (window, (status, body)) in &results {
            match *status {
                StatusCode::CREATED => {
                    for n in window {
                        assert!(held.insert(n.clone()), "{n} held twice");
                    }
                }
                StatusCode::CONFLICT => assert_eq!(error_code(body), "numbers_unavailable"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(!held.is_empty());
        let doubly: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT e164 FROM holds WHERE ended_at IS NULL GROUP BY e164 HAVING count(*) > 1) d",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
        assert_eq!(doubly, 0);
        let reserved: i64 =
            sqlx::query_scalar("SELECT count(*) FROM numbers WHERE lifecycle = 'reserved'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(reserved as usize, held.len());
    })
}

#[test]
fn the_database_refuses_a_second_live_hold_even_without_the_app() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let number = api.find("npa=512", 1).await;
        let (_, reservation) = api.reserve(&number).await;
        let id: uuid::Uuid = reservation["id"].as_str().unwrap().parse().unwrap();
        let second = sqlx::query("INSERT INTO holds (reservation_id, e164, expires_at) VALUES ($1, $2, now() + interval '1 hour')")
        .bind(id)
        .bind(&number[0])
        .execute(&app.pool)
        .await;
        let err = second.expect_err("unique partial index must refuse");
        assert!(
            err.to_string().contains("holds_one_live_per_number"),
            "{err}"
        );
    })
}

/// Concurrent reservations of different numbers by two tenants are decided together (group
/// commit, `reservations::batch`); each must still get exactly its own numbers, holds and
/// RESERVE entries, under its own tenant.
#[test]
fn concurrent_reservations_of_different_numbers_each_get_their_own() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let globex = app.api("agent@globex.test").await;
        let initech = app.api("agent@initech.test").await;
        let stock = globex.find("npa=512&limit=40", 40).await;
        let requests = stock.chunks(2).enumerate().map(|(i, pair)| {
            let api = if i % 2 == 0 { &globex } else { &initech };
            let pair = pair.to_vec();
            async move { (i, pair.clone(), api.reserve(&pair).await) }
        });
        let results = join_all(requests).await;
        for (i, pair, (status, body)) in &results {
            assert_eq!(*status, StatusCode::CREATED, "{body}");
            let mut answered: Vec<String> = body["numbers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect();
            answered.sort();
            let mut asked = pair.clone();
            asked.sort();
            assert_eq!(answered, asked);
            let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();
            let tenant = if i % 2 == 0 { "globex" } else { "initech" };
            let (held, owners): (Vec<String>, Vec<String>) = sqlx::query_as::<_, (String, String)>(
            "SELECT n.e164, o.slug FROM numbers n JOIN holds h ON h.e164 = n.e164 AND h.reservation_id = n.reservation_id
             JOIN reservations r ON r.id = n.reservation_id JOIN organizations o ON o.id = r.tenant_id
             WHERE n.reservation_id = $1 AND h.ended_at IS NULL AND n.tenant_id = r.tenant_id ORDER BY n.e164",
        )
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .into_iter()
        .unzip();
            assert_eq!(held, asked, "reservation {id}");
            assert!(owners.iter().all(|o| o == tenant), "{owners:?}");
            let audited: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM audit_log a JOIN organizations o ON o.id = a.tenant_id
             WHERE a.action = 'RESERVE' AND a.status = 'SUCCESS' AND a.phone_number = ANY($1)
               AND a.details->>'reservation_id' = $2 AND o.slug = $3",
            )
            .bind(&asked)
            .bind(id.to_string())
            .bind(tenant)
            .fetch_one(&app.pool)
            .await
            .unwrap();
            assert_eq!(audited, 2, "RESERVE entries of {id}");
        }
    })
}

/// Concurrent reservations of a sandbox tenant share statements for the sandbox's own
/// reservations and for their references on the holds; each must still get its own.
#[test]
fn concurrent_sandbox_reservations_each_keep_their_own_native_reservation() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let api = app.api("agent@globex.test").await;
        let numbers = api.find("npa=512", 20).await;
        let results = join_all(numbers.iter().map(|n| {
            let api = &api;
            async move { api.reserve(std::slice::from_ref(n)).await }
        }))
        .await;
        assert!(
            results.iter().all(|(s, _)| *s == StatusCode::CREATED),
            "{results:?}"
        );
        // Each hold's reference names a sandbox reservation of that same number.
        let matched: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT h.e164, s.e164 FROM holds h LEFT JOIN sandbox_reservations s ON s.ref = h.provider_ref
         WHERE h.e164 = ANY($1) AND h.ended_at IS NULL",
    )
    .bind(&numbers)
    .fetch_all(&app.pool)
    .await
    .unwrap();
        assert_eq!(matched.len(), numbers.len());
        for (held, reserved) in &matched {
            assert_eq!(Some(held), reserved.as_ref(), "{matched:?}");
        }

        // Three injected faults among ten concurrent calls: exactly three refused, and their
        // numbers are free again.
        inward::providers::sandbox::Sandbox::inject_fault(&app.pool, "reserve", 3, "boom")
            .await
            .unwrap();
        let more = api.find("npa=512", 10).await;
        let results = join_all(more.iter().map(|n| {
            let api = &api;
            async move { (n, api.reserve(std::slice::from_ref(n)).await) }
        }))
        .await;
        let refused: Vec<&String> = results
            .iter()
            .filter(|(_, (s, _))| s.is_server_error())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(refused.len(), 3, "{results:?}");
        assert_eq!(
            results
                .iter()
                .filter(|(_, (s, _))| *s == StatusCode::CREATED)
                .count(),
            7
        );
        for n in refused {
            assert_eq!(app.number_state(n).await, "available");
        }
    })
}
