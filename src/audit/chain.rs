//! The audit log's hash chain. The database queues every entry for sealing as it is written
//! and seals the queue in id order when asked (`seal_pending`; migrations 0027 and 0048):
//! seal `n` holds SHA-256 over seal `n-1`'s hash and the entry's canonical content. Each
//! server seals its queue every `SEAL_EVERY`, and verification seals it first. Here the chain is checked from outside the database: the content is rebuilt
//! from the columns and hashed in Rust, so a rewritten trigger or function cannot vouch for
//! itself. What verification reports, in sequence order, is the first of: a seal whose entry
//! is gone, an entry whose content no longer matches its seal, a gap in the sequence, and an
//! entry with no seal at all (written with the triggers switched off).
//! One file over 500 lines: the canonical content and its check must agree byte for byte, so
//! they stay side by side; a fifth of it is their unit tests.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// An entry's columns as the chain covers them, each rendered as text by the database
/// (`None` for NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Content {
    pub id: Option<String>,
    pub at: Option<String>,
    pub tenant_id: Option<String>,
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    pub phone_number: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub status: Option<String>,
    pub error_message: Option<String>,
    pub request_id: Option<String>,
    pub justification: Option<String>,
    pub details: Option<String>,
}

/// One link: the seal and the entry it seals (the entry's columns all `None` when it is gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub seq: i64,
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
    pub entry: Content,
}

/// Where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub seq: i64,
    pub problem: String,
}

/// The chain checked up to `verified_to`, ending in `head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub verified_to: i64,
    #[serde(with = "hex_bytes")]
    pub head: Vec<u8>,
}

/// The hash before the first seal.
pub fn genesis() -> Vec<u8> {
    vec![0; 32]
}

fn field(out: &mut String, value: Option<&str>) {
    match value {
        None => out.push('-'),
        Some(v) => {
            out.push_str(&v.chars().count().to_string());
            out.push(':');
            out.push_str(v);
        }
    }
}

/// The text seal `seq` hashes, exactly as the database's `audit_canonical` builds it.
pub fn canonical(seq: i64, e: &Content) -> String {
    let mut out = String::new();
    field(&mut out, Some(&seq.to_string()));
    for value in [
        &e.id,
        &e.at,
        &e.tenant_id,
        &e.user_id,
        &e.org_id,
        &e.phone_number,
        &e.action,
        &e.target_type,
        &e.target_id,
        &e.status,
        &e.error_message,
        &e.request_id,
        &e.justification,
        &e.details,
    ] {
        field(&mut out, value.as_deref());
    }
    out
}

pub fn next_hash(previous: &[u8], seq: i64, entry: &Content) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(canonical(seq, entry).as_bytes());
    hasher.finalize().to_vec()
}

/// Checks links in sequence order, the first one being `first_seq` and following a seal
/// whose hash is `previous`.
pub fn verify_links(
    first_seq: i64,
    previous: Vec<u8>,
    links: impl IntoIterator<Item = Link>,
) -> Result<Verified, Break> {
    let mut expected = first_seq;
    let mut head = previous;
    for link in links {
        if link.seq != expected {
            return Err(Break {
                seq: expected,
                problem: format!(
                    "seal {expected} is missing (the next one is {}): an entry was removed",
                    link.seq
                ),
            });
        }
        if link.entry.id.is_none() {
            return Err(Break {
                seq: link.seq,
                problem: format!("the entry sealed as {} is gone", link.seq),
            });
        }
        let hash = next_hash(&head, link.seq, &link.entry);
        if hash != link.hash {
            return Err(Break {
                seq: link.seq,
                problem: format!(
                    "entry {} does not match its seal {}: it was altered, or an earlier seal was rewritten",
                    link.entry.id.as_deref().unwrap_or("?"),
                    link.seq
                ),
            });
        }
        head = hash;
        expected += 1;
    }
    Ok(Verified {
        verified_to: expected - 1,
        head,
    })
}

/// Seals read per query.
const BATCH: i64 = 5_000;

const LINK_COLUMNS: &str = "s.seq, s.hash, e.id::text AS id,
    to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at,
    e.tenant_id::text AS tenant_id, e.user_id::text AS user_id, e.org_id::text AS org_id,
    e.phone_number, e.action, e.target_type, e.target_id, e.status, e.error_message,
    e.request_id, e.justification, e.details::text AS details";

