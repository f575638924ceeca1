//! The jazz-tools side of the unique CoValue tests (issue 22: `tests/tests/unique_covalues.rs`
//! and `unique_race_live.rs`): the schema of `tests/js/unique-common.mjs` declared in Rust,
//! and the Node scripts that use it.
//!
//! - [`Settings`]: one unique CoMap schema whose inits say who wrote them (`js` or `rust`);
//! - [`unique_settings`] (`POST /api/unique-settings`, [`UniqueSettings`]): a Rust route whose
//!   handler calls `ctx.get_or_create_unique`; `uniqueSettingsRoute` of
//!   `tests/js/unique-common.mjs` is the same route for jazz-tools clients; [`unique_misc`]
//!   (`POST /api/unique-misc`) calls the handler's other unique forms;
//! - [`run_unique_ids`] runs `tests/js/unique-ids.mjs` (ids jazz-tools computes and creates
//!   for unique keys; what it reads of unique values made in Rust);
//! - [`UniqueRacer`] runs `tests/js/unique-race.mjs`: a jazz-tools app, a peer of a sync
//!   server, that can go offline, call `getOrCreateUnique`, call the Rust worker's
//!   unique-settings route and read the value back, one command at a time.

use std::path::Path;
use std::time::Duration;

use jazz_req::prelude::*;
use serde_json::{Value, json};

use crate::child_process::{ChildError, ChildProcess};
use crate::node::{NodeError, run_node_script_within, spawn_node_script};

/// How long one script run or one racer command may take.
pub const UNIQUE_TIMEOUT: Duration = Duration::from_secs(90);

/// `co.map({ label: z.string(), js: z.string().optional(), rust: z.string().optional() })`:
/// settings whose init leaves the writer's mark in `js` or `rust`.
#[derive(CoMap, Clone, Debug, PartialEq)]
pub struct Settings {
    /// What the init calls it.
    pub label: String,
    /// Set by a jazz-tools init.
    pub js: Option<String>,
    /// Set by a Rust init.
    pub rust: Option<String>,
}

impl Settings {
    /// The settings as `view` of `unique-common.mjs` shows them (absent fields left out).
    pub fn view(&self) -> Value {
        let mut view = json!({ "label": self.label });
        if let Some(js) = &self.js {
            view["js"] = json!(js);
        }
        if let Some(rust) = &self.rust {
            view["rust"] = json!(rust);
        }
        view
    }
}

/// What [`unique_settings`] answers: the settings as the worker reads them, in plain fields
/// (no reference, so a caller never receives the value itself).
#[derive(CoMap, Debug, PartialEq)]
pub struct SettingsRead {
    /// The settings' id.
    pub id: String,
    /// Their label.
    pub label: String,
    /// Set by a jazz-tools init.
    pub js: Option<String>,
    /// Set by a Rust init.
    pub rust: Option<String>,
}

/// `POST /api/unique-settings`: the [`Settings`] unique by `key` and owned by `owner` (a
/// group's or an account's id), created with the init `{label, rust: mark}` when nobody has
/// them yet, as the worker reads them now.
#[jazz_request(url = "/api/unique-settings")]
pub async fn unique_settings(
    ctx: RequestContext,
    owner: String,
    key: String,
    label: String,
    mark: String,
) -> Result<SettingsRead, JazzRequestError> {
    let owner = Group::new(
        CoID::parse(&owner).map_err(|_| JazzRequestError::new("owner is not a co_z… id", 400))?,
    );
    let init = Settings {
        label,
        js: None,
        rust: Some(mark),
    };
    let settings = ctx
        .get_or_create_unique(key.as_str(), &owner, init, Settings::resolve())
        .await?;
    Ok(SettingsRead {
        id: settings.id().as_str().to_owned(),
        label: settings.label.clone(),
        js: settings.js.clone(),
        rust: settings.rust.clone(),
    })
}

/// What [`unique_misc`] answers.
#[derive(CoMap, Debug, PartialEq)]
pub struct UpsertRead {
    /// Whether `load_unique` found the settings before the upsert.
    pub existed: bool,
    /// The settings' id.
    pub id: String,
    /// Their label after the upsert.
    pub label: String,
    /// Their `rust` after the upsert.
    pub rust: Option<String>,
    /// The items of the unique list of the same key and owner, joined with `,`, after
    /// `get_or_create_unique_list` (created holding `[mark]`), as `load_unique_list` reads them.
    pub tags: String,
}

