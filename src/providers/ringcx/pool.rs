//! What only RingCX has: the account's DNIS pool and its tracking numbers, as inherent
//! methods of the one adapter (tenant admins reach them from the connection's pages).

use super::*;
use crate::providers::http::MultipartFile;

/// One page of the DNIS pool (`tnManager/search`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolPage {
    pub records: Vec<Value>,
    /// RingCX's `totalCount` when it was asked to count (`count=true`).
    pub total: Option<u64>,
}

/// RingCX's report on an uploaded DNIS file (`DnisResponseValidation`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadReport {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Vec<String>,
    #[serde(default)]
    pub total_records: u64,
    #[serde(default)]
    pub valid_records: u64,
    #[serde(default)]
    pub validated: bool,
}

/// RingCX's answer to a bulk update (`DnisBulkUpdateRespose`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkUpdateReport {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub updated_rows: Option<String>,
}

/// A new DNIS pool record (`DnisPool`) reserved for `account_id` (`reservedAccountId`, the
/// account that owns it): RingCX needs the digits; the rest is optional.
pub fn pool_record(account_id: &str, number: &E164, description: Option<&str>) -> Value {
    let mut record = json!({
        "dnis": dnis_of(number),
        "dnisE164": number.as_str(),
        "active": true,
        "dnisCategory": "VOICE",
        "reservedAccountId": account_id,
    });
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        record["dnisDescription"] = json!(d);
    }
    record
}

/// DNIS pool and tracking numbers: RingCX-only, so inherent methods rather than `Platform`.
impl RingCx {
    fn pool_record_list(body: &Value) -> Vec<Value> {
        match body {
            Value::Array(records) => records.clone(),
            Value::Object(map) => {
                // `entries` keyed by account (as `searchDnis`) or a flat `records` list.
                if let Some(entries) = map.get("entries").and_then(Value::as_object) {
                    entries
                        .values()
                        .flat_map(|a| a["records"].as_array().cloned().unwrap_or_default())
                        .collect()
                } else {
                    map.get("records")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                }
            }
            _ => Vec::new(),
        }
    }

    /// `POST tnManager/search?count=&page=&maxRows=`: the account's pool records whose DNIS
    /// contains `dnis_filter` (`TnManagerSearchCriteria`).
    pub async fn pool_search(
        &self,
        dnis_filter: &str,
        page: u32,
        max_rows: u32,
    ) -> Result<PoolPage, ProviderError> {
        let mut criteria = json!({
            "accountIds": [self.account_id],
            "criteriaType": "TFN_DID_MANAGER_CRITERIA",
        });
        if !dnis_filter.is_empty() {
            criteria["dnisFilter"] = json!(dnis_filter);
        }
        let query = [
            ("count", "true".to_string()),
            ("page", page.to_string()),
            ("maxRows", max_rows.to_string()),
        ];
        let r = self
            .http
            .send(
                Method::POST,
                &format!("{TN}/search"),
                &query,
                Some(&criteria),
            )
            .await?;
        Ok(PoolPage {
            records: Self::pool_record_list(&r.body),
            total: r.body["totalCount"].as_u64(),
        })
    }

    /// `POST tnManager/dnisPool` (SUPER_USER): creates pool records; returns them as stored.
    /// When the answer is lost the records are looked up by their DNIS, the pool's natural
    /// key, rather than created again: all of them there means the create landed.
    pub async fn pool_create(&self, records: &[Value]) -> Result<Vec<Value>, ProviderError> {
        let body = Value::Array(records.to_vec());
        match self
            .http
            .send(Method::POST, &format!("{TN}/dnisPool"), &[], Some(&body))
            .await
        {
            Ok(r) => Ok(Self::pool_record_list(&r.body)),
            Err(err) if err.may_have_applied() => {
                let mut found = Vec::with_capacity(records.len());
                for record in records {
                    let Some(dnis) = record["dnis"].as_str() else {
                        return Err(err);
                    };
                    let page = self.pool_search(dnis, 0, 10).await?;
                    match page.records.into_iter().find(|r| r["dnis"] == dnis) {
                        Some(stored) => found.push(stored),
                        None => return Err(err),
                    }
                }
                tracing::info!(
                    records = found.len(),
                    "RingCX lost the answer to a pool create that landed"
                );
                Ok(found)
            }
            Err(err) => Err(err),
        }
    }