#[derive(sqlx::FromRow)]
struct LinkRow {
    seq: i64,
    hash: Vec<u8>,
    #[sqlx(flatten)]
    entry: Content,
}

/// Links `from..=to` (at most `BATCH`), in sequence order.
pub async fn links(pool: &PgPool, from: i64, to: i64) -> sqlx::Result<Vec<Link>> {
    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM audit_seals s LEFT JOIN audit_log e ON e.id = s.entry_id
         WHERE s.seq BETWEEN $1 AND $2 ORDER BY s.seq LIMIT $3"
    ))
    .bind(from)
    .bind(to)
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Link {
            seq: r.seq,
            hash: r.hash,
            entry: r.entry,
        })
        .collect())
}

/// The hash of seal `seq` (the genesis hash for 0); `None` when there is no such seal.
pub async fn seal_hash(pool: &PgPool, seq: i64) -> sqlx::Result<Option<Vec<u8>>> {
    if seq == 0 {
        return Ok(Some(genesis()));
    }
    sqlx::query_scalar("SELECT hash FROM audit_seals WHERE seq = $1")
        .bind(seq)
        .fetch_optional(pool)
        .await
}

/// Entries sealed per statement.
const SEAL_BATCH: i32 = 1_000;

/// How long a server lets written entries wait for their seals.
pub const SEAL_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Seals every entry queued so far; returns how many. The seals are written apart from the
/// entries' own transactions, so that those do not commit one at a time behind the chain's
/// head.
pub async fn seal_pending(pool: &PgPool) -> sqlx::Result<u64> {
    let mut sealed = 0;
    loop {
        let now: i32 = sqlx::query_scalar("SELECT audit_seal_pending($1)")
            .bind(SEAL_BATCH)
            .fetch_one(pool)
            .await?;
        sealed += u64::try_from(now).unwrap_or_default();
        if now < SEAL_BATCH {
            return Ok(sealed);
        }
    }
}

/// A server's sealer: what was written in the last `SEAL_EVERY` is sealed.
pub async fn seal_forever(pool: PgPool) {
    let mut ticker = tokio::time::interval(SEAL_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = seal_pending(&pool).await {
            tracing::warn!(error = %err, "could not seal the audit entries written; retrying");
        }
    }
}

/// The chain's head as the database keeps it: (sequence, hash).
pub async fn head(pool: &PgPool) -> sqlx::Result<(i64, Vec<u8>)> {
    sqlx::query_as("SELECT seq, hash FROM audit_chain_head")
        .fetch_one(pool)
        .await
}

/// Seals what is queued, then verifies seals `from..` up to the head, following `trusted`,
/// the hash of seal `from - 1` as an earlier verification found it (read from the seal when
/// `None`).
pub async fn verify(
    pool: &PgPool,
    from: i64,
    trusted: Option<Vec<u8>>,
) -> anyhow::Result<Result<Verified, Break>> {
    seal_pending(pool).await?;
    let from = from.max(1);
    let previous = match trusted {
        Some(hash) => Some(hash),
        None => seal_hash(pool, from - 1).await?,
    };
    let Some(mut previous) = previous else {
        return Ok(Err(Break {
            seq: from - 1,
            problem: format!("seal {} is missing: an entry was removed", from - 1),
        }));
    };
    let (head_seq, _) = head(pool).await?;
    let mut next = from;
    while next <= head_seq {
        let batch = links(pool, next, head_seq).await?;
        if batch.is_empty() {
            return Ok(Err(Break {
                seq: next,
                problem: format!("seals {next} to {head_seq} are missing"),
            }));
        }
        match verify_links(next, previous, batch) {
            Ok(done) => {
                previous = done.head;
                next = done.verified_to + 1;
            }
            Err(b) => return Ok(Err(b)),
        }
    }
    // Entries neither sealed nor queued for sealing were written with the triggers switched
    // off. Only those after the last seal already verified are looked for (all of them from
    // seal 1); entries written since the sealing above are still queued.
    let forged: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT e.id, (SELECT min(s.seq) FROM audit_seals s WHERE s.entry_id > e.id)
         FROM audit_log e
         WHERE e.id > coalesce((SELECT entry_id FROM audit_seals WHERE seq = $1), 0)
           AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.entry_id = e.id)
           AND NOT EXISTS (SELECT 1 FROM audit_unsealed u WHERE u.entry_id = e.id)
         ORDER BY e.id LIMIT 1",
    )
    .bind(from - 1)
    .fetch_optional(pool)
    .await?;
    if let Some((id, before)) = forged {
        let seq = before.unwrap_or(head_seq + 1);
        if seq >= from {
            return Ok(Err(Break {
                seq,
                problem: format!(
                    "entry {id} has no seal: it was written behind the chain's back (before seal {seq})"
                ),
            }));
        }
    }
    Ok(Ok(Verified {
        verified_to: next - 1,
        head: previous,
    }))
}

