//! Unique CoValues and transaction meta, written as jazz-tools 0.20.19 writes them: a
//! unique CoValue's id comes from its owner and key alone (`getUniqueHeader`: `meta: null`,
//! no `createdAt`), and its init is one private transaction whose meta is `{"fww":"init"}`
//! when the first writer wins (`CoMap.create(init, { unique, firstComesWins: true })`, what
//! `getOrCreateUnique` does). When two peers create the same unique value at once, every
//! peer keeps the first writer's init ([`super::tx_meta`]).

use serde_json::{Map, Value};

use super::header::{CoValueHeader, CoValueType, CreatedAt, Ruleset, Uniqueness};
use super::node::LocalNode;
use super::node_error::NodeError;
use super::node_write::{Privacy, list_init_changes, map_init_changes};
use crate::crypto::{CoID, stable_json::js_stringify};

/// The meta of a first-writer-wins init.
const FWW_INIT: &str = "{\"fww\":\"init\"}";

/// The header of the unique value of `co_type` owned by `group` under `uniqueness`.
pub fn unique_header(co_type: CoValueType, group: &CoID, uniqueness: Uniqueness) -> CoValueHeader {
    CoValueHeader {
        co_type,
        ruleset: Ruleset::OwnedByGroup {
            group: group.clone(),
            restrict_deletion: None,
        },
        meta: None,
        created_at: CreatedAt::Absent,
        uniqueness,
    }
}

impl LocalNode {
    /// The id of the unique CoValue of `co_type` owned by `group` under `uniqueness`: the id
    /// jazz-tools computes for `loadUnique` / `getOrCreateUnique`.
    pub fn unique_id(co_type: CoValueType, group: &CoID, uniqueness: &Uniqueness) -> CoID {
        unique_header(co_type, group, uniqueness.clone()).id()
    }

    /// Writes `changes` to `id` with the transaction meta `meta` (written as
    /// `JSON.stringify` writes it; encrypted with the changes when private), after checking
    /// this node may write there.
    pub fn write_with_meta(
        &mut self,
        id: &CoID,
        changes: &[Value],
        privacy: Privacy,
        meta: &Map<String, Value>,
    ) -> Result<(), NodeError> {
        let text = js_stringify(&Value::Object(meta.clone()));
        self.write_with(id, changes, privacy, Some(text))
    }

    /// Creates the unique CoMap owned by `group` under `uniqueness` (unless this node holds
    /// it already) and writes its init as jazz-tools does: one private transaction setting
    /// every key of `init` (even none), with meta `{"fww":"init"}` when `first_writer_wins`.
    /// Returns its id. The init is written even when the node held the value: look for it
    /// first (the typed `Tx::get_or_create_unique` does).
    pub fn create_unique_map(
        &mut self,
        group: &CoID,
        uniqueness: Uniqueness,
        init: &[(&str, Value)],
        first_writer_wins: bool,
    ) -> Result<CoID, NodeError> {
        let id =
            self.create_with_header(group, unique_header(CoValueType::CoMap, group, uniqueness))?;
        let changes = map_init_changes(init);
        let meta = first_writer_wins.then(|| FWW_INIT.to_owned());
        self.write_with(&id, &changes, Privacy::Private, meta)?;
        Ok(id)
    }

    /// Creates the unique CoList owned by `group` under `uniqueness` (unless this node holds
    /// it already) and writes `items` in one private transaction, each appended after the
    /// start as on an empty list, with meta `{"fww":"init"}` when `first_writer_wins`. With
    /// no items, the init is an empty trusting transaction carrying that meta (cojson's
    /// `createList` without items).
    pub fn create_unique_list(
        &mut self,
        group: &CoID,
        uniqueness: Uniqueness,
        items: &[Value],
        first_writer_wins: bool,
    ) -> Result<CoID, NodeError> {
        let id =
            self.create_with_header(group, unique_header(CoValueType::CoList, group, uniqueness))?;
        let changes = list_init_changes(items);
        let meta = first_writer_wins.then(|| FWW_INIT.to_owned());
        let privacy = if items.is_empty() {
            Privacy::Trusting
        } else {
            Privacy::Private
        };
        self.write_with(&id, &changes, privacy, meta)?;
        Ok(id)
    }
}
