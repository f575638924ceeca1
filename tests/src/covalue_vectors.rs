//! Checks of `covalues.json` and `scenarios.json`: content pieces made by real cojson peers,
//! imported into a Rust [`LocalNode`] as the observer, must read as the real library read
//! them (values and roles).

use jazz_req_core::cojson::{ContentMessage, ImportOutcome, LocalNode, keys::Reader};
use jazz_req_core::crypto::{AgentSecret, CoID};
use serde_json::Value;

fn text<'a>(value: &'a Value, key: &str) -> Result<&'a str, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("field {key:?} missing or not a string"))
}

fn co_id(text: &str) -> Result<CoID, String> {
    CoID::parse(text).map_err(|e| e.to_string())
}

/// A node reading as `account` with `agent_secret`, holding `pieces` imported in the given
/// order (content whose dependencies come later waits for them, as in cojson).
pub fn node_with(account: &str, agent_secret: &str, pieces: &[Value]) -> Result<LocalNode, String> {
    let agent = AgentSecret::parse(agent_secret).map_err(|e| e.to_string())?;
    let mut node = LocalNode::new(Reader::new(Some(co_id(account)?), agent));
    for (index, piece) in pieces.iter().enumerate() {
        let message =
            ContentMessage::from_json(piece).map_err(|e| format!("piece {index}: {e}"))?;
        match node.import(message) {
            Ok(ImportOutcome::Applied(_) | ImportOutcome::Queued { .. }) => {}
            Err(e) => return Err(format!("piece {index}: {e}")),
        }
    }
    if let Some(waiting) = node.pending().first() {
        return Err(format!(
            "content for {} still waits for dependencies",
            waiting.id
        ));
    }
    Ok(node)
}

fn read_value(node: &LocalNode, id: &str) -> Result<Value, String> {
    node.read(&co_id(id)?)
        .map(|read| read.value)
        .map_err(|e| format!("reading {id}: {e}"))
}

fn role_of(node: &LocalNode, group: &str, member: &str) -> Result<Value, String> {
    let state = node
        .group_state(&co_id(group)?)
        .map_err(|e| e.to_string())?;
    let mut lookup = std::collections::HashMap::new();
    // Parents are resolved through the node's own states.
    for parent in state.parent_ids() {
        let parent_state = node
            .group_state(&co_id(parent)?)
            .map_err(|e| e.to_string())?;
        lookup.insert(parent.to_owned(), parent_state);
    }
    Ok(state
        .role_of(member, None, &lookup)
        .map_or(Value::Null, |r| Value::from(r.as_str())))
}

fn raw_entry(node: &LocalNode, group: &str, key: &str) -> Result<Value, String> {
    let state = node
        .group_state(&co_id(group)?)
        .map_err(|e| e.to_string())?;
    Ok(state.map().get(key, None).cloned().unwrap_or(Value::Null))
}

fn expect_eq(what: &str, got: &Value, want: &Value) -> Result<(), String> {
    // Compare as JS values: stable JSON ignores key order and `0.0` vs `0`.
    let (g, w) = (
        jazz_req_core::crypto::stable_stringify(got),
        jazz_req_core::crypto::stable_stringify(want),
    );
    if g == w {
        Ok(())
    } else {
        Err(format!("{what}: got {g}, want {w}"))
    }
}

/// Checks every `expected` entry of `covalues.json`, reading as Alice (`crypto.json`
/// `agents[0]`). Returns how many expectations were checked.
pub fn check_covalues(covalues: &Value, crypto: &Value) -> Result<usize, String> {
    let ids = covalues.get("ids").ok_or("ids missing")?;
    let alice = crypto
        .get("agents")
        .and_then(|a| a.get(0))
        .ok_or("crypto.json agents[0] missing")?;
    let pieces: Vec<Value> = covalues
        .get("pieces")
        .and_then(Value::as_object)
        .ok_or("pieces missing")?
        .values()
        .flat_map(|list| list.as_array().cloned().unwrap_or_default())
        .collect();
    let node = node_with(
        text(ids, "aliceAccount")?,
        text(alice, "agentSecret")?,
        &pieces,
    )?;
    let expected = covalues
        .get("expected")
        .and_then(Value::as_object)
        .ok_or("expected missing")?;
    let mut checked = 0;
    for (name, want) in expected {
        match name.as_str() {
            "groupRoles" | "everyoneGroupRoles" => {
                let group = text(
                    ids,
                    if name == "groupRoles" {
                        "group"
                    } else {
                        "everyoneGroup"
                    },
                )?;
                for (member, role) in want.as_object().ok_or("roles are not an object")? {
                    let got = if member == "everyone" {
                        raw_entry(&node, group, member)?
                    } else {
                        role_of(&node, group, member)?
                    };
                    expect_eq(&format!("{name}.{member}"), &got, role)?;
                    checked += 1;
                }
            }
            value_name => {
                let got = read_value(&node, text(ids, value_name)?)?;
                expect_eq(value_name, &got, want)?;
                checked += 1;
            }
        }
    }
    Ok(checked)
}

