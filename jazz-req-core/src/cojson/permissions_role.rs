//! Group roles and the comparisons cojson makes between them (`src/permissions.ts`,
//! `src/coValues/group.ts`).

use std::fmt;

/// A member's role in a group, as stored in the group map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Reads and writes, and manages every member.
    Admin,
    /// Reads and writes, and manages members other than admins.
    Manager,
    /// Reads and writes the group's CoValues.
    Writer,
    /// Reads the group's CoValues.
    Reader,
    /// Writes without reading others' changes (has its own write key).
    WriteOnly,
    /// No longer a member.
    Revoked,
    /// An invite that may make itself an admin.
    AdminInvite,
    /// An invite that may make itself a manager.
    ManagerInvite,
    /// An invite that may make itself a writer.
    WriterInvite,
    /// An invite that may make itself a reader.
    ReaderInvite,
    /// An invite that may make itself write-only.
    WriteOnlyInvite,
}

impl Role {
    /// Parses the string cojson stores; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "admin" => Self::Admin,
            "manager" => Self::Manager,
            "writer" => Self::Writer,
            "reader" => Self::Reader,
            "writeOnly" => Self::WriteOnly,
            "revoked" => Self::Revoked,
            "adminInvite" => Self::AdminInvite,
            "managerInvite" => Self::ManagerInvite,
            "writerInvite" => Self::WriterInvite,
            "readerInvite" => Self::ReaderInvite,
            "writeOnlyInvite" => Self::WriteOnlyInvite,
            _ => return None,
        })
    }

    /// The string cojson stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Manager => "manager",
            Self::Writer => "writer",
            Self::Reader => "reader",
            Self::WriteOnly => "writeOnly",
            Self::Revoked => "revoked",
            Self::AdminInvite => "adminInvite",
            Self::ManagerInvite => "managerInvite",
            Self::WriterInvite => "writerInvite",
            Self::ReaderInvite => "readerInvite",
            Self::WriteOnlyInvite => "writeOnlyInvite",
        }
    }

    /// Admin or manager (`canAdmin`).
    pub fn is_admin_like(self) -> bool {
        matches!(self, Self::Admin | Self::Manager)
    }

    /// May write to CoValues owned by the group.
    pub fn can_write(self) -> bool {
        matches!(
            self,
            Self::Admin | Self::Manager | Self::Writer | Self::WriteOnly
        )
    }

    /// May read CoValues owned by the group.
    pub fn can_read(self) -> bool {
        matches!(
            self,
            Self::Admin | Self::Manager | Self::Writer | Self::Reader
        )
    }

    /// Passed down from a parent group (`isInheritableRole`).
    pub fn is_inheritable(self) -> bool {
        matches!(
            self,
            Self::Revoked | Self::Admin | Self::Manager | Self::Writer | Self::Reader
        )
    }

    /// The role an invite of this kind may give itself.
    pub fn invited_role(self) -> Option<Self> {
        match self {
            Self::AdminInvite => Some(Self::Admin),
            Self::ManagerInvite => Some(Self::Manager),
            Self::WriterInvite => Some(Self::Writer),
            Self::ReaderInvite => Some(Self::Reader),
            Self::WriteOnlyInvite => Some(Self::WriteOnly),
            _ => None,
        }
    }

    /// May reveal keys (`_for_`, `_sealedFor_`): admins, managers and every invite.
    pub fn can_reveal_keys(self) -> bool {
        matches!(
            self,
            Self::Admin
                | Self::Manager
                | Self::AdminInvite
                | Self::ManagerInvite
                | Self::WriterInvite
                | Self::ReaderInvite
                | Self::WriteOnlyInvite
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `isHigherRole(a, b)`: used while validating a group's own transactions.
pub(crate) fn is_higher_role(a: Role, b: Option<Role>) -> bool {
    if a == Role::Revoked {
        return false;
    }
    let Some(b) = b.filter(|b| *b != Role::Revoked) else {
        return true;
    };
    if b == Role::Admin {
        return false;
    }
    if a == Role::Admin {
        return true;
    }
    if b == Role::Manager {
        return false;
    }
    if a == Role::Manager {
        return true;
    }
    a == Role::Writer && b == Role::Reader
}

/// `isMorePermissiveAndShouldInherit(parentRole, childRole)`: used when reading roles.
pub(crate) fn should_inherit(parent: Role, child: Option<Role>) -> bool {
    match parent {
        Role::Revoked => true,
        Role::Manager => !matches!(child, Some(Role::Manager | Role::Admin)),
        Role::Admin => child != Some(Role::Admin),
        Role::Writer => matches!(child, None | Some(Role::Reader | Role::WriteOnly)),
        Role::Reader => child.is_none(),
        _ => false,
    }
}

/// How a child group takes roles from a parent (`parent_<id>` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentRoleMapping {
    /// Members keep their parent role.
    Extend,
    /// Every inheritable parent member gets this role.
    Fixed(Role),
    /// The parent no longer counts.
    Revoked,
}

impl ParentRoleMapping {
    /// Parses `extend|reader|writer|manager|admin|revoked`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "extend" => Some(Self::Extend),
            "revoked" => Some(Self::Revoked),
            "reader" => Some(Self::Fixed(Role::Reader)),
            "writer" => Some(Self::Fixed(Role::Writer)),
            "manager" => Some(Self::Fixed(Role::Manager)),
            "admin" => Some(Self::Fixed(Role::Admin)),
            _ => None,
        }
    }

    /// The role a member with `parent_role` in the parent gets through this mapping.
    pub(crate) fn map(self, parent_role: Role) -> Option<Role> {
        match self {
            Self::Extend => Some(parent_role),
            Self::Fixed(role) => Some(role),
            Self::Revoked => None,
        }
    }
}
