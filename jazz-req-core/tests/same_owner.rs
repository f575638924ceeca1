//! `#[co(same_owner)]` on its own (schemas implemented by hand, as `#[derive(CoMap)]` writes
//! them): a reference field must point at a CoValue of the map's own owner; a map made in
//! one group borrowing another group's list is a forged reference, answered 403.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{LocalNode, ResolveQuery};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::schema::{
    CoField, CoList, CoMapSchema, FieldInfo, Group, Loaded, MapReader, MapWriter, Owner, Ref,
    ResolveBuilder, ResolveFields, SchemaError, Tx, invalid_request, read_loaded,
};
use serde_json::json;

/// A board: a title, its items (guarded) and an optional pinned note (guarded).
#[derive(Debug)]
struct Board {
    title: String,
    items: CoList<String>,
    pinned: Option<Ref<Note>>,
}

#[derive(Debug)]
struct Note {
    text: String,
}

#[derive(Default)]
struct BoardResolve(ResolveFields);
impl BoardResolve {
    fn items(
        self,
        f: impl FnOnce(<CoList<String> as CoField>::Resolve) -> <CoList<String> as CoField>::Resolve,
    ) -> Self {
        Self(self.0.field::<CoList<String>>("items", f))
    }
}
impl ResolveBuilder for BoardResolve {
    fn into_query(self) -> ResolveQuery {
        self.0.into_query()
    }
}

// What `#[derive(CoMap)]` generates for `#[co(same_owner)] items` and `#[co(same_owner)]
// pinned`: the owners first, then the fields.
impl CoMapSchema for Board {
    const NAME: &'static str = "Board";
    const FIELDS: &'static [FieldInfo] = &[];
    type Resolve = BoardResolve;
    fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError> {
        map.check_same_owner("items")?;
        map.check_same_owner("pinned")?;
        Ok(Self {
            title: map.field("title")?,
            items: map.field("items")?,
            pinned: map.field("pinned")?,
        })
    }
    fn write_map(&self, map: &mut MapWriter) {
        map.field("title", &self.title);
        map.field("items", &self.items);
        map.field("pinned", &self.pinned);
    }
}

#[derive(Default)]
struct NoteResolve(ResolveFields);
impl ResolveBuilder for NoteResolve {
    fn into_query(self) -> ResolveQuery {
        self.0.into_query()
    }
}

impl CoMapSchema for Note {
    const NAME: &'static str = "Note";
    const FIELDS: &'static [FieldInfo] = &[];
    type Resolve = NoteResolve;
    fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError> {
        Ok(Self {
            text: map.field("text")?,
        })
    }
    fn write_map(&self, map: &mut MapWriter) {
        map.field("text", &self.text);
    }
}

fn node() -> (LocalNode, Group) {
    let (node, account) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Owner").unwrap();
    (node, Group::new(account))
}

/// A board in `board_group` whose items list is in `list_group` (and pinned note, if any,
/// in `note_group`).
fn board(
    node: &mut LocalNode,
    board_group: &Group,
    list_group: &Group,
    note_group: Option<&Group>,
) -> Loaded<Board> {
    node.batch(|node| {
        let mut tx = Tx::new(node);
        let items = tx.create_list(list_group, vec!["a".to_owned()])?;
        let pinned = match note_group {
            Some(group) => Some(
                tx.create(
                    group,
                    Note {
                        text: "pinned".into(),
                    },
                )?
                .to_ref(),
            ),
            None => None,
        };
        tx.create(
            board_group,
            Board {
                title: "Board".into(),
                items,
                pinned,
            },
        )
    })
    .unwrap()
}

fn groups(node: &mut LocalNode) -> (Group, Group) {
    node.batch(|node| {
        let mut tx = Tx::new(node);
        Ok((tx.create_group()?, tx.create_group()?))
    })
    .unwrap()
}

fn items_query() -> ResolveQuery {
    Board::resolve().items(|r| r).into_query()
}

#[test]
fn references_into_the_maps_own_group_read() {
    let (mut node, _) = node();
    let (group, _) = groups(&mut node);
    let board = board(&mut node, &group, &group, Some(&group));
    let read: Loaded<Board> = read_loaded(&node, board.id(), &items_query()).unwrap();
    assert_eq!(read.title, "Board");
    assert_eq!(read.items.items().unwrap(), ["a".to_owned()]);
    assert!(read.pinned.is_some());
    // No pinned note: an absent optional reference has nothing to check.
    let board = self::board(&mut node, &group, &group, None);
    let read: Loaded<Board> = read_loaded(&node, board.id(), &ResolveQuery::Value).unwrap();
    assert!(read.pinned.is_none());
}

