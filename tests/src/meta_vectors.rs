//! Checks of `meta.json` (made by `tests/js/generator/gen-meta.mjs`): transaction meta as
//! cojson 0.20.19 reads it. For every case and every observer of it, a Rust [`LocalNode`]
//! acting as that observer imports the pieces in the order the observer received them, and
//! must read each value as cojson's `toJSON()` and give each transaction cojson's verdict
//! (validity, effective madeAt, source txID, meta, dropped changes).
//!
//! [`compare_verdicts`] is shared with the tests where cojson reads what Rust writes
//! (`read-pieces.mjs` with `"verdicts": true` answers in the same shape).

use std::collections::{BTreeMap, HashMap};

use jazz_req_core::cojson::{CoValueType, LocalNode, TxVerdict, Uniqueness};
use jazz_req_core::crypto::{CoID, stable_stringify};
use serde_json::Value;

use crate::covalue_vectors::node_with;

/// What [`check_meta`] checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetaChecks {
    /// Cases.
    pub cases: usize,
    /// Observer nodes built (a case's observer and its `alsoSeenBy`).
    pub views: usize,
    /// Values read and compared with `toJSON()`.
    pub values: usize,
    /// Transactions whose verdicts were compared.
    pub transactions: usize,
    /// Invalid transactions among them (cojson's verdict).
    pub invalid: usize,
    /// Transactions whose changes cojson dropped (a reader's branch pointer).
    pub dropped: usize,
    /// Merged transactions among them (a source txID).
    pub merged: usize,
    /// Roles compared.
    pub roles: usize,
    /// Unique ids derived and compared.
    pub unique_ids: usize,
}

fn text<'a>(value: &'a Value, key: &str) -> Result<&'a str, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("field {key:?} missing or not a string"))
}

fn co_id(text: &str) -> Result<CoID, String> {
    CoID::parse(text).map_err(|e| format!("{text:?}: {e}"))
}

fn js(value: &Value) -> String {
    stable_stringify(value)
}

/// The verdict fields as JSON, in the shape of `tests/js/tx-verdicts.mjs`.
fn rust_side(verdict: &TxVerdict) -> (Value, Value) {
    let source = verdict
        .source
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    let meta = verdict.meta.clone().map_or(Value::Null, Value::Object);
    (source, meta)
}

/// Compares cojson's per-transaction verdicts (`expected`, objects of `tx-verdicts.mjs`)
/// with a Rust node's, by position in the log (session and index; the order of the lists
/// does not matter). Each disagreement is pushed to `problems`, prefixed by `what` and
/// naming the transaction. Returns counts for the checked transactions.
pub fn compare_verdicts(
    what: &str,
    expected: &[Value],
    got: &[TxVerdict],
    problems: &mut Vec<String>,
) -> MetaChecks {
    let mut checks = MetaChecks::default();
    let by_id: HashMap<(String, u32), &TxVerdict> = got
        .iter()
        .map(|v| ((v.id.session_id.to_string(), v.id.tx_index), v))
        .collect();
    if got.len() != expected.len() {
        problems.push(format!(
            "{what}: {} transactions, cojson has {}",
            got.len(),
            expected.len()
        ));
    }
    for want in expected {
        let Some(tx_id) = want.get("txID") else {
            problems.push(format!("{what}: a verdict without txID: {want}"));
            continue;
        };
        let session = tx_id
            .get("sessionID")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let index = tx_id
            .get("txIndex")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let name = format!(
            "{what}, tx {session}/{index} ({} in cojson{})",
            want.get("privacy").and_then(Value::as_str).unwrap_or("?"),
            want.get("invalidBecause")
                .and_then(Value::as_str)
                .map(|why| format!(", invalid: {why}"))
                .unwrap_or_default()
        );
        let Some(verdict) = u32::try_from(index)
            .ok()
            .and_then(|i| by_id.get(&(session.to_owned(), i)))
        else {
            problems.push(format!("{name}: no such transaction in the Rust node"));
            continue;
        };
        checks.transactions += 1;
        let valid = want.get("isValid").and_then(Value::as_bool);
        if valid != Some(verdict.valid) {
            problems.push(format!(
                "{name}: valid {}, cojson says {valid:?}",
                verdict.valid
            ));
        }
        if valid == Some(false) {
            checks.invalid += 1;
        }
        let made_at = want.get("madeAt").and_then(Value::as_u64);
        if made_at != Some(verdict.made_at) {
            problems.push(format!(
                "{name}: effective madeAt {}, cojson says {made_at:?} (madeAt in the log {})",
                verdict.made_at,
                want.get("currentMadeAt").unwrap_or(&Value::Null)
            ));
        }
        let (source, meta) = rust_side(verdict);
        let want_source = want.get("sourceTxID").unwrap_or(&Value::Null);
        if js(&source) != js(want_source) {
            problems.push(format!(
                "{name}: source txID {}, cojson says {}",
                js(&source),
                js(want_source)
            ));
        }
        if !want_source.is_null() {
            checks.merged += 1;
        }
        let want_meta = want.get("meta").unwrap_or(&Value::Null);
        if js(&meta) != js(want_meta) {
            problems.push(format!(
                "{name}: meta {}, cojson says {}",
                js(&meta),
                js(want_meta)
            ));
        }
        // cojson shows dropped changes as a valid transaction keeping none of the changes
        // its log holds (visible for trusting ones); a pointer without changes drops nothing
        // one could see, so Rust may say either there.
        let kept = want.get("changesLength").and_then(Value::as_u64);
        let in_log = want.get("changesInLog").and_then(Value::as_u64);
        let cojson_dropped =
            valid == Some(true) && kept == Some(0) && in_log.is_some_and(|n| n > 0);
        if cojson_dropped {
            checks.dropped += 1;
        }
        if cojson_dropped && !verdict.changes_dropped {
            problems.push(format!(
                "{name}: changes kept, cojson drops its {} change(s)",
                in_log.unwrap_or(0)
            ));
        }
        if verdict.changes_dropped && !(valid == Some(true) && kept == Some(0)) {
            problems.push(format!(
                "{name}: changes dropped, cojson keeps {kept:?} (valid {valid:?})"
            ));
        }
    }
    checks
}

