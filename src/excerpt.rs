//! A damaged input file shown in a diagnostic: never the file, only a short printable window
//! of the line around the error, with the position said in words. In: the file's text and a
//! span. Out: a [`Clipped`] source a miette diagnostic renders, and the [`position`] text.
//! Whatever the file holds (one 70 KB line, binary junk, a truncated tail), what is printed
//! stays short and cannot break the renderer.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Characters of context kept on each side of the error.
const CONTEXT: usize = 60;

/// The position of byte `offset` of `text` in words: `line 3, column 17 (byte 120)`, the line
/// and column 1-based and counted in characters, as serde_json counts them.
pub fn position(text: &str, offset: usize) -> String {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..line_start].matches('\n').count() + 1;
    let column = text[line_start..offset].chars().count() + 1;
    format!("line {line}, column {column} (byte {offset})")
}

/// A whole file as a diagnostic's source that renders clipped: a label on a long line shows
/// a window of about `2 × CONTEXT` bytes of that line, not the line, and control characters
/// show as `?` (replaced byte for byte, so every span keeps its offset).
#[derive(Debug, Clone)]
pub struct Clipped {
    name: String,
    text: String,
}

/// A read span larger than this is clipped to the label's own line.
const CLIP_ABOVE: usize = 4 * CONTEXT;

impl Clipped {
    /// The file `name` with content `text`.
    pub fn new(name: &str, text: &str) -> Clipped {
        let mut masked = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '\n' | '\t' => masked.push(c),
                c if c.is_control() => masked.extend(std::iter::repeat_n('?', c.len_utf8())),
                c => masked.push(c),
            }
        }
        let text = masked;
        Clipped {
            name: name.to_owned(),
            text,
        }
    }
}

impl SourceCode for Clipped {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        if inner.data().len() <= CLIP_ABOVE {
            return Ok(Box::new(MietteSpanContents::new_named(
                self.name.clone(),
                inner.data(),
                *inner.span(),
                inner.line(),
                inner.column(),
                inner.line_count(),
            )));
        }
        let text = &self.text;
        let start = span.offset().min(text.len());
        let end = (start + span.len()).min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
        let mut from = start.saturating_sub(CONTEXT).max(line_start);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let mut to = (end + CONTEXT).min(line_end).max(end);
        while !text.is_char_boundary(to) {
            to -= 1;
        }
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            &text.as_bytes()[from..to],
            SourceSpan::new(from.into(), to - from),
            text[..line_start].matches('\n').count(),
            from - line_start,
            1,
        )))
    }
}

/// `text` as at most `max` printable characters (control characters replaced, an ellipsis
/// where it was cut): for messages that may quote a damaged file.
pub fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_says_line_column_and_byte() {
        let text = "{\n  \"a\": 1,\n  \"bé\": tru\n}";
        let at = text.find("tru").unwrap();
        assert_eq!(position(text, at), format!("line 3, column 9 (byte {at})"));
        assert_eq!(
            position(text, 10_000),
            format!("line 4, column 2 (byte {})", text.len())
        );
    }

    #[test]
    fn a_truncated_long_line_reads_as_a_short_window_at_its_place() {
        let text = format!("{}X{}", "a".repeat(70_000), "b".repeat(70_000));
        let clipped = Clipped::new("snap.json", &text);
        let read = clipped
            .read_span(&SourceSpan::new(70_000.into(), 1), 1, 1)
            .unwrap();
        assert!(
            read.data().len() <= 2 * CONTEXT + 1,
            "{}",
            read.data().len()
        );
        assert_eq!(read.data()[CONTEXT], b'X');
        assert_eq!((read.line(), read.column()), (0, 70_000 - CONTEXT));
        assert_eq!(read.name(), Some("snap.json"));
    }
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn a_message_is_cut_and_made_printable() {
        assert_eq!(printable("ab\u{1b}c", 10), "ab\u{FFFD}c");
        assert_eq!(printable(&"x".repeat(500), 200).chars().count(), 201);
    }
}

#[cfg(test)]
mod clipped_tests {
    use super::*;

    #[test]
    fn a_label_on_a_long_line_reads_a_window_and_keeps_its_place() {
        let text = format!("{{\n  \"x\": \"{}\", \"bogus\": 1\n}}", "a".repeat(70_000));
        let at = text.find("bogus").unwrap();
        let clipped = Clipped::new("grantguard.json", &text);
        let read = clipped
            .read_span(&SourceSpan::new(at.into(), 5), 1, 1)
            .unwrap();
        assert!(
            read.data().len() <= 2 * CONTEXT + 5,
            "{}",
            read.data().len()
        );
        assert!(std::str::from_utf8(read.data()).unwrap().contains("bogus"));
        assert_eq!(read.line(), 1);
        assert_eq!(read.column(), at - 2 - CONTEXT);
    }

    #[test]
    fn short_files_read_as_they_are_and_control_bytes_are_masked_in_place() {
        let clipped = Clipped::new("f", "{\u{1b}[31m\n\"a\": 1}");
        let read = clipped
            .read_span(&SourceSpan::new(8.into(), 3), 0, 0)
            .unwrap();
        let shown = std::str::from_utf8(read.data()).unwrap();
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        assert_eq!(clipped.text.len(), "{\u{1b}[31m\n\"a\": 1}".len());
    }
}