/// One line of `inward audit export`: a link and the hash it follows, so that an export
/// verifies on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exported {
    #[serde(with = "hex_bytes")]
    pub previous: Vec<u8>,
    #[serde(flatten)]
    pub link: Link,
}

/// Writes links `from..=to` as JSON lines.
pub async fn export(
    pool: &PgPool,
    from: i64,
    to: i64,
    out: &mut impl std::io::Write,
) -> anyhow::Result<usize> {
    let from = from.max(1);
    let mut previous = seal_hash(pool, from - 1)
        .await?
        .ok_or_else(|| anyhow::anyhow!("seal {} is missing", from - 1))?;
    let (mut next, mut written) = (from, 0);
    while next <= to {
        let batch = links(pool, next, to).await?;
        let Some(last) = batch.last() else { break };
        next = last.seq + 1;
        for link in batch {
            let hash = link.hash.clone();
            serde_json::to_writer(&mut *out, &Exported { previous, link })?;
            out.write_all(b"\n")?;
            previous = hash;
            written += 1;
        }
    }
    Ok(written)
}

/// Verifies an export on its own: each line must follow the one before and match its seal.
pub fn verify_export(text: &str) -> anyhow::Result<Result<Verified, Break>> {
    let mut lines = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let exported: Exported = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("line {} is not an exported audit link: {e}", i + 1))?;
        lines.push(exported);
    }
    let Some(first) = lines.first() else {
        anyhow::bail!("the export holds no entries");
    };
    let (seq, previous) = (first.link.seq, first.previous.clone());
    Ok(verify_links(
        seq,
        previous,
        lines.into_iter().map(|l| l.link),
    ))
}

/// A finished verification, as the audit page shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Verification {
    pub at: chrono::DateTime<chrono::Utc>,
    pub verified_to: i64,
    #[serde(with = "hex_bytes")]
    pub head_hash: Vec<u8>,
    pub broken_at: Option<i64>,
    pub problem: Option<String>,
}

/// Records a verification; one that found what the last one found only renews its time.
pub async fn record(pool: &PgPool, outcome: &Result<Verified, Break>) -> sqlx::Result<()> {
    let (verified_to, head, broken_at, problem) = match outcome {
        Ok(v) => (v.verified_to, v.head.clone(), None, None),
        Err(b) => (b.seq - 1, Vec::new(), Some(b.seq), Some(b.problem.clone())),
    };
    let renewed = sqlx::query(
        "UPDATE audit_verifications SET at = now()
         WHERE id = (SELECT max(id) FROM audit_verifications)
           AND verified_to = $1 AND head_hash = $2 AND broken_at IS NOT DISTINCT FROM $3",
    )
    .bind(verified_to)
    .bind(&head)
    .bind(broken_at)
    .execute(pool)
    .await?;
    if renewed.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO audit_verifications (verified_to, head_hash, broken_at, problem) VALUES ($1, $2, $3, $4)",
        )
        .bind(verified_to)
        .bind(head)
        .bind(broken_at)
        .bind(problem)
        .execute(pool)
        .await?;
    }
    Ok(())
}