#[test]
fn a_list_of_another_group_is_a_foreign_reference_naming_the_field() {
    let (mut node, _) = node();
    let (mine, theirs) = groups(&mut node);
    let forged = board(&mut node, &mine, &theirs, None);
    // Whether or not the resolve query loads the list: the node holds it, so it is checked.
    for query in [items_query(), ResolveQuery::Value] {
        let error = read_loaded::<Board>(&node, forged.id(), &query).unwrap_err();
        let SchemaError::ForeignReference(foreign) = &error else {
            panic!("not a foreign reference: {error}");
        };
        assert_eq!(&foreign.covalue, forged.id());
        assert_eq!(foreign.schema, "Board");
        assert_eq!(foreign.field, "items");
        assert_eq!(&foreign.reference, forged.items.id());
        assert_eq!(foreign.owner, Owner::Group(theirs.id().clone()));
        assert_eq!(foreign.expected_owner, Owner::Group(mine.id().clone()));
        let message = error.to_string();
        for part in [
            forged.id().as_str(),
            "`items`",
            forged.items.id().as_str(),
            theirs.id().as_str(),
            mine.id().as_str(),
        ] {
            assert!(message.contains(part), "{message} names {part}");
        }
        let details = error.details();
        assert_eq!(details["covalue"], json!(forged.id().as_str()));
        assert_eq!(details["field"], json!("items"));
        assert_eq!(details["reference"], json!(forged.items.id().as_str()));
    }
    // A guarded optional reference too.
    let forged = board(&mut node, &mine, &mine, Some(&theirs));
    let error = read_loaded::<Board>(&node, forged.id(), &ResolveQuery::Value).unwrap_err();
    assert!(
        matches!(&error, SchemaError::ForeignReference(foreign) if foreign.field == "pinned"),
        "{error}"
    );
}

#[test]
fn a_forged_reference_is_refused_with_403_other_schema_errors_stay_400() {
    let (mut node, _) = node();
    let (mine, theirs) = groups(&mut node);
    let forged = board(&mut node, &mine, &theirs, None);
    let error = read_loaded::<Board>(&node, forged.id(), &items_query()).unwrap_err();
    let answer = invalid_request(&error);
    assert_eq!(answer.code, 403);
    assert_eq!(
        answer.message,
        format!(
            "Forged reference: field `items` of {} points at {}, owned by another group",
            forged.id(),
            forged.items.id()
        )
    );
    assert_eq!(answer.details, Some(error.details()));

    let missing = SchemaError::Missing {
        covalue: forged.id().clone(),
        schema: "Board",
        field: "title".into(),
    };
    let answer = invalid_request(&missing);
    assert_eq!(answer.code, 400);
    assert_eq!(answer.message, "Request payload is not valid");
}

#[test]
fn an_account_owned_map_needs_references_owned_by_that_account() {
    let (mut node, account) = node();
    let (group, _) = groups(&mut node);
    let own = board(&mut node, &account, &account, None);
    let read: Loaded<Board> = read_loaded(&node, own.id(), &items_query()).unwrap();
    assert_eq!(read.items.items().unwrap().len(), 1);

    let forged = board(&mut node, &account, &group, None);
    let error = read_loaded::<Board>(&node, forged.id(), &items_query()).unwrap_err();
    assert!(
        matches!(
            &error,
            SchemaError::ForeignReference(foreign)
                if foreign.owner == Owner::Group(group.id().clone())
                    && foreign.expected_owner == Owner::Group(account.id().clone())
        ),
        "{error}"
    );
}

#[test]
fn what_the_node_does_not_hold_cannot_be_checked() {
    let (mut node, _) = node();
    let (mine, theirs) = groups(&mut node);
    let forged = board(&mut node, &mine, &theirs, None);
    // The node holds the board and its group, not the list.
    let mut other = node;
    other.evict(&[forged.items.id().clone()]);
    assert!(other.get(forged.items.id()).is_none());
    // Not named by the resolve query: read as an unloaded reference.
    let read: Loaded<Board> = read_loaded(&other, forged.id(), &ResolveQuery::Value).unwrap();
    assert!(read.items.items().is_err());
    // Named: not loaded, as any reference the node lacks.
    let error = read_loaded::<Board>(&other, forged.id(), &items_query()).unwrap_err();
    assert!(matches!(error, SchemaError::NotLoaded(_)), "{error}");
}

#[test]
fn a_list_in_a_group_extending_the_maps_group_reads_the_other_way_round_does_not() {
    // jazz-tools creates a list given inline in a new group that extends its container's.
    let (mut node, _) = node();
    let (parent, stranger) = groups(&mut node);
    let (child, grandchild) = groups(&mut node);
    node.batch(|node| {
        node.extend(child.id(), parent.id(), None)?;
        node.extend(grandchild.id(), child.id(), None)
    })
    .unwrap();
    for list_group in [&child, &grandchild] {
        let board = board(&mut node, &parent, list_group, None);
        let read: Loaded<Board> = read_loaded(&node, board.id(), &items_query()).unwrap();
        assert_eq!(read.items.items().unwrap().len(), 1);
    }
    // A map in the child group does not own its parent's list, and a stranger's map does
    // not own a list of a group that extends someone else's.
    for (board_group, list_group) in [(&child, &parent), (&stranger, &child)] {
        let forged = board(&mut node, board_group, list_group, None);
        let error = read_loaded::<Board>(&node, forged.id(), &items_query()).unwrap_err();
        assert!(
            matches!(&error, SchemaError::ForeignReference(foreign) if foreign.field == "items"),
            "{error}"
        );
    }
}
