//! JSON text written by hand, byte for byte as serde_json writes it, for the two places whose
//! volume makes serde_json's general path the audit's largest cost: the JSON report's grants
//! and findings, and the canonical form each grant's digest hashes (docs/performance.md,
//! "The JSON writer"). Strings are checked for escapes eight bytes at a time rather than one
//! at a time, and objects are laid out from their known fields. In: values. Out: bytes.
//! Property tests hold it to serde_json in both layouts.

use std::fmt;
use std::ops::Range;

/// A newline and the deepest indentation written without a loop (32 levels; the report nests
/// six deep).
const NEWLINE_INDENT: &[u8] = b"\n                                                                ";

/// JSON text being written into a buffer, pretty (two-space indentation, `": "`) or compact,
/// exactly as `serde_json::to_writer_pretty` and `serde_json::to_writer` lay it out. The
/// caller says which key or element comes first; the writer keeps the nesting depth.
#[derive(Debug)]
pub struct JsonText {
    text: Vec<u8>,
    pretty: bool,
    depth: usize,
}

impl JsonText {
    /// An empty text, in the pretty or the compact layout.
    pub fn new(pretty: bool) -> JsonText {
        JsonText::with_capacity(pretty, 0)
    }

    /// An empty text with room for `capacity` bytes.
    pub fn with_capacity(pretty: bool, capacity: usize) -> JsonText {
        JsonText {
            text: Vec::with_capacity(capacity),
            pretty,
            depth: 0,
        }
    }

    /// A text for a value nested `depth` deep in a document (an element of an array one
    /// level up), to be placed there later: the layout indents it for that depth. It is
    /// written into `buffer`, emptied first, whose memory it reuses.
    pub fn nested_in(mut buffer: Vec<u8>, pretty: bool, depth: usize) -> JsonText {
        buffer.clear();
        JsonText {
            text: buffer,
            pretty,
            depth,
        }
    }

    /// The text written, for placing in the document.
    pub fn into_bytes(self) -> Vec<u8> {
        self.text
    }

    /// The text written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// Bytes written and not yet taken.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// True when nothing is waiting to be taken.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Forgets the text written so far (once it has been handed on), keeping the depth.
    pub fn clear(&mut self) {
        self.text.clear();
    }

    /// `{`, one level deeper.
    pub fn begin_object(&mut self) {
        self.text.push(b'{');
        self.depth += 1;
    }

    /// `}`, on a line of its own after members in the pretty layout (`{}` when `empty`).
    pub fn end_object(&mut self, empty: bool) {
        self.close(b'}', empty);
    }

    /// `[`, one level deeper.
    pub fn begin_array(&mut self) {
        self.text.push(b'[');
        self.depth += 1;
    }

    /// `]`, on a line of its own after elements in the pretty layout (`[]` when `empty`).
    pub fn end_array(&mut self, empty: bool) {
        self.close(b']', empty);
    }

    fn close(&mut self, bracket: u8, empty: bool) {
        self.depth -= 1;
        if !empty && self.pretty {
            self.newline();
        }
        self.text.push(bracket);
    }

    /// What comes before a member's value: the separator, and `"key": `. Keys are the
    /// document's own field names, written as they are: none needs escaping.
    pub fn key(&mut self, first: bool, key: &'static str) {
        debug_assert!(!needs_escape(key.as_bytes()), "{key:?} needs escaping");
        self.separator(first);
        self.text.push(b'"');
        self.text.extend_from_slice(key.as_bytes());
        self.text
            .extend_from_slice(if self.pretty { b"\": " } else { b"\":" });
    }

    /// What comes before an array element: the separator.
    pub fn element(&mut self, first: bool) {
        self.separator(first);
    }

    fn separator(&mut self, first: bool) {
        if !first {
            self.text.push(b',');
        }
        if self.pretty {
            self.newline();
        }
    }

    fn newline(&mut self) {
        let width = 1 + 2 * self.depth;
        match NEWLINE_INDENT.get(..width) {
            Some(line) => self.text.extend_from_slice(line),
            None => {
                self.text.push(b'\n');
                self.text.resize(self.text.len() + 2 * self.depth, b' ');
            }
        }
    }

