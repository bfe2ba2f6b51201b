//! A damaged input file shown in a diagnostic: never the file, only a short printable window
//! of the line around the error, with the position said in words. In: the file's text and a
//! line/column (serde_json's, 1-based) or a byte offset. Out: an [`Excerpt`] whose source
//! and span a miette diagnostic can render. Whatever the file holds (one 70 KB line, binary
//! junk, a truncated tail), what is printed stays short and cannot break the renderer.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Characters of context kept on each side of the error.
const CONTEXT: usize = 60;

/// A short window of a file around one position.
#[derive(Debug, Clone)]
pub struct Excerpt {
    /// The window's text, placed at its line and column in the file, for `#[source_code]`.
    pub source: Window,
    /// The error's place in the window, for `#[label]`.
    pub span: SourceSpan,
    /// Where, in words: `line 3, column 17 (byte 120)`.
    pub position: String,
}

impl Excerpt {
    /// The window of `text` (the file `name`) around 1-based `line` and `column`, counted in
    /// characters as serde_json counts them.
    pub fn at_line_column(name: &str, text: &str, line: usize, column: usize) -> Excerpt {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        let rest = &text[line_start.min(text.len())..];
        let line_text = rest.split('\n').next().unwrap_or_default();
        let offset_in_line = line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i);
        Excerpt::window(
            name,
            line.max(1),
            column.max(1),
            line_start + offset_in_line,
            line_text,
            offset_in_line,
        )
    }

    /// The window of `text` around byte `offset` (clamped to the text).
    pub fn at_offset(name: &str, text: &str, offset: usize) -> Excerpt {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = text[..line_start].matches('\n').count() + 1;
        let line_text = text[line_start..].split('\n').next().unwrap_or_default();
        let column = text[line_start..offset].chars().count() + 1;
        Excerpt::window(name, line, column, offset, line_text, offset - line_start)
    }

    fn window(
        name: &str,
        line: usize,
        column: usize,
        byte: usize,
        line_text: &str,
        at: usize,
    ) -> Excerpt {
        let before: Vec<char> = line_text[..at].chars().collect();
        let after: Vec<char> = line_text[at..].chars().collect();
        let shown_before = &before[before.len().saturating_sub(CONTEXT)..];
        let shown_after = &after[..after.len().min(CONTEXT)];
        let printable = |chars: &[char]| -> String {
            chars
                .iter()
                .map(|c| if c.is_control() { '\u{FFFD}' } else { *c })
                .collect()
        };
        let mut window = String::new();
        if shown_before.len() < before.len() {
            window.push('…');
        }
        window.push_str(&printable(shown_before));
        let span_start = window.len();
        window.push_str(&printable(shown_after));
        if shown_after.len() < after.len() {
            window.push('…');
        }
        let span_len = shown_after.first().map_or(0, |c| {
            if c.is_control() {
                '\u{FFFD}'.len_utf8()
            } else {
                c.len_utf8()
            }
        });
        // miette counts columns in bytes: the hidden text's bytes, less the ellipsis that
        // stands in front of the piece.
        let hidden: usize = before[..before.len() - shown_before.len()]
            .iter()
            .map(|c| c.len_utf8())
            .sum();
        Excerpt {
            source: Window {
                name: name.to_owned(),
                text: window,
                line: line - 1,
                column: hidden.saturating_sub(if hidden > 0 { '…'.len_utf8() } else { 0 }),
            },
            span: SourceSpan::new(span_start.into(), span_len),
            position: format!("line {line}, column {column} (byte {byte})"),
        }
    }
}

/// A piece of one line of a file that miette renders with the file's own line and column
/// numbers, so the diagnostic's `FILE:LINE:COLUMN` points into the file, not into the piece.
#[derive(Debug, Clone)]
pub struct Window {
    name: String,
    text: String,
    /// 0-based line of the piece in the file.
    line: usize,
    /// 0-based column, in the file, of the piece's first character.
    column: usize,
}

impl Window {
    /// The piece as shown.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The file's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.line,
            inner.column() + self.column,
            inner.line_count(),
        )))
    }
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
        let text = text
            .chars()
            .map(|c| match c {
                '\n' | '\t' => c.to_string(),
                c if c.is_control() => "?".repeat(c.len_utf8()),
                c => c.to_string(),
            })
            .collect();
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

    fn shown(excerpt: &Excerpt) -> String {
        excerpt.source.text().to_owned()
    }

    #[test]
    fn a_long_single_line_is_cut_to_a_window_around_the_error() {
        let text = format!("{}X{}", "a".repeat(70_000), "b".repeat(70_000));
        let excerpt = Excerpt::at_offset("snap.json", &text, 70_000);
        let window = shown(&excerpt);
        assert!(
            window.chars().count() <= 2 * CONTEXT + 2,
            "{}",
            window.len()
        );
        assert_eq!(&window[excerpt.span.offset()..][..1], "X");
        assert_eq!(excerpt.position, "line 1, column 70001 (byte 70000)");
        assert_eq!(excerpt.source.name(), "snap.json");
        let contents = excerpt.source.read_span(&excerpt.span, 0, 0).unwrap();
        assert_eq!((contents.line(), contents.column()), (0, 70_000));
    }

    #[test]
    fn line_and_column_find_the_same_place_as_the_offset() {
        let text = "{\n  \"a\": 1,\n  \"bé\": tru\n}";
        let by_offset = Excerpt::at_offset("f", text, text.find("tru").unwrap());
        let by_line = Excerpt::at_line_column("f", text, 3, 9);
        assert_eq!(by_offset.position, by_line.position);
        assert_eq!(shown(&by_offset), shown(&by_line));
        assert_eq!(
            by_line.position,
            format!("line 3, column 9 (byte {})", text.find("tru").unwrap())
        );
    }

    #[test]
    fn control_bytes_and_positions_past_the_end_stay_printable_and_in_range() {
        let text = "\u{0}\u{1b}[31mjunk\u{7}";
        let excerpt = Excerpt::at_offset("bin", text, 1_000);
        assert!(!shown(&excerpt).chars().any(char::is_control));
        let past = Excerpt::at_line_column("bin", text, 40, 40);
        assert!(past.span.offset() <= shown(&past).len());
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