fn person<'a>(people: &'a Value, name: &str) -> Result<(&'a str, &'a str), String> {
    let entry = people
        .get(name)
        .ok_or_else(|| format!("no person {name}"))?;
    Ok((text(entry, "accountID")?, text(entry, "agentSecret")?))
}

fn authored_a_session(node: &LocalNode, id: &str, account: &str) -> Result<bool, String> {
    let value = node.get(&co_id(id)?).ok_or("not loaded")?;
    Ok(value
        .sessions()
        .any(|log| log.session_id().author().to_string() == account && !log.is_empty()))
}

/// Checks one scenario of `scenarios.json`; returns how many expectations were checked.
pub fn check_scenario(scenario: &Value, people: &Value) -> Result<usize, String> {
    let observer = text(scenario, "observer")?;
    let (account, secret) = person(people, observer)?;
    let pieces = scenario
        .get("pieces")
        .and_then(Value::as_array)
        .ok_or("pieces missing")?;
    let ids: Vec<&str> = scenario
        .get("ids")
        .and_then(Value::as_array)
        .ok_or("ids missing")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let (Some(first), Some(value_id)) = (ids.first().copied(), ids.last().copied()) else {
        return Err("ids is empty".into());
    };
    let group = first;
    let child = if ids.len() >= 3 {
        ids[ids.len() - 2]
    } else {
        group
    };
    let node = node_with(account, secret, pieces)?;
    let expected = scenario
        .get("expected")
        .and_then(Value::as_object)
        .ok_or("expected missing")?;
    let mut checked = 0;
    for (name, want) in expected {
        if name == "map" || name == "list" {
            expect_eq(name, &read_value(&node, value_id)?, want)?;
        } else if name == "roles" {
            for (who, role) in want.as_object().ok_or("roles is not an object")? {
                let got = if who == "everyone" {
                    raw_entry(&node, group, "everyone")?
                } else if let Some(name) = who.strip_suffix("InChild") {
                    role_of(&node, child, person(people, name)?.0)?
                } else {
                    role_of(&node, group, person(people, who)?.0)?
                };
                expect_eq(&format!("roles.{who}"), &got, role)?;
            }
        } else if let Some(who) = name.strip_suffix("RoleEntry") {
            let account = person(people, &capitalised(who))?.0;
            expect_eq(name, &raw_entry(&node, group, account)?, want)?;
        } else if name == "readKey" {
            expect_eq(name, &raw_entry(&node, group, "readKey")?, want)?;
        } else if let Some(who) = name.strip_suffix("ProducedATransaction") {
            let account = person(people, &capitalised(who))?.0;
            let got = Value::Bool(authored_a_session(&node, value_id, account)?);
            expect_eq(name, &got, want)?;
        } else if let Some(who) = name.strip_suffix("Sees") {
            let (their_account, their_secret) = person(people, &capitalised(who))?;
            let theirs = node_with(their_account, their_secret, pieces)?;
            expect_eq(name, &read_value(&theirs, value_id)?, want)?;
        } else if name == "converged" {
            // Both peers read the same list: checked through `list` and `<name>Sees`.
            if want != &Value::Bool(true) {
                return Err("the real peers did not converge; nothing to compare".into());
            }
        } else {
            return Err(format!("expectation {name:?} has no check"));
        }
        checked += 1;
    }
    Ok(checked)
}

fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Checks every scenario of `scenarios.json`, naming the failing one.
pub fn check_scenarios(file: &Value) -> Result<usize, String> {
    let people = file.get("people").ok_or("people missing")?;
    let scenarios = crate::fixtures::section(file, "scenarios")?;
    let mut checked = 0;
    for scenario in scenarios {
        let name = scenario.get("name").and_then(Value::as_str).unwrap_or("?");
        checked += check_scenario(scenario, people).map_err(|e| format!("scenario {name}: {e}"))?;
    }
    Ok(checked)
}
