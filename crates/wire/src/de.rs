//! Lenient decoding for values the service sends in more than one shape. Old documentation
//! examples carry numbers as strings (`"TotalCount": "20"`, `"Port": "80"`) and some booleans
//! as `"TRUE"`; the SDK's models type them as numbers and booleans (docs/cloudapi-notes.md §1.5). These
//! helpers accept both and reject anything else with a message serde attaches to the field.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// Integer types the lenient decoder can produce.
pub trait Int: Sized + Copy {
    /// Converts from u64, or `None` when out of range.
    fn from_u64(v: u64) -> Option<Self>;
    /// Converts from i64, or `None` when out of range.
    fn from_i64(v: i64) -> Option<Self>;
}

macro_rules! int_impl {
    ($($t:ty),*) => {$(
        impl Int for $t {
            fn from_u64(v: u64) -> Option<Self> { <$t>::try_from(v).ok() }
            fn from_i64(v: i64) -> Option<Self> { <$t>::try_from(v).ok() }
        }
    )*};
}
int_impl!(u16, u32, u64, i32, i64);

struct IntVisitor<T>(PhantomData<T>);

impl<'de, T: Int> Visitor<'de> for IntVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string holding an integer")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::from_u64(v)
            .map(Some)
            .ok_or_else(|| E::custom(format!("integer {v} out of range")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::from_i64(v)
            .map(Some)
            .ok_or_else(|| E::custom(format!("integer {v} out of range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v >= 0.0 && v <= u64::MAX as f64 {
            self.visit_u64(v as u64)
        } else {
            Err(E::invalid_type(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        if let Ok(n) = t.parse::<u64>() {
            return self.visit_u64(n);
        }
        if let Ok(n) = t.parse::<i64>() {
            return self.visit_i64(n);
        }
        Err(E::invalid_value(de::Unexpected::Str(v), &self))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// An integer that may arrive as a number or a numeric string; `null` and `""` are refused.
pub fn int<'de, D: Deserializer<'de>, T: Int>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(IntVisitor::<T>(PhantomData))?
        .ok_or_else(|| de::Error::custom("expected an integer, found null or an empty string"))
}

/// An optional integer: number, numeric string, `null`, `""` or absent (with `#[serde(default)]`).
pub fn opt_int<'de, D: Deserializer<'de>, T: Int>(d: D) -> Result<Option<T>, D::Error> {
    d.deserialize_any(IntVisitor::<T>(PhantomData))
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean or \"true\"/\"false\" in any case")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// An optional boolean: JSON boolean or a `"true"`/`"TRUE"`/`"False"` string.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(BoolVisitor)
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    // Version strings such as `EffectiveVersion` are digit runs; a server that sends them as
    // numbers means the same version.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// An optional string; numbers are kept as their decimal text, `null` is absent.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(StringVisitor)
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// An optional key that names a grant (`VpcConfig.Name`, `VpcId`, `InstanceId`,
/// `VpcAccessId`): a string, `null` or absent. Unlike [`opt_string`] a number is refused: the
/// service sends these as strings, and a number in their place is no name or id we could match,
/// so the answer is refused (a gap) rather than read as a reference to a grant named `"5"`.
pub fn opt_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(KeyVisitor)
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: serde::Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// An optional object: a JSON object, `null` or absent. serde's derived structs also accept an
/// array, filling fields by position; for the objects that carry a grant's keys that would
/// read `["a", "b"]` as a reference, so anything but an object or `null` is refused.
pub fn opt_object<'de, D: Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    d.deserialize_any(ObjectVisitor(PhantomData))
}

/// A list that may be `null` (the service's way of saying "empty").
pub fn list<'de, D: Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

use serde::Deserialize;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Probe {
        #[serde(deserialize_with = "int")]
        port: u16,
        #[serde(default, deserialize_with = "opt_int")]
        total: Option<u64>,
        #[serde(default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
    }

    #[test]
    fn numbers_arrive_as_numbers_or_strings() {
        let p: Probe = serde_json::from_str(r#"{"port":"80","total":20,"flag":"TRUE"}"#).unwrap();
        assert_eq!((p.port, p.total, p.flag), (80, Some(20), Some(true)));
        let p: Probe = serde_json::from_str(r#"{"port":8080}"#).unwrap();
        assert_eq!((p.port, p.total, p.flag), (8080, None, None));
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Inner {
        #[serde(default, deserialize_with = "opt_key")]
        name: Option<String>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Outer {
        #[serde(default, deserialize_with = "opt_object")]
        inner: Option<Inner>,
    }

    fn outer(text: &str) -> Result<Outer, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| format!("{} at {}", e, e.path()))
    }

    #[test]
    fn an_object_holding_a_key_is_an_object_or_null_and_the_key_a_string() {
        let name = |n: &str| Outer {
            inner: Some(Inner {
                name: Some(n.into()),
            }),
        };
        assert_eq!(outer(r#"{"inner":{"name":"g"}}"#), Ok(name("g")));
        assert_eq!(outer(r#"{"inner":null}"#), Ok(Outer { inner: None }));
        assert_eq!(outer("{}"), Ok(Outer { inner: None }));
        assert_eq!(
            outer(r#"{"inner":{"name":null}}"#),
            Ok(Outer {
                inner: Some(Inner { name: None })
            })
        );
        for wrong in [r#""x""#, "[]", r#"["g"]"#, "5", "true"] {
            let e = outer(&format!(r#"{{"inner":{wrong}}}"#)).unwrap_err();
            assert!(
                e.contains("expected an object") && e.ends_with("at inner"),
                "{e}"
            );
        }
        // The path of a mistyped key inside the object survives (the walk's gap names it).
        for wrong in ["5", "true", "[]", "{}"] {
            let e = outer(&format!(r#"{{"inner":{{"name":{wrong}}}}}"#)).unwrap_err();
            assert!(
                e.contains("expected a string") && e.ends_with("at inner.name"),
                "{e}"
            );
        }
    }

    #[test]
    fn garbage_in_a_number_is_refused_with_the_value() {
        let e = serde_json::from_str::<Probe>(r#"{"port":"abc"}"#).unwrap_err();
        assert!(e.to_string().contains("abc"), "{e}");
        let e = serde_json::from_str::<Probe>(r#"{"port":70000}"#).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }
}
