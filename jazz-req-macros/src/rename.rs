//! `rename_all` rules: how a Rust field (snake_case) or variant (PascalCase) name becomes the
//! JSON name jazz-tools uses.

/// A `rename_all` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    /// Every rule with the string that selects it.
    pub(crate) const ALL: [(&'static str, Self); 8] = [
        ("lowercase", Self::Lower),
        ("UPPERCASE", Self::Upper),
        ("PascalCase", Self::Pascal),
        ("camelCase", Self::Camel),
        ("snake_case", Self::Snake),
        ("SCREAMING_SNAKE_CASE", Self::ScreamingSnake),
        ("kebab-case", Self::Kebab),
        ("SCREAMING-KEBAB-CASE", Self::ScreamingKebab),
    ];

    /// The rule a `rename_all` string names.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }

    /// Every accepted string, for the error message.
    pub(crate) fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|(n, _)| *n).collect()
    }

    /// Applies the rule to a snake_case field name.
    pub(crate) fn apply_to_field(self, field: &str) -> String {
        let words = field.split('_').filter(|w| !w.is_empty());
        self.join(words.map(str::to_owned).collect())
    }

    /// Applies the rule to a PascalCase variant name.
    pub(crate) fn apply_to_variant(self, variant: &str) -> String {
        let mut words: Vec<String> = Vec::new();
        for c in variant.chars() {
            match words.last_mut() {
                Some(word) if !c.is_uppercase() => word.push(c),
                _ => words.push(c.to_string()),
            }
        }
        self.join(words)
    }

    /// Joins words (any case) as the rule says.
    fn join(self, words: Vec<String>) -> String {
        let lower = || words.iter().map(|w| w.to_lowercase());
        let upper = || words.iter().map(|w| w.to_uppercase());
        match self {
            Self::Lower => lower().collect(),
            Self::Upper => upper().collect(),
            Self::Snake => lower().collect::<Vec<_>>().join("_"),
            Self::ScreamingSnake => upper().collect::<Vec<_>>().join("_"),
            Self::Kebab => lower().collect::<Vec<_>>().join("-"),
            Self::ScreamingKebab => upper().collect::<Vec<_>>().join("-"),
            Self::Pascal => lower().map(|w| capitalize(&w)).collect(),
            Self::Camel => lower()
                .enumerate()
                .map(|(i, w)| if i == 0 { w } else { capitalize(&w) })
                .collect(),
        }
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let cases = [
            ("lowercase", "createdat"),
            ("UPPERCASE", "CREATEDAT"),
            ("PascalCase", "CreatedAt"),
            ("camelCase", "createdAt"),
            ("snake_case", "created_at"),
            ("SCREAMING_SNAKE_CASE", "CREATED_AT"),
            ("kebab-case", "created-at"),
            ("SCREAMING-KEBAB-CASE", "CREATED-AT"),
        ];
        for (rule, expected) in cases {
            let rule = RenameRule::from_name(rule);
            assert_eq!(
                rule.map(|r| r.apply_to_field("created_at")).as_deref(),
                Some(expected)
            );
        }
        assert_eq!(RenameRule::Camel.apply_to_field("name"), "name");
    }

    #[test]
    fn variants() {
        let cases = [
            ("lowercase", "soldout"),
            ("PascalCase", "SoldOut"),
            ("camelCase", "soldOut"),
            ("snake_case", "sold_out"),
            ("SCREAMING_SNAKE_CASE", "SOLD_OUT"),
            ("kebab-case", "sold-out"),
        ];
        for (rule, expected) in cases {
            let rule = RenameRule::from_name(rule);
            assert_eq!(
                rule.map(|r| r.apply_to_variant("SoldOut")).as_deref(),
                Some(expected)
            );
        }
    }

    #[test]
    fn unknown_rule() {
        assert_eq!(RenameRule::from_name("camelcase"), None);
        assert_eq!(RenameRule::names().len(), 8);
    }
}
