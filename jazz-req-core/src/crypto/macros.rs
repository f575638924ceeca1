//! Declarative helpers that give each Jazz string type the same parsing, printing and serde.

/// Implements `Display`, `Debug`, `FromStr`, `Serialize` and `Deserialize` for a type that
/// has `fn parse(&str) -> Result<Self, ParseError>` and `fn write_to(&self, &mut String)`.
macro_rules! jazz_string_impls {
    ($ty:ident) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut s = String::new();
                self.write_to(&mut s);
                f.write_str(&s)
            }
        }
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($ty), self)
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::crypto::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// Defines a public value written as `prefix` + base58 of exactly `len` bytes.
macro_rules! fixed_base58_id {
    ($(#[$doc:meta])* $ty:ident, $prefix:literal, $len:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty([u8; $len]);

        impl $ty {
            /// The prefix of the Jazz string form.
            pub const PREFIX: &'static str = $prefix;
            /// The number of bytes the string form encodes.
            pub const LEN: usize = $len;

            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Parses the Jazz string form, checking prefix, base58 and length.
            pub fn parse(text: &str) -> Result<Self, $crate::crypto::ParseError> {
                let body = $crate::crypto::encoding::strip_prefix(stringify!($ty), $prefix, text)?;
                $crate::crypto::encoding::base58_decode_fixed::<$len>(stringify!($ty), body).map(Self)
            }

            fn write_to(&self, out: &mut String) {
                out.push_str($prefix);
                out.push_str(&$crate::crypto::encoding::base58_encode(&self.0));
            }
        }

        jazz_string_impls!($ty);
    };
}

/// Defines a secret written as `prefix` + base58 of 32 bytes: zeroized on drop, redacted in
/// `Debug`, printed only through `to_secret_string`.
macro_rules! secret_base58 {
    ($(#[$doc:meta])* $ty:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, ::zeroize::Zeroize, ::zeroize::ZeroizeOnDrop)]
        pub struct $ty([u8; 32]);

        impl $ty {
            /// The prefix of the Jazz string form.
            pub const PREFIX: &'static str = $prefix;

            /// Wraps raw secret bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw secret bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Parses the Jazz string form, checking prefix, base58 and length.
            pub fn parse(text: &str) -> Result<Self, $crate::crypto::ParseError> {
                let body = $crate::crypto::encoding::strip_prefix(stringify!($ty), $prefix, text)?;
                let mut bytes = $crate::crypto::encoding::base58_decode_fixed::<32>(stringify!($ty), body)?;
                let secret = Self(bytes);
                ::zeroize::Zeroize::zeroize(&mut bytes);
                Ok(secret)
            }

            /// The Jazz string form. It is the secret itself: keep it out of logs.
            pub fn to_secret_string(&self) -> ::zeroize::Zeroizing<String> {
                let mut s = String::with_capacity($prefix.len() + 45);
                s.push_str($prefix);
                s.push_str(&$crate::crypto::encoding::base58_encode(&self.0));
                ::zeroize::Zeroizing::new(s)
            }
        }

        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, concat!(stringify!($ty), "(<redacted>)"))
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::crypto::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

/// Defines a value written as `prefix` + base64url bytes. The exact text is kept, because
/// cojson hashes it as received (padded or not).
macro_rules! base64_text {
    ($(#[$doc:meta])* $ty:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $ty(String);

        impl $ty {
            /// The prefix of the Jazz string form.
            pub const PREFIX: &'static str = $prefix;

            /// Encodes bytes (padded base64url, as cojson writes).
            pub fn from_bytes(bytes: &[u8]) -> Self {
                Self(format!("{}{}", $prefix, $crate::crypto::encoding::base64url_encode(bytes)))
            }

            /// Parses the Jazz string form, checking prefix and base64url; the text is kept as is.
            pub fn parse(text: &str) -> Result<Self, $crate::crypto::ParseError> {
                let body = $crate::crypto::encoding::strip_prefix(stringify!($ty), $prefix, text)?;
                $crate::crypto::encoding::base64url_decode(stringify!($ty), body)?;
                Ok(Self(text.to_owned()))
            }

            /// The decoded bytes.
            pub fn to_bytes(&self) -> Result<Vec<u8>, $crate::crypto::ParseError> {
                let body = self.0.get($prefix.len()..).unwrap_or_default();
                $crate::crypto::encoding::base64url_decode(stringify!($ty), body)
            }

            /// The Jazz string form, exactly as parsed or produced.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            fn write_to(&self, out: &mut String) {
                out.push_str(&self.0);
            }
        }

        jazz_string_impls!($ty);
    };
}