pub async fn last_verification(pool: &PgPool) -> sqlx::Result<Option<Verification>> {
    sqlx::query_as(
        "SELECT at, verified_to, head_hash, broken_at, problem FROM audit_verifications ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
}

async fn last_clean(pool: &PgPool) -> sqlx::Result<Option<Verification>> {
    sqlx::query_as(
        "SELECT at, verified_to, head_hash, broken_at, problem FROM audit_verifications
         WHERE broken_at IS NULL ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
}

/// The background step: verifies what was sealed since the last clean verification,
/// following the head hash that verification found (so a break stays reported until it is
/// dealt with, and a rewrite of seals already verified is caught), records the outcome,
/// logs the head so that a rewrite of the whole chain can be noticed from outside the
/// database, and publishes the head's sequence on /metrics.
pub async fn verify_new(pool: &PgPool) -> anyhow::Result<Result<Verified, Break>> {
    let (from, trusted) = match last_clean(pool).await? {
        Some(v) if v.verified_to > 0 => (v.verified_to + 1, Some(v.head_hash)),
        _ => (1, None),
    };
    let outcome = verify(pool, from, trusted).await?;
    record(pool, &outcome).await?;
    let (seq, hash) = head(pool).await?;
    crate::metrics::audit_chain(seq, outcome.is_ok());
    match &outcome {
        Ok(v) if v.verified_to >= from => tracing::info!(
            head_seq = seq,
            head_hash = hex(&hash),
            verified_to = v.verified_to,
            "audit chain verified"
        ),
        Ok(_) => {}
        Err(b) => tracing::error!(seq = b.seq, problem = %b.problem, "audit chain broken"),
    }
    Ok(outcome)
}

pub fn hex(bytes: &[u8]) -> String {
    crate::hex::encode(bytes)
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        crate::hex::decode(&text).ok_or_else(|| serde::de::Error::custom("not hex"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, action: &str) -> Content {
        Content {
            id: Some(id.to_string()),
            at: Some("2026-12-06T01:02:03.000004Z".into()),
            action: Some(action.into()),
            status: Some("SUCCESS".into()),
            details: Some(r#"{"a": 1}"#.into()),
            ..Content::default()
        }
    }

    fn chain(n: i64) -> Vec<Link> {
        let mut previous = genesis();
        (1..=n)
            .map(|seq| {
                let e = entry(seq * 10, "RESERVE");
                let hash = next_hash(&previous, seq, &e);
                previous = hash.clone();
                Link {
                    seq,
                    hash,
                    entry: e,
                }
            })
            .collect()
    }

    #[test]
    fn a_field_is_its_length_and_text_and_null_is_a_dash() {
        let e = Content {
            id: Some("7".into()),
            phone_number: Some("+1é".into()),
            ..Content::default()
        };
        assert_eq!(canonical(3, &e), "1:31:7----3:+1é--------");
    }

    #[test]
    fn an_intact_chain_verifies_to_its_end() {
        let links = chain(5);
        let head = links[4].hash.clone();
        assert_eq!(
            verify_links(1, genesis(), links),
            Ok(Verified {
                verified_to: 5,
                head
            })
        );
    }

    #[test]
    fn an_altered_entry_breaks_the_chain_at_its_seal() {
        let mut links = chain(5);
        links[2].entry.action = Some("RELEASE".into());
        assert_eq!(verify_links(1, genesis(), links).unwrap_err().seq, 3);
    }

    #[test]
    fn a_removed_seal_or_entry_is_reported_where_it_was() {
        let mut links = chain(5);
        links.remove(3);
        let gap = verify_links(1, genesis(), links).unwrap_err();
        assert_eq!(gap.seq, 4);
        assert!(gap.problem.contains("missing"), "{}", gap.problem);

        let mut links = chain(5);
        links[1].entry = Content::default();
        let gone = verify_links(1, genesis(), links).unwrap_err();
        assert_eq!(gone.seq, 2);
        assert!(gone.problem.contains("gone"), "{}", gone.problem);
    }

    #[test]
    fn reordered_entries_break_at_the_first_one_moved() {
        let mut links = chain(5);
        let (a, b) = (links[1].entry.clone(), links[2].entry.clone());
        links[1].entry = b;
        links[2].entry = a;
        assert_eq!(verify_links(1, genesis(), links).unwrap_err().seq, 2);
    }

    #[test]
    fn verification_can_start_mid_chain_from_a_trusted_seal() {
        let links = chain(5);
        let previous = links[1].hash.clone();
        let rest: Vec<Link> = links.into_iter().skip(2).collect();
        assert_eq!(verify_links(3, previous, rest).unwrap().verified_to, 5);
    }

    #[test]
    fn links_survive_a_round_trip_through_json() {
        let link = chain(1).remove(0);
        let text = serde_json::to_string(&link).unwrap();
        assert_eq!(serde_json::from_str::<Link>(&text).unwrap(), link);
    }
}
