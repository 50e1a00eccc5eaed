//! Reference data (NANP rate centers) and the demo: an operator, a reseller, two tenants with
//! users and routing targets, and sandbox carrier stock generated from real NPA-NXX data.

use sqlx::PgPool;
use uuid::Uuid;

use crate::admin::{AdminError, add_org, add_user};
use crate::domain::TenantId;
use crate::domain::policy::{OrgKind, Role};
use crate::domain::search::{TOLL_FREE_NPAS, country_of_state};
use crate::tenants::OPERATOR_ORG_ID;

const NPA_NXX_PLACES: &str = include_str!("../data/npa-nxx-places.csv");
pub const DEMO_PASSWORD: &str = "inward-demo-2026";

/// LERG-style rate-center abbreviation: upper case, letters and digits, at most 10.
pub fn rate_center_name(city: &str) -> String {
    city.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .take(10)
        .collect()
}

/// Loads `data/npa-nxx-places.csv` into `rate_centers` (idempotent).
pub async fn rate_centers(pool: &PgPool) -> anyhow::Result<u64> {
    let mut reader = csv::Reader::from_reader(NPA_NXX_PLACES.as_bytes());
    let (mut npa, mut nxx, mut city, mut state, mut country, mut rc) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for record in reader.records() {
        let record = record?;
        let Some(c) = country_of_state(&record[3]) else {
            continue;
        };
        npa.push(record[0].to_string());
        nxx.push(record[1].to_string());
        rc.push(rate_center_name(&record[2]));
        city.push(record[2].to_string());
        state.push(record[3].to_string());
        country.push(c.to_string());
    }
    let done = sqlx::query(
        "INSERT INTO rate_centers (npa, nxx, city, state, country, rate_center)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(npa)
    .bind(nxx)
    .bind(city)
    .bind(state)
    .bind(country)
    .bind(rc)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deterministic sandbox carrier stock: `per_exchange` numbers in every NPA-NXX (optionally
/// only the listed area codes), plus toll-free numbers including vanity-friendly ones.
pub async fn carrier_stock(
    pool: &PgPool,
    per_exchange: i32,
    only_npas: Option<&[&str]>,
) -> anyhow::Result<u64> {
    let npas: Option<Vec<String>> = only_npas.map(|n| n.iter().map(|s| s.to_string()).collect());
    // 7919 is coprime with 10000, so i * 7919 mod 10000 never repeats for i < 10000.
    let local = sqlx::query(
        "INSERT INTO numbers (e164, country, kind, national, npa, nxx, state, region, rate_center, city, inventory_org_id)
         SELECT '+1' || d.national, rc.country, 'local', d.national, rc.npa, rc.nxx, rc.state,
                rc.city || ', ' || rc.state, rc.rate_center, rc.city, $1
         FROM rate_centers rc CROSS JOIN generate_series(1, $2) AS i
         CROSS JOIN LATERAL (SELECT rc.npa || rc.nxx || lpad(((i * 7919 + rc.nxx::int * 31) % 10000)::text, 4, '0') AS national) d
         WHERE $3::text[] IS NULL OR rc.npa = ANY($3)
         ON CONFLICT DO NOTHING",
    )
    .bind(OPERATOR_ORG_ID)
    .bind(per_exchange.clamp(1, 9999))
    .bind(&npas)
    .execute(pool)
    .await?;
    let exchanges = [
        "200", "245", "333", "356", "427", "555", "687", "742", "800", "968",
    ];
    let specials = [
        "1000", "2000", "3663", "7777", "5000", "4357", "2274", "0100",
    ];
    let tf_npas: Vec<String> = TOLL_FREE_NPAS.iter().map(|s| s.to_string()).collect();
    let toll_free = sqlx::query(
        "INSERT INTO numbers (e164, country, kind, national, npa, nxx, state, region, rate_center, city, inventory_org_id)
         SELECT '+1' || d.national, 'US', 'toll_free', d.national, n.npa, x.nxx, NULL, 'Toll-free (US/Canada)', NULL, NULL, $1
         FROM unnest($2::text[]) AS n(npa) CROSS JOIN unnest($3::text[]) AS x(nxx)
         CROSS JOIN LATERAL (
             SELECT lpad(((i * 7919 + x.nxx::int * 13) % 10000)::text, 4, '0') AS line FROM generate_series(1, 12) AS i
             UNION SELECT unnest($4::text[])
         ) l
         CROSS JOIN LATERAL (SELECT n.npa || x.nxx || l.line AS national) d
         ON CONFLICT DO NOTHING",
    )
    .bind(OPERATOR_ORG_ID)
    .bind(&tf_npas)
    .bind(exchanges.map(str::to_string).to_vec())
    .bind(specials.map(str::to_string).to_vec())
    .execute(pool)
    .await?;
    Ok(local.rows_affected() + toll_free.rows_affected())
}

pub struct DemoLogin {
    pub email: &'static str,
    pub role: &'static str,
    pub org: &'static str,
}

pub const DEMO_LOGINS: [DemoLogin; 6] = [
    DemoLogin {
        email: "operator@inward.test",
        role: "operator",
        org: "operator",
    },
    DemoLogin {
        email: "reseller@acme.test",
        role: "reseller_admin",
        org: "acme",
    },
    DemoLogin {
        email: "admin@globex.test",
        role: "tenant_admin",
        org: "globex",
    },
    DemoLogin {
        email: "agent@globex.test",
        role: "tenant_user",
        org: "globex",
    },
    DemoLogin {
        email: "admin@initech.test",
        role: "tenant_admin",
        org: "initech",
    },
    DemoLogin {
        email: "agent@initech.test",
        role: "tenant_user",
        org: "initech",
    },
];

async fn ignore_existing(result: Result<Uuid, AdminError>) -> anyhow::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(AdminError::Invalid(message)) if message.contains("already exists") => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Routing targets a demo tenant starts with on the sandbox platform.
pub async fn sandbox_targets(pool: &PgPool, tenant_id: TenantId) -> anyhow::Result<()> {
    let targets = [
        ("queue", "Sales"),
        ("queue", "Support"),
        ("queue", "Billing"),
        ("extension", "Front Desk"),
        ("ivr", "Main Menu"),
        ("ivr", "After Hours"),
    ];
    for (kind, name) in targets {
        sqlx::query("INSERT INTO sandbox_targets (id, tenant_id, kind, name) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(Uuid::new_v4())
            .bind(tenant_id)
            .bind(kind)
            .bind(name)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Idempotent: running it twice leaves one copy of everything.
pub async fn demo(
    pool: &PgPool,
    per_exchange: i32,
    only_npas: Option<&[&str]>,
) -> anyhow::Result<u64> {
    ignore_existing(add_org(pool, OrgKind::Reseller, "operator", "acme", "Acme Telecom").await)
        .await?;
    ignore_existing(add_org(pool, OrgKind::Tenant, "acme", "globex", "Globex Support").await)
        .await?;
    ignore_existing(add_org(pool, OrgKind::Tenant, "acme", "initech", "Initech").await).await?;
    for login in &DEMO_LOGINS {
        let role: Role = login.role.parse().map_err(anyhow::Error::msg)?;
        ignore_existing(add_user(pool, login.org, role, login.email, DEMO_PASSWORD).await).await?;
    }
    for slug in ["globex", "initech"] {
        let tenant_id: TenantId =
            sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
                .bind(slug)
                .fetch_one(pool)
                .await?;
        sandbox_targets(pool, tenant_id).await?;
    }
    // New tenants may not activate numbers without a registered E911 address. Initech keeps
    // that default; Globex turns it off so the quick walk-through provisions straight away.
    // Premium numbers need a tenant admin's approval (the default) at Globex and the
    // reseller's at Initech.
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, require_e911)
         SELECT id, false FROM organizations WHERE slug = 'globex' ON CONFLICT DO NOTHING",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, premium_approver)
         SELECT id, 'reseller' FROM organizations WHERE slug = 'initech' ON CONFLICT DO NOTHING",
    )
    .execute(pool)
    .await?;
    // The demo's reseller turns aging off (acknowledged, as a reseller must for under 45
    // days), so a number released in the walk-through is back in stock at once; new resellers
    // age released numbers 45 days.
    sqlx::query(
        "INSERT INTO reseller_settings (reseller_id, aging_days, short_aging_acknowledged_by,
             short_aging_acknowledged_at)
         SELECT o.id, 0, u.id, now() FROM organizations o
         JOIN users u ON u.org_id = o.id AND u.email = 'reseller@acme.test'
         WHERE o.slug = 'acme' ON CONFLICT DO NOTHING",
    )
    .execute(pool)
    .await?;
    rate_centers(pool).await?;
    carrier_stock(pool, per_exchange, only_npas).await
}