    /// A string, quoted and escaped.
    pub fn string(&mut self, value: &str) {
        self.text.push(b'"');
        escape_into(&mut self.text, value);
        self.text.push(b'"');
    }

    /// A string, or `null`.
    pub fn optional_string(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.string(value),
            None => self.null(),
        }
    }

    /// A string written by a `Display`, quoted and escaped piece by piece. Returns where it
    /// lies in the text, for [`JsonText::repeat`].
    pub fn display(&mut self, value: &dyn fmt::Display) -> Range<usize> {
        use fmt::Write as _;
        let start = self.text.len();
        self.text.push(b'"');
        // Writing into memory cannot fail; a `Display` that fails would be a bug upstream.
        let _ = write!(Escaping(&mut self.text), "{value}");
        self.text.push(b'"');
        start..self.text.len()
    }

    /// A value written earlier in the text (at `written`, which must not have been cleared
    /// since), once more.
    pub fn repeat(&mut self, written: Range<usize>) {
        self.text.extend_from_within(written);
    }

    /// Bytes that are already JSON text, as they are.
    pub fn raw(&mut self, json: &[u8]) {
        self.text.extend_from_slice(json);
    }

    /// `null`.
    pub fn null(&mut self) {
        self.text.extend_from_slice(b"null");
    }

    /// `true` or `false`.
    pub fn bool(&mut self, value: bool) {
        self.text
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// A whole number, as serde_json writes it (the same `itoa`).
    pub fn number(&mut self, value: u64) {
        self.text
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }
}

/// Escapes what a `Display` writes, as it writes it.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        escape_into(self.0, piece);
        Ok(())
    }
}

/// Appends `value` escaped as serde_json escapes a string's contents: `"` and `\` with a
/// backslash, the control characters below U+0020 as `\b \t \n \f \r` or `\u00xx`, and
/// everything else (U+007F and all non-ASCII included) as it is.
fn escape_into(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut run = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&bytes[run..at]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
                run = at + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..at]);
        out.extend_from_slice(escaped);
        run = at + 1;
    }
    out.extend_from_slice(&bytes[run..]);
}

/// True when some byte of `bytes` must be escaped. Eight bytes are checked at once, as one
/// word ("SWAR"): nearly all of a report's text (ids, names, paths) has nothing to escape, and
/// most of it is shorter than the chunks vector instructions would need.
fn needs_escape(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    if words.any(|word| word_needs_escape(u64::from_le_bytes(word.try_into().expect("8 bytes")))) {
        return true;
    }
    let rest = words.remainder();
    // The last few bytes, padded with a byte that needs no escaping.
    let mut last = [b' '; 8];
    last[..rest.len()].copy_from_slice(rest);
    !rest.is_empty() && word_needs_escape(u64::from_le_bytes(last))
}

