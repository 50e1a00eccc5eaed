//! `inward bench-upload`: generates a CSV, uploads it through the same code as the API
//! (`upload::receive` streaming into COPY, then `upload::process`), and prints rows per second
//! and the process's peak memory. With `--hostile` it uploads files built to exhaust memory
//! instead (one 190 MB line, an unterminated quote over 100 MB, 1 MB records) and prints
//! each answer and the peak memory after it.

use std::io::Write;
use std::time::Instant;

use bytes::Bytes;
use sqlx::PgPool;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::Uploader;
use super::csvstage::ChunkSource;
use super::upload::{self, Mode, NewUpload};
use crate::domain::UserId;
use crate::domain::policy::OrgKind;
use crate::error::AppResult;
use crate::tenants::OPERATOR_ORG_ID;

const BENCH_ORG: Uuid = Uuid::from_u128(0xbe0c);
const BENCH_USER: UserId = UserId(Uuid::from_u128(0xbe0d));

struct FileSource(tokio::fs::File);

impl ChunkSource for FileSource {
    async fn next_chunk(&mut self) -> AppResult<Option<Bytes>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = self
            .0
            .read(&mut buf)
            .await
            .map_err(|e| crate::error::AppError::Internal(e.into()))?;
        buf.truncate(n);
        Ok((n > 0).then(|| Bytes::from(buf)))
    }
}

