//! A snapshot read as it comes off the disk: the text is scanned a block at a time, each large
//! section's records are cut into batches of about a megabyte and parsed on every core, and no
//! more than a few batches of text are held at once. A 100,000-API snapshot is 136 MB of text
//! beside an inventory of about 150 MB; holding both was the largest part of an offline audit's
//! peak memory (docs/performance.md).
//!
//! In: a path. Out: the inventory, or `None` for anything this fast path does not take (any
//! error, another field order, a duplicate or unknown field), after which the caller reads the
//! file the careful way, which accepts every valid snapshot and says what and where about the
//! others. It never reports an error of its own, so it can never word one differently.

use super::{relink, ApiIndex, SchemaTag};
use crate::inventory::model::{
    ApiDraft, ApiIdentity, ApiRef, Backend, Deployment, Gap, Grant, Group, HistoricalVersion,
    IndexedUse, Inventory, RegionId, SCHEMA,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use time::OffsetDateTime;

/// How much text is read from the file at a time.
const BLOCK: usize = 1 << 20;
/// How much record text goes to a parser at a time: large enough that the hand-over costs
/// nothing, small enough that the batches in flight are a few megabytes.
const BATCH: usize = 1 << 20;
/// Batches cut but not yet taken by a parser; the reader waits beyond this.
const QUEUED: usize = 4;

/// Reads the snapshot at `path`, or `None` when the careful reader must (see the module doc).
pub(super) fn read(path: &Path) -> Option<Inventory> {
    let file = std::fs::File::open(path).ok()?;
    let parsers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let (work, queue) = mpsc::sync_channel::<Batch>(QUEUED);
    let queue = std::sync::Mutex::new(queue);
    let (done, results) = mpsc::channel::<(usize, Option<Parsed>)>();
    // Parsed batches' buffers come back to be filled again: memory the allocator would
    // otherwise hand back to the system and fault in afresh, a megabyte at a time.
    let (spare, spares) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        for _ in 0..parsers {
            let queue = &queue;
            let done = done.clone();
            let spare = spare.clone();
            scope.spawn(move || loop {
                let batch = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                let Ok(batch) = batch else { return };
                if done.send((batch.seq, batch.parse())).is_err() {
                    return;
                }
                let _ = spare.send(batch);
            });
        }
        drop(done);
        drop(spare);
        let mut assembly = Assembly::default();
        let channels = Channels {
            work: &work,
            results: &results,
            spares: &spares,
        };
        let scanned = scan(Text::new(file), &channels, &mut assembly);
        // Closing the queue ends the parsers once they have taken what is in it.
        drop(work);
        let batches = scanned?;
        for (seq, parsed) in results.iter() {
            assembly.take(seq, parsed?)?;
        }
        assembly.finish(batches)
    })
}

/// The top-level object, field by field: the large sections go out in batches, the small ones
/// are kept as text and parsed here. Parsed batches are taken in as they come back, so the
/// inventory is built while the file is still being read.
/// Returns how many batches went out.
fn scan(
    mut text: Text<std::fs::File>,
    channels: &Channels<'_>,
    assembly: &mut Assembly,
) -> Option<usize> {
    let mut seq = 0;
    text.expect(b'{')?;
    loop {
        let key = text.key()?;
        let field = Field::of(&key)?;
        assembly.mark(field)?;
        match field.section() {
            Some(section) => {
                text.expect(b'[')?;
                if text.peek_after_space()? == b']' {
                    text.expect(b']')?;
                } else {
                    loop {
                        let mut batch = match channels.spares.try_recv() {
                            Ok(spare) => spare.reuse(section, seq),
                            Err(_) => Batch::new(section, seq),
                        };
                        seq += 1;
                        let more = text.fill(&mut batch)?;
                        channels.work.send(batch).ok()?;
                        for (seq, parsed) in channels.results.try_iter() {
                            assembly.take(seq, parsed?)?;
                        }
                        if !more {
                            break;
                        }
                    }
                }
            }
            None => {
                let mut value = Vec::new();
                text.value_into(&mut value)?;
                assembly.small(field, &value)?;
            }
        }
        match text.next_after_space()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    // Only whitespace may follow the object.
    text.at_end().then_some(seq)
}

/// Batches out to the parsers, their records back, and their emptied buffers back again.
struct Channels<'a> {
    work: &'a mpsc::SyncSender<Batch>,
    results: &'a mpsc::Receiver<(usize, Option<Parsed>)>,
    spares: &'a mpsc::Receiver<Batch>,
}