fn add(total: &mut MetaChecks, part: MetaChecks) {
    total.cases += part.cases;
    total.views += part.views;
    total.values += part.values;
    total.transactions += part.transactions;
    total.invalid += part.invalid;
    total.dropped += part.dropped;
    total.merged += part.merged;
    total.roles += part.roles;
    total.unique_ids += part.unique_ids;
}

fn person<'a>(people: &'a Value, name: &str) -> Result<(&'a str, &'a str), String> {
    let entry = people
        .get(name)
        .ok_or_else(|| format!("no person {name}"))?;
    Ok((text(entry, "accountID")?, text(entry, "agentSecret")?))
}

/// What one observer's Rust node gave: its values (by label), the checks made, and the node
/// (`None` when it could not import the pieces).
struct View {
    values: BTreeMap<String, Value>,
    checks: MetaChecks,
    node: Option<LocalNode>,
}

/// Checks one observer of a case.
fn check_view(
    what: &str,
    view: &Value,
    ids: &serde_json::Map<String, Value>,
    people: &Value,
    problems: &mut Vec<String>,
) -> Result<View, String> {
    let observer = text(view, "observer")?;
    let (account, secret) = person(people, observer)?;
    let pieces = view
        .get("pieces")
        .and_then(Value::as_array)
        .ok_or("pieces missing")?;
    let mut checks = MetaChecks {
        views: 1,
        ..MetaChecks::default()
    };
    let mut values = BTreeMap::new();
    // cojson imported these pieces in this order; a Rust node that cannot is a disagreement.
    let node = match node_with(account, secret, pieces) {
        Ok(node) => node,
        Err(e) => {
            problems.push(format!("{what}: importing the pieces: {e}"));
            return Ok(View {
                values,
                checks,
                node: None,
            });
        }
    };
    let expected = view
        .get("expected")
        .and_then(Value::as_object)
        .ok_or("expected missing")?;
    for (label, id) in ids {
        let what = format!("{what}, {label} {}", id.as_str().unwrap_or("?"));
        let id = co_id(id.as_str().ok_or("an id is not a string")?)?;
        let want = expected
            .get(label)
            .ok_or_else(|| format!("no expectation for {label}"))?;
        match node.read(&id) {
            Ok(read) => {
                checks.values += 1;
                let want_value = want.get("value").unwrap_or(&Value::Null);
                if js(&read.value) != js(want_value) {
                    problems.push(format!(
                        "{what}: reads {}, cojson reads {}",
                        js(&read.value),
                        js(want_value)
                    ));
                }
                values.insert(label.clone(), read.value);
            }
            Err(e) => problems.push(format!("{what}: cannot read: {e}")),
        }
        let want_txs = want
            .get("transactions")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{what}: transactions missing"))?;
        match node.transaction_verdicts(&id) {
            Ok(verdicts) => add(
                &mut checks,
                compare_verdicts(&what, want_txs, &verdicts, problems),
            ),
            Err(e) => problems.push(format!("{what}: no verdicts: {e}")),
        }
    }
    Ok(View {
        values,
        checks,
        node: Some(node),
    })
}