/// `POST /api/unique-misc`: the other unique forms of a handler, on the [`Settings`] and the
/// list of strings unique by `key` and owned by `owner`: `load_unique` (whether they exist),
/// `upsert_unique` (to `{label, rust: mark}`), `get_or_create_unique_list` (init `[mark]`),
/// `load_unique_list`.
#[jazz_request(url = "/api/unique-misc")]
pub async fn unique_misc(
    ctx: RequestContext,
    owner: String,
    key: String,
    label: String,
    mark: String,
) -> Result<UpsertRead, JazzRequestError> {
    let owner = Group::new(
        CoID::parse(&owner).map_err(|_| JazzRequestError::new("owner is not a co_z… id", 400))?,
    );
    let before = ctx
        .load_unique::<Settings>(key.as_str(), &owner, Settings::resolve())
        .await?;
    let value = Settings {
        label,
        js: None,
        rust: Some(mark.clone()),
    };
    let settings = ctx
        .upsert_unique(key.as_str(), &owner, value, Settings::resolve())
        .await?;
    let made = ctx
        .get_or_create_unique_list(key.as_str(), &owner, vec![mark], CoList::resolve())
        .await?;
    let tags = ctx
        .load_unique_list::<String>(key.as_str(), &owner, CoList::resolve())
        .await?
        .ok_or_else(|| JazzRequestError::new("the list is not there", 500))?;
    if tags.id() != made.id() {
        return Err(JazzRequestError::new("two lists", 500));
    }
    Ok(UpsertRead {
        existed: before.is_some(),
        id: settings.id().as_str().to_owned(),
        label: settings.label.clone(),
        rust: settings.rust.clone(),
        tags: tags.items()?.join(","),
    })
}

/// What can go wrong while driving the scripts.
#[derive(Debug, thiserror::Error)]
pub enum UniquePeerError {
    /// npm or node failed, or a script failed or timed out (with its stderr).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The racer exited, stayed silent or printed something other than JSON (with its
    /// stderr).
    #[error(transparent)]
    Child(#[from] ChildError),
    /// A script printed something other than the JSON expected, or a command failed.
    #[error("{script}: {output}")]
    BadOutput {
        /// The script.
        script: &'static str,
        /// What it printed (possibly truncated).
        output: String,
    },
}

const IDS_SCRIPT: &str = "unique-ids.mjs";
const RACE_SCRIPT: &str = "unique-race.mjs";

/// Runs `unique-ids.mjs` with `input` (see its header) and returns its JSON line.
///
/// # Errors
/// [`UniquePeerError::Node`] when it fails or times out; [`UniquePeerError::BadOutput`].
pub fn run_unique_ids(input: &Value) -> Result<Value, UniquePeerError> {
    let output = run_node_script_within(Path::new(IDS_SCRIPT), &input.to_string(), UNIQUE_TIMEOUT)?;
    let line = output.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|_| UniquePeerError::BadOutput {
        script: IDS_SCRIPT,
        output: output.chars().take(2000).collect(),
    })
}

/// A running `unique-race.mjs`; killed on drop.
#[derive(Debug)]
pub struct UniqueRacer {
    process: ChildProcess,
    /// The account that races with `getOrCreateUnique` (and goes offline).
    pub creator: CoID,
    /// The account that calls the Rust worker's route.
    pub caller: CoID,
    /// The creator's group (everyone: reader; the worker: writer): the unique value's owner.
    pub group: CoID,
}

impl UniqueRacer {
    /// Starts the racer against the sync server `sync_url` and the Rust worker at
    /// `base_url` (account `worker`), and waits until its accounts and group are on the
    /// server.
    ///
    /// # Errors
    /// As [`UniqueRacer::command`].
    pub fn start(sync_url: &str, base_url: &str, worker: &CoID) -> Result<Self, UniquePeerError> {
        let mut process = spawn_node_script(Path::new(RACE_SCRIPT), [""; 0])?;
        process.write_line(
            &json!({"url": sync_url, "baseUrl": base_url, "workerAccountID": worker.as_str()})
                .to_string(),
        )?;
        let ready = process.next_line(UNIQUE_TIMEOUT)?;
        let id = |key: &str| {
            ready
                .get(key)
                .and_then(Value::as_str)
                .and_then(|s| CoID::parse(s).ok())
        };
        let (Some(creator), Some(caller), Some(group)) =
            (id("creatorID"), id("callerID"), id("groupID"))
        else {
            return Err(UniquePeerError::BadOutput {
                script: RACE_SCRIPT,
                output: ready.to_string(),
            });
        };
        Ok(Self {
            process,
            creator,
            caller,
            group,
        })
    }

    /// Sends one command (see the script's header) and returns its answer.
    ///
    /// # Errors
    /// [`UniquePeerError::Child`] when the racer exits or stays silent for
    /// [`UNIQUE_TIMEOUT`]; [`UniquePeerError::BadOutput`] when the command failed there.
    pub fn command(&mut self, command: &Value) -> Result<Value, UniquePeerError> {
        self.process.write_line(&command.to_string())?;
        let answer = self.process.next_line(UNIQUE_TIMEOUT)?;
        if let Some(failed) = answer.get("failed") {
            return Err(UniquePeerError::BadOutput {
                script: RACE_SCRIPT,
                output: format!("{command} failed: {failed}\n{}", self.process.stderr_text()),
            });
        }
        Ok(answer)
    }
}
