//! String-backed enums (statuses, kinds, levels): one declaration gives the
//! text a value has in SQL and JSON (`as_str`), its parser, and for a value
//! stored in one column, the error that names that column. Pure: no I/O.

use std::fmt;

/// A stored value that no variant of its type has (a newer version wrote it,
/// or a hand-made row): an error naming where it was read, never a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub table: &'static str,
    pub column: &'static str,
    pub value: String,
    /// The values this version knows.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown value {:?} in {}.{} ({})",
            self.value,
            self.table,
            self.column,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownValue {}

/// Declares a string-backed enum: `as_str`, `ALL`, `NAMES`, `Display`,
/// `Serialize` (as `as_str`), and `TryFrom<String>` (how sqlx reads the
/// column: an unknown value is an error, never silently some default). With
/// `stored in "table"."column"`, that error is an [`UnknownValue`] naming the
/// column (`Error::UnknownValue` once read); otherwise a message. `FromStr`
/// comes from [`text_from_str!`] (exact or any case), or is written by the
/// enum when it accepts synonyms.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }
     $what:literal stored in $table:literal . $column:literal) => {
        $crate::text_enum::text_enum!(@base $(#[$m])* $name { $($(#[$vm])* $variant => $text),+ } $what);

        impl TryFrom<String> for $name {
            type Error = $crate::text_enum::UnknownValue;
            fn try_from(s: String) -> Result<Self, $crate::text_enum::UnknownValue> {
                s.parse().map_err(|_| $crate::text_enum::UnknownValue {
                    table: $table,
                    column: $column,
                    value: s,
                    expected: $name::NAMES,
                })
            }
        }
    };
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? } $what:literal) => {
        $crate::text_enum::text_enum!(@base $(#[$m])* $name { $($(#[$vm])* $variant => $text),+ } $what);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }
    };
    (@base $(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ } $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The texts of `ALL`, in order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// The variant whose text is exactly `s`.
            #[allow(dead_code)]
            fn named(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }
            /// The variant whose text is `s`, in any case, around whitespace.
            #[allow(dead_code)]
            fn any_case(s: &str) -> Option<$name> {
                let lower = s.trim().to_ascii_lowercase();
                $name::named(&lower)
            }
            fn unknown(s: &str) -> String {
                format!("unknown {} {s:?} ({})", $what, $name::NAMES.join(", "))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// `FromStr` for a [`text_enum!`]: `exact` takes only the text itself (what
/// is stored), `any_case` also another case and surrounding whitespace (what
/// people type).
macro_rules! text_from_str {
    ($name:ident, exact) => {
        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::named(s).ok_or_else(|| $name::unknown(s))
            }
        }
    };
    ($name:ident, any_case) => {
        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::any_case(s).ok_or_else(|| $name::unknown(s))
            }
        }
    };
}
pub(crate) use text_from_str;

#[cfg(test)]
mod tests {
    text_enum!(
        Colour {
            Red => "red",
            DarkBlue => "dark_blue",
        } "colour" stored in "paints"."colour"
    );

    text_from_str!(Colour, exact);

    #[test]
    fn a_stored_enum_names_its_column() {
        for c in Colour::ALL {
            assert_eq!(Colour::try_from(c.as_str().to_string()), Ok(*c));
            assert_eq!(serde_json::to_string(c).ok(), Some(format!("\"{c}\"")));
        }
        let e = Colour::try_from("Red".to_string()).unwrap_err();
        assert_eq!(
            (e.table, e.column, e.value.as_str()),
            ("paints", "colour", "Red")
        );
        assert_eq!(
            e.to_string(),
            "unknown value \"Red\" in paints.colour (red, dark_blue)"
        );
        assert_eq!(
            "blue".parse::<Colour>(),
            Err("unknown colour \"blue\" (red, dark_blue)".to_string())
        );
    }
}
