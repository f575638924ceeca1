//! Validated group states are kept between reads and dropped only for what depends on a
//! group that arrives, changes or leaves: a child group's roles follow its parent's changes,
//! a parent arriving after its child was read, and the parent leaving memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeMap;

use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery, permissions_role::Role};
use jazz_req_core::crypto::{CoID, random::new_random_agent_secret};

fn account(name: &str) -> (LocalNode, CoID) {
    LocalNode::create_account(new_random_agent_secret().unwrap(), name).unwrap()
}

/// The pieces of `id` itself (an export brings what it depends on too: a child's parent).
fn pieces(node: &LocalNode, id: &CoID) -> Vec<ContentMessage> {
    let mut pieces = node.export(id, &ResolveQuery::Value).unwrap();
    pieces.retain(|p| &p.id == id);
    pieces
}

/// The effective roles in `group` as `node` reads it (twice: the second read is served from
/// the kept states and must agree).
fn roles(node: &LocalNode, group: &CoID) -> BTreeMap<String, Role> {
    let first = node.read(group).unwrap().roles.unwrap();
    let again = node.read(group).unwrap().roles.unwrap();
    assert_eq!(first, again, "a kept state reads as a fresh one");
    first
}

#[test]
fn a_childs_roles_follow_its_parent_as_it_changes_arrives_and_leaves() {
    let (mut admin, _) = account("Admin");
    let (member_node, member) = account("Member");
    for piece in pieces(&member_node, &member) {
        admin.import(piece).unwrap();
    }
    let parent = admin.create_group().unwrap();
    let child = admin.create_group().unwrap();
    admin.extend(&child, &parent, None).unwrap();
    let key = member.as_str();

    // Each step: what changes in the parent, and the member's role in the child after it.
    let steps: [(Role, Option<Role>); 3] = [
        (Role::Reader, Some(Role::Reader)),
        (Role::Writer, Some(Role::Writer)),
        (Role::Revoked, None),
    ];
    for (given, expected) in steps {
        assert!(!roles(&admin, &child).is_empty());
        if given == Role::Revoked {
            admin.remove_member(&parent, key).unwrap();
        } else {
            admin.add_member(&parent, key, given).unwrap();
        }
        let effective = roles(&admin, &child).get(key).copied();
        assert_eq!(
            effective.filter(|r| *r != Role::Revoked),
            expected,
            "after {given:?}"
        );
    }
    admin.add_member(&parent, key, Role::Writer).unwrap();

    // A node that gets the child before its parent: read without the parent (the member
    // has no role), then the parent arrives and the child is read with it.
    let (mut other, _) = account("Other");
    for id in [&member] {
        for piece in pieces(&admin, id) {
            other.import(piece).unwrap();
        }
    }
    let admin_account = admin.reader().account.clone().unwrap();
    for piece in pieces(&admin, &admin_account) {
        other.import(piece).unwrap();
    }
    for piece in pieces(&admin, &child) {
        other.import(piece).unwrap();
    }
    assert_eq!(roles(&other, &child).get(key), None, "no parent yet");
    for piece in pieces(&admin, &parent) {
        other.import(piece).unwrap();
    }
    assert_eq!(roles(&other, &child).get(key), Some(&Role::Writer));

    // The parent leaves memory: the child reads as without it again.
    other.evict(std::slice::from_ref(&parent));
    assert_eq!(roles(&other, &child).get(key), None, "parent evicted");
}
