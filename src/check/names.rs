//! One declaration per named enum: the variants and the words reports, profiles and the
//! store use for them.
//!
//! Each enum here used to spell its names twice (serde attributes and a `Display` table);
//! [`named_enum!`] writes `as_str`, `Display`, `FromStr`, `ALL`, `Serialize` and
//! `Deserialize` from one list, so a new variant without a name does not compile.

/// Declares a fieldless enum whose variants are written as the given words.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];
            /// The words, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The word written for this variant.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(format!(
                        "unknown {} `{text}`, expected one of {}",
                        stringify!($name),
                        $name::NAMES.join(", ")
                    )),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Words;
                impl serde::de::Visitor<'_> for Words {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "one of {}", $name::NAMES.join(", "))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        match v {
                            $( $text => Ok($name::$variant), )+
                            _ => Err(E::unknown_variant(v, $name::NAMES)),
                        }
                    }
                }
                d.deserialize_str(Words)
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use crate::check::{CheckId, CheckStatus, Severity, Transport, Verdict};

    #[test]
    fn words_round_trip_through_serde_and_from_str() {
        for id in CheckId::ALL {
            let json = serde_json::to_string(&id).expect("serialise");
            assert_eq!(json, format!("\"{}\"", id.as_str()));
            assert_eq!(serde_json::from_str::<CheckId>(&json).expect("parse"), id);
            assert_eq!(id.as_str().parse::<CheckId>(), Ok(id));
        }
        assert_eq!(Verdict::NotRun.to_string(), "not-run");
        assert_eq!(CheckStatus::NotRun.as_str(), "not-run");
        assert_eq!(Transport::ALL.map(Transport::as_str), ["udp", "tcp"]);
        let err = serde_json::from_str::<Severity>("\"fatal\"").expect_err("unknown word");
        assert!(
            err.to_string()
                .contains("unknown variant `fatal`, expected one of `off`, `warning`, `error`"),
            "{err}"
        );
        // Map keys (a report's `checks`) are words too.
        let map: std::collections::BTreeMap<CheckId, CheckStatus> =
            serde_json::from_str(r#"{"ns-count":"pass","edns":"not-run"}"#).expect("map");
        assert_eq!(map[&CheckId::Edns], CheckStatus::NotRun);
    }
}