fn check_roles(
    what: &str,
    node: &LocalNode,
    roles: &Value,
    people: &Value,
    problems: &mut Vec<String>,
) -> Result<usize, String> {
    let group = text(roles, "group")?;
    let of = roles
        .get("of")
        .and_then(Value::as_object)
        .ok_or("roles.of missing")?;
    let state = node
        .group_state(&co_id(group)?)
        .map_err(|e| format!("{what}: group {group}: {e}"))?;
    let mut lookup = HashMap::new();
    for parent in state.parent_ids() {
        let parent_state = node
            .group_state(&co_id(parent)?)
            .map_err(|e| format!("{what}: parent {parent}: {e}"))?;
        lookup.insert(parent.to_owned(), parent_state);
    }
    for (who, want) in of {
        let account = person(people, who)?.0;
        let got = state
            .role_of(account, None, &lookup)
            .map_or(Value::Null, |r| Value::from(r.as_str()));
        if &got != want {
            problems.push(format!(
                "{what}: role of {who} in {group} is {got}, cojson's roleOf says {want}"
            ));
        }
    }
    Ok(of.len())
}

/// The `Uniqueness` a jazz-tools `unique` value gives (a string or an object of strings).
pub fn uniqueness_from_json(value: &Value) -> Result<Uniqueness, String> {
    match value {
        Value::String(s) => Ok(Uniqueness::String(s.clone())),
        Value::Bool(b) => Ok(Uniqueness::Bool(*b)),
        Value::Null => Ok(Uniqueness::Null),
        Value::Number(n) => n
            .as_i64()
            .map(Uniqueness::Integer)
            .ok_or_else(|| format!("uniqueness {n} is not an integer")),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| format!("uniqueness field {k} is not a string"))
            })
            .collect::<Result<_, _>>()
            .map(Uniqueness::Object),
        Value::Array(_) => Err("an array is no uniqueness".into()),
    }
}

fn check_unique_ids(
    what: &str,
    case: &Value,
    ids: &serde_json::Map<String, Value>,
    problems: &mut Vec<String>,
) -> Result<usize, String> {
    let Some(uniqueness) = case.get("uniqueness") else {
        return Ok(0);
    };
    let owner = co_id(text(uniqueness, "owner")?)?;
    let mut checked = 0;
    for (label, co_type) in [("map", CoValueType::CoMap), ("list", CoValueType::CoList)] {
        let Some(unique) = uniqueness.get(label) else {
            continue;
        };
        let want = ids
            .get(label)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("ids.{label} missing"))?;
        let got = LocalNode::unique_id(co_type, &owner, &uniqueness_from_json(unique)?);
        if got.as_str() != want {
            problems.push(format!(
                "{what}: the unique {label} of {owner} with uniqueness {unique} is {got}, jazz-tools made {want}"
            ));
        }
        checked += 1;
    }
    Ok(checked)
}

/// Checks one case; disagreements with cojson go to `problems`, broken vectors are errors.
pub fn check_case(
    case: &Value,
    people: &Value,
    problems: &mut Vec<String>,
) -> Result<MetaChecks, String> {
    let name = text(case, "name")?;
    let ids = case
        .get("ids")
        .and_then(Value::as_object)
        .filter(|ids| !ids.is_empty())
        .ok_or("ids missing or empty")?;
    let mut checks = MetaChecks {
        cases: 1,
        ..MetaChecks::default()
    };
    let observer = text(case, "observer")?;
    let what = format!("case {name} (observer {observer})");
    let View {
        values: first_values,
        checks: part,
        node,
    } = check_view(&what, case, ids, people, problems)?;
    add(&mut checks, part);
    if let (Some(roles), Some(node)) = (case.get("roles"), &node) {
        checks.roles += check_roles(&what, node, roles, people, problems)?;
    }
    checks.unique_ids += check_unique_ids(&what, case, ids, problems)?;
    let must_agree = case.get("viewsAgree") == Some(&Value::Bool(true));
    for view in case
        .get("alsoSeenBy")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let other = text(view, "observer")?;
        let what = format!("case {name} (observer {other})");
        let View {
            values,
            checks: part,
            ..
        } = check_view(&what, view, ids, people, problems)?;
        add(&mut checks, part);
        let same = values.len() == first_values.len()
            && values
                .iter()
                .zip(&first_values)
                .all(|((a, x), (b, y))| a == b && js(x) == js(y));
        if must_agree && !same && !values.is_empty() && !first_values.is_empty() {
            problems.push(format!(
                "{what}: reads {values:?} while {observer}'s node reads {first_values:?}; cojson's nodes agree"
            ));
        }
    }
    Ok(checks)
}

/// Checks every case of `meta.json`. All disagreements are reported together, each naming
/// its case, observer, value and transaction.
pub fn check_meta(file: &Value) -> Result<MetaChecks, String> {
    let people = file.get("people").ok_or("people missing")?;
    let cases = crate::fixtures::section(file, "cases")?;
    let mut checks = MetaChecks::default();
    let mut problems = Vec::new();
    for case in cases {
        let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
        let part =
            check_case(case, people, &mut problems).map_err(|e| format!("case {name}: {e}"))?;
        add(&mut checks, part);
    }
    if problems.is_empty() {
        Ok(checks)
    } else {
        Err(format!(
            "{} disagreement(s) with cojson:\n{}",
            problems.len(),
            problems.join("\n")
        ))
    }
}