    /// `PUT tnManager/dnisPool`: replaces one record's fields.
    pub async fn pool_update(&self, record: &Value) -> Result<Vec<Value>, ProviderError> {
        let body = json!([record]);
        let r = self
            .http
            .send(Method::PUT, &format!("{TN}/dnisPool"), &[], Some(&body))
            .await?;
        Ok(Self::pool_record_list(&r.body))
    }

    /// `POST tnManager/uploadDnisPool?fileType=COMMA`, the CSV as the multipart `file` part.
    pub async fn pool_upload_csv(&self, csv: &[u8]) -> Result<UploadReport, ProviderError> {
        let r = self
            .http
            .send_multipart(
                Method::POST,
                &format!("{TN}/uploadDnisPool"),
                &[("fileType", "COMMA".to_string())],
                MultipartFile {
                    field: "file",
                    file_name: "dnis.csv",
                    content_type: "text/csv",
                    bytes: csv,
                },
            )
            .await?;
        let status = if r.body["uploadStatus"].is_object() {
            &r.body["uploadStatus"]
        } else {
            &r.body
        };
        serde_json::from_value(status.clone()).map_err(|_| {
            ProviderError::new(
                NAME,
                ProviderErrorKind::Transient,
                "RingCX answered the upload without a report",
            )
        })
    }

    /// `PUT tnManager/updateBulkDnisPool`: the same change to many records (`DnisPool` list).
    pub async fn pool_bulk_update(
        &self,
        records: &[Value],
    ) -> Result<BulkUpdateReport, ProviderError> {
        let body = Value::Array(records.to_vec());
        let r = self
            .http
            .send(
                Method::PUT,
                &format!("{TN}/updateBulkDnisPool"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(serde_json::from_value(r.body).unwrap_or(BulkUpdateReport {
            message: None,
            status: None,
            updated_rows: None,
        }))
    }

    /// `GET accounts/{id}/tracGroups/withChildren`: tracking-number groups with their numbers.
    pub async fn tracking_groups(&self) -> Result<Vec<Value>, ProviderError> {
        let path = format!(
            "/v1/admin/accounts/{}/tracGroups/withChildren",
            self.account_path()
        );
        let body = self.http.get(&path, &[]).await?.body;
        Ok(body.as_array().cloned().unwrap_or_default())
    }

    /// `GET accounts/{id}/tracGroups/{group}/tracNumbers`.
    pub async fn tracking_numbers(&self, group: i64) -> Result<Vec<Value>, ProviderError> {
        let path = format!(
            "/v1/admin/accounts/{}/tracGroups/{group}/tracNumbers",
            self.account_path()
        );
        let body = self.http.get(&path, &[]).await?.body;
        Ok(body.as_array().cloned().unwrap_or_default())
    }

    /// `POST accounts/{id}/tracGroups/{group}/tracNumbers` (`TracNumber`): a tracking number
    /// in the group; RingCX answers with the record and its `tracId`.
    pub async fn create_tracking_number(
        &self,
        group: i64,
        description: &str,
        outbound_caller_id: Option<&E164>,
    ) -> Result<Value, ProviderError> {
        let path = format!(
            "/v1/admin/accounts/{}/tracGroups/{group}/tracNumbers",
            self.account_path()
        );
        let mut body = json!({ "accountId": self.account_id, "description": description });
        let caller_id = outbound_caller_id.map(dnis_of);
        if let Some(digits) = &caller_id {
            body["outboundCallerId"] = json!(digits);
        }
        // Sending the POST again after a lost answer could make a second tracking number, and
        // a tracking number has no natural key: the group's numbers are read before, so that
        // afterwards the one created is the new one with this description.
        let before: Vec<Value> = self.tracking_numbers(group).await?;
        let known: std::collections::HashSet<i64> =
            before.iter().filter_map(|t| t["tracId"].as_i64()).collect();
        match self.http.send(Method::POST, &path, &[], Some(&body)).await {
            Ok(r) => Ok(r.body),
            Err(err) if err.may_have_applied() => {
                let mut new: Vec<Value> = self
                    .tracking_numbers(group)
                    .await?
                    .into_iter()
                    .filter(|t| {
                        t["tracId"].as_i64().is_some_and(|id| !known.contains(&id))
                            && t["description"] == description
                            && caller_id
                                .as_ref()
                                .is_none_or(|digits| t["outboundCallerId"] == digits.as_str())
                    })
                    .collect();
                if new.len() == 1 {
                    tracing::info!(
                        group,
                        "RingCX lost the answer to a tracking number it created"
                    );
                    Ok(new.remove(0))
                } else {
                    Err(err)
                }
            }
            Err(err) => Err(err),
        }
    }
}