/// The snapshot's fields, in the order `save` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Schema,
    TakenAt,
    Region,
    Grants,
    Groups,
    Apis,
    Drafts,
    Deployments,
    History,
    Backends,
    Index,
    Gaps,
}

impl Field {
    const COUNT: usize = 12;

    fn of(key: &[u8]) -> Option<Field> {
        Some(match key {
            b"schema" => Field::Schema,
            b"taken_at" => Field::TakenAt,
            b"region" => Field::Region,
            b"grants" => Field::Grants,
            b"groups" => Field::Groups,
            b"apis" => Field::Apis,
            b"drafts" => Field::Drafts,
            b"deployments" => Field::Deployments,
            b"history" => Field::History,
            b"backends" => Field::Backends,
            b"index" => Field::Index,
            b"gaps" => Field::Gaps,
            _ => return None,
        })
    }

    /// The large sections, read in batches.
    fn section(self) -> Option<Section> {
        Some(match self {
            Field::Apis => Section::Apis,
            Field::Drafts => Section::Drafts,
            Field::Deployments => Section::Deployments,
            Field::History => Section::History,
            Field::Index => Section::Index,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Section {
    Apis,
    Drafts,
    Deployments,
    History,
    Index,
}

/// Records of one section, as text, each ending where `ends` says.
struct Batch {
    section: Section,
    /// Its place among all batches of the file, so the results can be put back in order.
    seq: usize,
    text: Vec<u8>,
    ends: Vec<usize>,
}

/// A batch's records, parsed, with their API still an index into `apis`.
enum Parsed {
    Apis(Vec<ApiIdentity>),
    Drafts(Vec<ApiDraft<ApiIndex>>),
    Deployments(Vec<Deployment<ApiIndex>>),
    History(Vec<HistoricalVersion<ApiIndex>>),
    Index(Vec<IndexedUse>),
}

impl Batch {
    fn new(section: Section, seq: usize) -> Batch {
        Batch {
            section,
            seq,
            text: Vec::with_capacity(BATCH + BATCH / 8),
            ends: Vec::new(),
        }
    }

    /// This batch's buffers, emptied, for the records of batch `seq`.
    fn reuse(mut self, section: Section, seq: usize) -> Batch {
        self.text.clear();
        self.ends.clear();
        Batch {
            section,
            seq,
            ..self
        }
    }

    fn parse(&self) -> Option<Parsed> {
        Some(match self.section {
            Section::Apis => Parsed::Apis(self.records()?),
            Section::Drafts => Parsed::Drafts(self.records()?),
            Section::Deployments => Parsed::Deployments(self.records()?),
            Section::History => Parsed::History(self.records()?),
            Section::Index => Parsed::Index(self.records()?),
        })
    }

    fn records<T: DeserializeOwned>(&self) -> Option<Vec<T>> {
        // The batch is checked as UTF-8 once, in one pass, and its records read as text:
        // read as bytes, every string in them (millions) would be checked on its own.
        let text = std::str::from_utf8(&self.text).ok()?;
        let mut start = 0;
        let mut records = Vec::with_capacity(self.ends.len());
        for &end in &self.ends {
            records.push(serde_json::from_str(text.get(start..end)?).ok()?);
            start = end;
        }
        Some(records)
    }
}

/// The inventory as its parts come in: batches are taken in file order (those that come back
/// early wait), so each record's API index is resolved against the whole `apis` table, which
/// `save` writes before the records.
#[derive(Default)]
struct Assembly {
    seen: [bool; Field::COUNT],
    next: usize,
    early: BTreeMap<usize, Parsed>,
    taken_at: Option<OffsetDateTime>,
    region: Option<RegionId>,
    grants: Vec<Grant>,
    groups: Vec<Group>,
    apis: Vec<ApiRef>,
    drafts: Vec<ApiDraft>,
    deployments: Vec<Deployment>,
    history: Vec<HistoricalVersion>,
    backends: Vec<Backend>,
    index: Vec<IndexedUse>,
    gaps: Vec<Gap>,
}

impl Assembly {
    /// Notes that `field` was read; a second one is for the careful reader to refuse.
    fn mark(&mut self, field: Field) -> Option<()> {
        let seen = &mut self.seen[field as usize];
        (!std::mem::replace(seen, true)).then_some(())
    }

    fn small(&mut self, field: Field, text: &[u8]) -> Option<()> {
        fn parse<T: DeserializeOwned>(text: &[u8]) -> Option<T> {
            serde_json::from_slice(text).ok()
        }
        #[derive(Deserialize)]
        struct TakenAt(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);
        match field {
            Field::Schema => {
                let _: SchemaTag = parse(text)?;
            }
            Field::TakenAt => self.taken_at = Some(parse::<TakenAt>(text)?.0),
            Field::Region => self.region = Some(parse(text)?),
            Field::Grants => self.grants = parse(text)?,
            Field::Groups => self.groups = parse(text)?,
            Field::Backends => self.backends = parse(text)?,
            Field::Gaps => self.gaps = parse(text)?,
            _ => return None,
        }
        Some(())
    }

    /// Takes batch `seq`'s records, now or when the batches before it are in.
    fn take(&mut self, seq: usize, parsed: Parsed) -> Option<()> {
        self.early.insert(seq, parsed);
        while let Some(parsed) = self.early.remove(&self.next) {
            self.next += 1;
            match parsed {
                Parsed::Apis(apis) => self.apis.extend(apis.into_iter().map(ApiRef::new)),
                Parsed::Drafts(records) => {
                    relink(records, "drafts", &self.apis, &mut self.drafts).ok()?
                }
                Parsed::Deployments(records) => {
                    relink(records, "deployments", &self.apis, &mut self.deployments).ok()?
                }
                Parsed::History(records) => {
                    relink(records, "history", &self.apis, &mut self.history).ok()?
                }
                Parsed::Index(records) => self.index.extend(records),
            }
        }
        Some(())
    }

    /// The inventory, once every field and all `batches` are in.
    fn finish(self, batches: usize) -> Option<Inventory> {
        let complete = self.seen.iter().all(|&seen| seen) && self.next == batches;
        complete.then_some(())?;
        Some(Inventory {
            schema: SCHEMA.to_owned(),
            taken_at: self.taken_at?,
            region: self.region?,
            grants: self.grants,
            groups: self.groups,
            drafts: self.drafts,
            deployments: self.deployments,
            history: self.history,
            backends: self.backends,
            index: self.index,
            gaps: self.gaps,
        })
    }
}

/// The file's text, a block at a time.
struct Text<R> {
    reader: R,
    block: Vec<u8>,
    at: usize,
}

impl<R: Read> Text<R> {
    fn new(reader: R) -> Self {
        Text {
            reader,
            block: Vec::with_capacity(BLOCK),
            at: 0,
        }
    }

    /// Makes sure at least one unread byte is in the block, unless the file has ended.
    fn refill(&mut self) -> Option<bool> {
        if self.at < self.block.len() {
            return Some(true);
        }
        self.block.clear();
        self.at = 0;
        let read = (&mut self.reader)
            .take(BLOCK as u64)
            .read_to_end(&mut self.block)
            .ok()?;
        Some(read > 0)
    }

    fn peek_after_space(&mut self) -> Option<u8> {
        loop {
            if !self.refill()? {
                return None;
            }
            let byte = self.block[self.at];
            if !byte.is_ascii_whitespace() {
                return Some(byte);
            }
            self.at += 1;
        }
    }

    fn next_after_space(&mut self) -> Option<u8> {
        let byte = self.peek_after_space()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next_after_space()? == wanted).then_some(())
    }

    /// A field name and its colon. Our names need no escapes; one that has them is left to
    /// the careful reader.
    fn key(&mut self) -> Option<Vec<u8>> {
        self.expect(b'"')?;
        let mut key = Vec::new();
        loop {
            self.refill()?.then_some(())?;
            let byte = self.block[self.at];
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => return None,
                _ => key.push(byte),
            }
        }
        self.expect(b':')?;
        Some(key)
    }

    fn at_end(&mut self) -> bool {
        self.peek_after_space().is_none()
    }

    /// Cuts records into `batch` until it is full or the array ends; false once it has ended.
    /// Each record must be an object; what lies between them must be a comma.
    fn fill(&mut self, batch: &mut Batch) -> Option<bool> {
        loop {
            (self.peek_after_space()? == b'{').then_some(())?;
            self.value_into(&mut batch.text)?;
            batch.ends.push(batch.text.len());
            match self.next_after_space()? {
                b',' if batch.text.len() >= BATCH => return Some(true),
                b',' => continue,
                b']' => return Some(false),
                _ => return None,
            }
        }
    }

    /// Copies one JSON value into `out`: a string, an object or array (to its matching
    /// bracket, strings and escapes respected), or a bare word such as a number. Only where
    /// it ends is decided here; serde_json judges the text.
    fn value_into(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let first = self.peek_after_space()?;
        let bare = !matches!(first, b'"' | b'{' | b'[');
        let mut state = Nesting::default();
        let start = out.len();
        loop {
            self.refill()?.then_some(())?;
            let rest = &self.block[self.at..];
            let end = if bare {
                rest.iter()
                    .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
            } else {
                state.end_in(rest)?
            };
            match end {
                Some(n) => {
                    out.extend_from_slice(&rest[..n]);
                    self.at += n;
                    // A stray comma or bracket where a value belongs is no value.
                    return (out.len() > start).then_some(());
                }
                None => {
                    out.extend_from_slice(rest);
                    self.at = self.block.len();
                    // A bare word may end with the file; anything else may not.
                    if !self.refill()? {
                        return bare.then_some(());
                    }
                }
            }
        }
    }
}

/// Where a string, object or array ends, carried from one block to the next.
#[derive(Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    /// The block ended just after a backslash inside a string: the next byte is escaped.
    escaped: bool,
}

impl Nesting {
    /// The length of `text` up to and including the value's last byte, `None` inside when the
    /// value goes on past `text`, or `None` outside for a bracket that closes nothing.
    fn end_in(&mut self, text: &[u8]) -> Option<Option<usize>> {
        let mut i = 0;
        if std::mem::take(&mut self.escaped) {
            i = 1;
        }
        while i < text.len() {
            if self.in_string {
                // Most of a snapshot is string contents: skip to what can end them.
                match memchr::memchr2(b'"', b'\\', &text[i..]) {
                    None => return Some(None),
                    Some(k) if text[i + k] == b'\\' => {
                        i += k + 2;
                        if i > text.len() {
                            self.escaped = true;
                        }
                        continue;
                    }
                    Some(k) => {
                        i += k + 1;
                        self.in_string = false;
                        if self.depth == 0 {
                            return Some(Some(i));
                        }
                        continue;
                    }
                }
            }
            match text[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.checked_sub(1)?;
                    if self.depth == 0 {
                        return Some(Some(i + 1));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Some(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Option<Vec<String>> {
        let mut text = Text::new(text.as_bytes());
        let mut found = Vec::new();
        while !text.at_end() {
            let mut out = Vec::new();
            text.value_into(&mut out)?;
            found.push(String::from_utf8(out).ok()?);
        }
        Some(found)
    }

    #[test]
    fn a_value_ends_at_its_own_bracket_not_at_one_inside_a_string() {
        assert_eq!(
            values(r#"{"a":"}]\"{"} [1,[2]] "x\\" 12 true"#).unwrap(),
            [r#"{"a":"}]\"{"}"#, "[1,[2]]", r#""x\\""#, "12", "true"]
        );
    }

    #[test]
    fn a_value_cut_short_by_the_end_of_the_file_is_not_taken() {
        assert_eq!(values(r#"{"a":1"#), None);
        assert_eq!(values(r#""abc"#), None);
        assert_eq!(values(r#"[1,2"#), None);
    }

    #[test]
    fn a_closing_bracket_without_its_opening_is_not_taken() {
        assert_eq!(values("}"), None);
    }

    #[test]
    fn records_are_cut_across_blocks_and_batches() {
        // Records larger together than a batch and longer than what one read returns.
        let record = format!(r#"{{"pad":"{}","q":"a\"b"}}"#, "x".repeat(4096));
        let count = 2 * BATCH / record.len() + 3;
        let array = format!("[{}]", vec![record.as_str(); count].join(" ,\n"));
        let mut text = Text::new(std::io::Cursor::new(array.into_bytes()));
        text.expect(b'[').unwrap();
        let mut records = 0;
        loop {
            let mut batch = Batch::new(Section::Apis, 0);
            let more = text.fill(&mut batch).unwrap();
            let mut start = 0;
            for &end in &batch.ends {
                assert_eq!(&batch.text[start..end], record.as_bytes());
                start = end;
            }
            records += batch.ends.len();
            if !more {
                break;
            }
        }
        assert_eq!(records, count);
        assert!(text.at_end());
    }
}