/// True when a byte of `word` is below U+0020, `"` or `\`. `below(w, n)` is the classic test
/// for a byte under `n` (n <= 128): exact about whether any byte is, which is all that is asked.
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let is = |w: u64, b: u8| below(w ^ (ONES * u64::from(b)), 1);
    (below(word, 0x20) | is(word, b'"') | is(word, b'\\')) != 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::JsonText;
    use proptest::prelude::*;

    /// Text with everything escaping cares about, often: quotes, backslashes, every control
    /// character, DEL, and characters of two, three and four bytes.
    pub(crate) fn tricky_text() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            '"', '\\', '/', '\u{0}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1f}',
            '\u{7f}', 'é', '\u{2028}', '😀',
        ]);
        let ascii_control = (0u8..0x20).prop_map(char::from);
        let char = prop_oneof![
            4 => proptest::char::range('a', 'z'),
            2 => special,
            1 => ascii_control,
            1 => any::<char>(),
        ];
        prop::collection::vec(char, 0..40).prop_map(|chars| chars.into_iter().collect())
    }

    /// A JSON value of the kinds the report writes, nested.
    #[derive(Debug, Clone)]
    enum Value {
        Null,
        Bool(bool),
        Number(u64),
        Text(String),
        Array(Vec<Value>),
        Object(Vec<(&'static str, Value)>),
    }

    /// A field name, as the document's own are: letters and underscores. Leaked, as a key is
    /// `'static` (a test's few kilobytes).
    fn key() -> impl Strategy<Value = &'static str> {
        "[a-z_]{0,12}".prop_map(|k| &*String::leak(k))
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::Number),
            tricky_text().prop_map(Value::Text),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6).prop_map(Value::Object),
            ]
        })
    }

    impl serde::Serialize for Value {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            match self {
                Value::Null => serializer.serialize_none(),
                Value::Bool(b) => serializer.serialize_bool(*b),
                Value::Number(n) => serializer.serialize_u64(*n),
                Value::Text(t) => serializer.serialize_str(t),
                Value::Array(items) => serializer.collect_seq(items),
                Value::Object(members) => {
                    // Keys may repeat here; serde_json writes them as given, and so must we.
                    let mut map = serializer.serialize_map(Some(members.len()))?;
                    for (k, v) in members {
                        map.serialize_entry(k, v)?;
                    }
                    map.end()
                }
            }
        }
    }

    fn write(text: &mut JsonText, value: &Value) {
        match value {
            Value::Null => text.null(),
            Value::Bool(b) => text.bool(*b),
            Value::Number(n) => text.number(*n),
            Value::Text(t) => text.string(t),
            Value::Array(items) => {
                text.begin_array();
                for (i, item) in items.iter().enumerate() {
                    text.element(i == 0);
                    write(text, item);
                }
                text.end_array(items.is_empty());
            }
            Value::Object(members) => {
                text.begin_object();
                for (i, (k, v)) in members.iter().enumerate() {
                    text.key(i == 0, k);
                    write(text, v);
                }
                text.end_object(members.is_empty());
            }
        }
    }

    proptest! {
        #[test]
        fn the_word_at_a_time_check_agrees_with_a_byte_at_a_time_one(
            bytes in prop::collection::vec(
                // Mostly bytes that need nothing, so that both answers come up often.
                prop_oneof![12 => (0x20u8..=0xff).prop_filter("plain", |b| *b != b'"' && *b != b'\\'), 1 => any::<u8>()],
                0..40,
            )
        ) {
            let byte_by_byte = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(super::needs_escape(&bytes), byte_by_byte);
        }

        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(text in tricky_text()) {
            let mut ours = JsonText::new(false);
            ours.string(&text);
            prop_assert_eq!(
                String::from_utf8(ours.as_bytes().to_vec()).unwrap(),
                serde_json::to_string(&text).unwrap()
            );
        }

        #[test]
        fn displayed_text_is_escaped_as_the_whole_string_would_be(
            pieces in prop::collection::vec(tricky_text(), 0..5)
        ) {
            struct Pieces<'a>(&'a [String]);
            impl std::fmt::Display for Pieces<'_> {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    self.0.iter().try_for_each(|p| f.write_str(p))
                }
            }
            let mut ours = JsonText::new(true);
            ours.display(&Pieces(&pieces));
            prop_assert_eq!(
                String::from_utf8(ours.as_bytes().to_vec()).unwrap(),
                serde_json::to_string(&pieces.concat()).unwrap()
            );
        }

        #[test]
        fn values_are_laid_out_as_serde_json_lays_them_out(value in value()) {
            for pretty in [true, false] {
                let mut ours = JsonText::new(pretty);
                write(&mut ours, &value);
                let theirs = if pretty {
                    serde_json::to_string_pretty(&value)
                } else {
                    serde_json::to_string(&value)
                };
                prop_assert_eq!(
                    String::from_utf8(ours.as_bytes().to_vec()).unwrap(),
                    theirs.unwrap()
                );
            }
        }
    }

    #[test]
    fn deep_nesting_past_the_ready_made_indentation_is_still_laid_out() {
        let mut nested = Value::Number(1);
        for _ in 0..40 {
            nested = Value::Array(vec![nested]);
        }
        let mut ours = JsonText::new(true);
        write(&mut ours, &nested);
        assert_eq!(
            String::from_utf8(ours.as_bytes().to_vec()).unwrap(),
            serde_json::to_string_pretty(&nested).unwrap()
        );
    }
}