/// Peak resident memory of this process (VmHWM), in MiB.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Writes `rows` distinct NANP numbers in the upload format (NPA 299, not a real area code).
pub fn generate(path: &std::path::Path, rows: usize) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "Country Code,Phone Number,Voice,SMS,Fax,Voice Carrier Name,SMS Carrier Profile,Tenant"
    )?;
    for i in 0..rows {
        let nxx = 200 + (i / 10_000) % 800;
        let line = i % 10_000;
        let sms = if i % 3 == 0 { "TRUE" } else { "FALSE" };
        writeln!(out, "1,299{nxx:03}{line:04},TRUE,{sms},FALSE,,,")?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The bench reseller and its user, and the rate-center table validation reads.
async fn prepare(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO organizations (id, kind, parent_id, slug, name) VALUES ($1, 'reseller', $2, 'bench-reseller', 'Bench reseller')
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(BENCH_ORG)
    .bind(OPERATOR_ORG_ID)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO users (id, org_id, email, role, password_hash) VALUES ($1, $2, 'bench@inward.invalid', 'reseller_admin', '!')
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(BENCH_USER)
    .bind(BENCH_ORG)
    .execute(pool)
    .await?;
    // Validation looks NANP exchanges up in the rate-center table: load it as production has it.
    let centers: i64 = sqlx::query_scalar("SELECT count(*) FROM rate_centers")
        .fetch_one(pool)
        .await?;
    if centers == 0 {
        crate::seed::rate_centers(pool).await?;
    }
    Ok(())
}

/// One timed upload of generated rows, beside COPY of the same file into a table of its
/// columns with no index, key or check: the floor under any upload on this database.
pub struct TimedUpload {
    pub rows: usize,
    pub bytes: u64,
    /// The bare COPY of the file.
    pub copy_seconds: f64,
    /// The upload streamed into its staging table (COPY), then validated and merged.
    pub staged_seconds: f64,
    pub total_seconds: f64,
    pub job: upload::Job,
}

/// Removes an earlier run's numbers, then uploads `rows` generated rows through the API's
/// code and COPYs the same file into a bare table.
pub async fn timed_upload(pool: &PgPool, rows: usize) -> anyhow::Result<TimedUpload> {
    anyhow::ensure!(
        (1..=8_000_000).contains(&rows),
        "--rows must be 1 to 8,000,000"
    );
    prepare(pool).await?;
    let cleared = sqlx::query("DELETE FROM numbers WHERE inventory_org_id = $1")
        .bind(BENCH_ORG)
        .execute(pool)
        .await?
        .rows_affected();
    if cleared > 0 {
        // Otherwise this run inserts into indexes full of the last run's dead entries, and
        // each run measures slower than the one before.
        sqlx::query("VACUUM (ANALYZE) numbers")
            .execute(pool)
            .await?;
    }
    let path = std::env::temp_dir().join(format!("inward-bench-{}.csv", Uuid::new_v4()));
    let bytes = generate(&path, rows)?;
    let timed = upload_file(pool, &path, rows, bytes).await;
    let _ = std::fs::remove_file(&path);
    timed
}

async fn upload_file(
    pool: &PgPool,
    path: &std::path::Path,
    rows: usize,
    bytes: u64,
) -> anyhow::Result<TimedUpload> {
    let copy_seconds = bare_copy(pool, path).await?;
    let uploader = Uploader {
        org_id: BENCH_ORG,
        user_id: BENCH_USER,
        kind: OrgKind::Reseller,
        parent_org_id: Some(OPERATOR_ORG_ID),
    };
    let mut source = FileSource(tokio::fs::File::open(path).await?);
    let started = Instant::now();
    let new = NewUpload {
        uploader: &uploader,
        filename: Some("bench.csv".into()),
        mode: Mode::ValidOnly,
        dry_run: false,
        request_id: None,
        max_record_bytes: 64 * 1024,
    };
    let id = upload::receive(pool, new, &mut source)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let staged_seconds = started.elapsed().as_secs_f64();
    upload::process(pool.clone(), uploader.clone(), id).await;
    let total_seconds = started.elapsed().as_secs_f64();
    let job = upload::find(&mut *pool.acquire().await?, BENCH_ORG, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the upload job vanished"))?;
    anyhow::ensure!(
        job.status == super::upload::UploadStatus::Completed,
        "the upload did not complete: {:?}",
        job.error
    );
    Ok(TimedUpload {
        rows,
        bytes,
        copy_seconds,
        staged_seconds,
        total_seconds,
        job,
    })
}

/// Seconds to COPY the file into a table of its eight text columns, emptied first.
async fn bare_copy(pool: &PgPool, path: &std::path::Path) -> anyhow::Result<f64> {
    let mut conn = pool.acquire().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_bare_upload (country_code text, phone text, voice text,
             sms text, fax text, voice_carrier text, sms_profile text, tenant text)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("TRUNCATE bench_bare_upload")
        .execute(&mut *conn)
        .await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY bench_bare_upload FROM STDIN (FORMAT csv, HEADER true)")
        .await?;
    copy.read_from(tokio::fs::File::open(path).await?).await?;
    copy.finish().await?;
    let took = started.elapsed().as_secs_f64();
    sqlx::query("TRUNCATE bench_bare_upload")
        .execute(&mut *conn)
        .await?;
    Ok(took)
}

pub async fn run(pool: &PgPool, rows: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let t = timed_upload(pool, rows).await?;
    let job = &t.job;
    println!(
        "{rows} rows ({:.1} MB) generated and uploaded in {:.1}s",
        t.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    println!("upload {}: {}", job.id, job.status);
    println!(
        "  rows {} · added {} · updated {} · unchanged {} · rejected {}",
        job.rows_total, job.rows_added, job.rows_updated, job.rows_unchanged, job.rows_rejected
    );
    println!(
        "  streamed into staging (COPY) in {:.1}s; validated and merged in {:.1}s",
        t.staged_seconds,
        t.total_seconds - t.staged_seconds
    );
    println!(
        "  {:.0} rows/second end to end ({:.1}s); COPY of the same file into a bare table {:.1}s ({:.1}x)",
        rows as f64 / t.total_seconds,
        t.total_seconds,
        t.copy_seconds,
        t.total_seconds / t.copy_seconds.max(1e-9)
    );
    match peak_memory_mib() {
        Some(mib) => println!("  peak memory (VmHWM) {mib:.1} MiB"),
        None => println!("  peak memory: /proc/self/status not readable"),
    }
    Ok(())
}

/// A file built to make a reader hold it all at once.
struct Hostile {
    name: &'static str,
    write: fn(&mut dyn Write) -> std::io::Result<()>,
}

const HEADER: &[u8] = b"Country Code,Phone Number,Voice,SMS,Fax\n";

fn repeat(out: &mut dyn Write, chunk: &[u8], total: usize) -> std::io::Result<()> {
    let block = chunk.repeat((1 << 20) / chunk.len().max(1));
    let mut written = 0;
    while written < total {
        out.write_all(&block)?;
        written += block.len();
    }
    Ok(())
}

const HOSTILE: &[Hostile] = &[
    Hostile {
        name: "one 190 MB line, no line break",
        write: |out| {
            out.write_all(HEADER)?;
            out.write_all(b"1,5125550100,TRUE,FALSE,")?;
            repeat(out, b"x", 190 << 20)
        },
    },
    Hostile {
        name: "a quote opened and never closed, then 100 MB",
        write: |out| {
            out.write_all(HEADER)?;
            out.write_all(b"1,\"5125550100,TRUE,FALSE,FALSE\n")?;
            repeat(out, b"1,5125550101,TRUE,FALSE,FALSE\n", 100 << 20)
        },
    },
    Hostile {
        name: "100 records of 1 MB of commas",
        write: |out| {
            out.write_all(HEADER)?;
            for _ in 0..100 {
                repeat(out, b",", 1 << 20)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        },
    },
];

/// Uploads each hostile file as a bench reseller and prints the answer, its time and the
/// process's peak memory after it.
pub async fn run_hostile(pool: &PgPool) -> anyhow::Result<()> {
    prepare(pool).await?;
    let uploader = Uploader {
        org_id: BENCH_ORG,
        user_id: BENCH_USER,
        kind: OrgKind::Reseller,
        parent_org_id: Some(OPERATOR_ORG_ID),
    };
    println!(
        "peak memory before: {:.1} MiB",
        peak_memory_mib().unwrap_or(f64::NAN)
    );
    for hostile in HOSTILE {
        let path = std::env::temp_dir().join(format!("inward-hostile-{}.csv", Uuid::new_v4()));
        {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            (hostile.write)(&mut out)?;
            out.flush()?;
        }
        let size = std::fs::metadata(&path)?.len();
        let mut source = FileSource(tokio::fs::File::open(&path).await?);
        let new = NewUpload {
            uploader: &uploader,
            filename: Some("hostile.csv".into()),
            mode: Mode::AllOrNothing,
            dry_run: true,
            request_id: None,
            max_record_bytes: 64 * 1024,
        };
        let started = Instant::now();
        let answer = match upload::receive(pool, new, &mut source).await {
            Ok(id) => {
                upload::process(pool.clone(), uploader.clone(), id).await;
                let job = upload::find(&mut *pool.acquire().await?, BENCH_ORG, id).await?;
                format!(
                    "accepted, job {}",
                    job.map(|j| j.status.as_str()).unwrap_or("gone")
                )
            }
            Err(err) => format!("refused: {} ({})", err.code(), err.public_message()),
        };
        let _ = std::fs::remove_file(&path);
        println!(
            "{} ({:.0} MB): {answer} in {:.2}s; peak memory {:.1} MiB",
            hostile.name,
            size as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            peak_memory_mib().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
