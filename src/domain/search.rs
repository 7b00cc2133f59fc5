//! Search, the pure part: the Vietnamese analyzer both the index and the queries go
//! through, the parsed query, and the highlighted snippet shown with each result.
//!
//! The analyzer: NFC, then runs of letters and digits ("syllables": Vietnamese writes one
//! syllable per word), each cut to [`MAX_TERM_CHARS`], in two forms — folded by [`fold`]
//! (accents, đ, case: what every match is made on) and lowercased with its accents kept
//! (what a query typed with accents prefers) — plus adjacent folded pairs (`nuoc_thai`),
//! so compound words and phrases outrank scattered syllables. Queries are built from these
//! terms, never parsed from user syntax, so quotes, `*`, `:`, `AND`/`OR`/`NEAR`, `^` or
//! field names are plain text or nothing.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::domain::fold::fold;
use crate::domain::synonyms;

/// At most this many words of a query are used; the rest are ignored.
pub const MAX_TERMS: usize = 12;
/// Words are cut to this many characters, in the index and in queries alike.
pub const MAX_TERM_CHARS: usize = 64;
/// Only the start of a longer query is read, so a 10 kB query costs nothing.
pub const MAX_QUERY_BYTES: usize = 1_024;
/// Characters of original text in a snippet (plus ellipses and `<mark>` tags).
pub const SNIPPET_CHARS: usize = 200;

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

fn cut(word: &str) -> &str {
    match word.char_indices().nth(MAX_TERM_CHARS) {
        Some((i, _)) => &word[..i],
        None => word,
    }
}

/// One analysed word: folded (`hàn` → `han`) and with its accents (`hàn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syllable {
    pub folded: String,
    pub accented: String,
}

/// The syllables of `text`, in order.
pub fn syllables(text: &str) -> Vec<Syllable> {
    let text: String = text.nfc().collect();
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
        .filter_map(|w| {
            let accented: String = w.chars().flat_map(char::to_lowercase).collect();
            let folded = fold(w);
            let folded = cut(&folded);
            // A word of combining marks alone folds to nothing.
            (!folded.is_empty()).then(|| Syllable {
                folded: folded.to_owned(),
                accented: cut(&accented).to_owned(),
            })
        })
        .collect()
}

/// The folded words of `text`, each cut to [`MAX_TERM_CHARS`].
pub fn words(text: &str) -> Vec<String> {
    syllables(text).into_iter().map(|s| s.folded).collect()
}

/// The folded words of `parts` separated by single spaces (the `search_text` columns).
pub fn index_text(parts: &[&str]) -> String {
    parts.iter().flat_map(|p| words(p)).collect::<Vec<_>>().join(" ")
}

/// The pair term of two adjacent folded syllables.
pub fn pair(a: &str, b: &str) -> String {
    format!("{a}_{b}")
}

/// What the index holds for a document's text, one entry per kind of term, each a list of
/// whitespace-separated terms. Pairs never span two parts (title and summary, say).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Analysed {
    pub folded: String,
    pub accented: String,
    pub pairs: String,
}

/// Analyses `parts` (title, summary, …) as separate runs of text.
pub fn analyse(parts: &[&str]) -> Analysed {
    let mut out = Analysed::default();
    let push = |buffer: &mut String, term: &str| {
        if !buffer.is_empty() {
            buffer.push(' ');
        }
        buffer.push_str(term);
    };
    for part in parts {
        let syllables = syllables(part);
        for s in &syllables {
            push(&mut out.folded, &s.folded);
            push(&mut out.accented, &s.accented);
        }
        for w in syllables.windows(2) {
            push(&mut out.pairs, &pair(&w[0].folded, &w[1].folded));
        }
    }
    out
}

/// How many edits a query word may be away from an indexed one: Vietnamese syllables are
/// short, and `xim` for `xin` or `thia` for `thai` are real typos, so one from 3 letters;
/// two from 8 (longer, mostly foreign or compound words).
pub fn typo_budget(folded: &str) -> u8 {
    match folded.chars().count() {
        0..=2 => 0,
        3..=7 => 1,
        _ => 2,
    }
}

/// One word of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    pub folded: String,
    /// The word as typed (lowercase), when it carries accents.
    pub accented: Option<String>,
}

/// A phrase of the query with other spellings (`vac xin` → `vaccine`, `vacxin`): each
/// alternative is a list of folded syllables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    /// Index of the phrase's first word and how many words it spans.
    pub start: usize,
    pub len: usize,
    pub alternatives: Vec<Vec<String>>,
}

/// A sanitised search query: at most [`MAX_TERMS`] distinct words; every word optional
/// (results are ranked by how many they match); the last one also matches as a prefix
/// unless the query ended with a space (the user finished typing it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<QueryWord>,
    prefix_last: bool,
    synonyms: Vec<Synonym>,
}

impl SearchQuery {
    /// `None` when `raw` holds nothing searchable (blank, only punctuation): callers then
    /// search without text.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut end = raw.len().min(MAX_QUERY_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        let mut text = &raw[..end];
        if end < raw.len() {
            // The cut may fall inside a word: leave that partial word out.
            if let Some(i) = text.rfind(|c: char| !is_word_char(c)) {
                text = &text[..i];
            }
        }
        let finished = text.ends_with(|c: char| !is_word_char(c)) || end < raw.len();
        let mut words: Vec<QueryWord> = Vec::new();
        for s in syllables(text) {
            if words.len() == MAX_TERMS {
                break;
            }
            if words.iter().any(|w| w.folded == s.folded) {
                continue;
            }
            let accented = (s.accented != s.folded).then_some(s.accented);
            words.push(QueryWord { folded: s.folded, accented });
        }
        if words.is_empty() {
            return None;
        }
        let folded: Vec<String> = words.iter().map(|w| w.folded.clone()).collect();
        let synonyms = synonyms::find(&folded)
            .into_iter()
            .map(|(start, len, alternatives)| Synonym { start, len, alternatives })
            .collect();
        Some(Self { words, prefix_last: !finished, synonyms })
    }

    /// A query of the words of `text` with no prefix (matching: another item's title and
    /// keywords).
    pub fn exact(text: &str) -> Option<Self> {
        let mut query = Self::parse(text)?;
        query.prefix_last = false;
        query.synonyms.clear();
        Some(query)
    }

    pub fn words(&self) -> &[QueryWord] {
        &self.words
    }

    /// The folded words.
    pub fn terms(&self) -> Vec<String> {
        self.words.iter().map(|w| w.folded.clone()).collect()
    }

    pub fn prefix_last(&self) -> bool {
        self.prefix_last
    }

    pub fn synonyms(&self) -> &[Synonym] {
        &self.synonyms
    }
}

/// The folded words a search found for a query (its own words, and the typo, prefix and
/// synonym variants that matched): what a snippet marks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Highlight {
    terms: std::collections::BTreeSet<String>,
}

impl Highlight {
    pub fn new(terms: impl IntoIterator<Item = String>) -> Self {
        Self { terms: terms.into_iter().collect() }
    }

    /// Whether an indexed (folded, cut) word is one to mark.
    pub fn matches_word(&self, word: &str) -> bool {
        self.terms.contains(word)
    }
}

/// The snippet of whichever of `texts` matches the most distinct query words (the first
/// one on a tie), so a title holding the whole query beats a description holding one word.
pub fn best_snippet<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    query: &Highlight,
    max_chars: usize,
) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for text in texts {
        if let Some((matched, snippet)) = scored_snippet(text, query, max_chars) {
            if best.as_ref().is_none_or(|(most, _)| matched > *most) {
                best = Some((matched, snippet));
            }
        }
    }
    best.map(|(_, snippet)| snippet)
}

/// A short excerpt of `text` around the first word `query` matches, HTML-escaped, with every
/// matching word wrapped in `<mark>…</mark>` and `…` where the text was cut; whitespace is
/// collapsed. `None` when no word of `text` matches.
pub fn snippet(text: &str, query: &Highlight, max_chars: usize) -> Option<String> {
    scored_snippet(text, query, max_chars).map(|(_, snippet)| snippet)
}

/// The snippet and how many distinct query words `text` contains.
fn scored_snippet(text: &str, query: &Highlight, max_chars: usize) -> Option<(usize, String)> {
    // (start, end, is_word, matches) byte ranges covering `text`.
    let mut segments: Vec<(usize, usize, bool, bool)> = Vec::new();
    for (i, c) in text.char_indices() {
        let word = is_word_char(c);
        match segments.last_mut() {
            Some(last) if last.2 == word => last.1 = i + c.len_utf8(),
            _ => segments.push((i, i + c.len_utf8(), word, false)),
        }
    }
    let mut matched_terms = std::collections::BTreeSet::new();
    for segment in segments.iter_mut().filter(|s| s.2) {
        let folded = fold(&text[segment.0..segment.1]);
        let word = cut(&folded);
        segment.3 = query.matches_word(word);
        if segment.3 {
            matched_terms.insert(word.to_owned());
        }
    }
    let first = segments.iter().position(|s| s.3)?;
    let chars = |s: &(usize, usize, bool, bool)| text[s.0..s.1].chars().count();

    // Some context before the match, starting on a word.
    let mut start = first;
    let mut before = 0;
    while start > 0 && before + chars(&segments[start - 1]) <= max_chars / 4 {
        start -= 1;
        before += chars(&segments[start]);
    }
    if start > 0 && !segments[start].2 {
        start += 1;
    }
    // Then as much as fits, ending on a word (and never before the match).
    let mut end = start;
    let mut used = chars(&segments[start]);
    while end + 1 < segments.len() && used + chars(&segments[end + 1]) <= max_chars {
        end += 1;
        used += chars(&segments[end]);
    }
    end = end.max(first);
    if end + 1 < segments.len() && !segments[end].2 && end > first {
        end -= 1;
    }

    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    for segment in &segments[start..=end] {
        let piece = &text[segment.0..segment.1];
        if segment.3 {
            out.push_str("<mark>");
            escape_html(&mut out, piece);
            out.push_str("</mark>");
        } else if segment.2 {
            escape_html(&mut out, piece);
        } else {
            let collapsed = collapse_whitespace(piece);
            escape_html(&mut out, &collapsed);
        }
    }
    if end + 1 < segments.len() {
        out.push('…');
    }
    Some((matched_terms.len(), out.trim().to_owned()))
}

fn collapse_whitespace(piece: &str) -> String {
    let mut out = String::with_capacity(piece.len());
    let mut space = false;
    for c in piece.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out
}

fn escape_html(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(raw: &str) -> Option<SearchQuery> {
        SearchQuery::parse(raw)
    }

    #[test]
    fn analysis_folds_keeps_accents_and_pairs_within_a_part() {
        let a = analyse(&["Xử lý nước thải", "Hàn laser"]);
        assert_eq!(a.folded, "xu ly nuoc thai han laser");
        assert_eq!(a.accented, "xử lý nước thải hàn laser");
        assert_eq!(a.pairs, "xu_ly ly_nuoc nuoc_thai han_laser", "no pair across parts");
        let decomposed: String = "Nông nghiệp".nfd().collect();
        assert_eq!(analyse(&[&decomposed]).accented, "nông nghiệp", "NFC first");
        assert_eq!(
            index_text(&["Công nghệ 4.0 — IoT", "Đắk Lắk; H5N1"]),
            "cong nghe 4 0 iot dak lak h5n1"
        );
    }

    #[test]
    fn queries_keep_words_their_accents_and_whether_the_last_is_finished() {
        let query = q("Công nghệ  sinh HỌC").unwrap();
        assert_eq!(query.terms(), ["cong", "nghe", "sinh", "hoc"]);
        assert_eq!(query.words()[0].accented.as_deref(), Some("công"));
        assert!(query.prefix_last(), "still typing the last word");
        assert!(!q("xu ly nuoc thai ").unwrap().prefix_last(), "a space ends it");
        assert_eq!(q("han").unwrap().words()[0].accented, None, "typed without accents");
        assert!(!SearchQuery::exact("Xử lý nước thải").unwrap().prefix_last());
    }

    #[test]
    fn synonyms_are_found_in_queries() {
        let query = q("vac xin ca tra").unwrap();
        assert_eq!(query.synonyms().len(), 1);
        assert_eq!((query.synonyms()[0].start, query.synonyms()[0].len), (0, 2));
        assert!(query.synonyms()[0].alternatives.contains(&vec!["vaccine".to_owned()]));
        assert!(SearchQuery::exact("vac xin").unwrap().synonyms().is_empty());
    }

    #[test]
    fn typo_budget_grows_with_length() {
        assert_eq!(typo_budget("ca"), 0);
        assert_eq!(typo_budget("xim"), 1);
        assert_eq!(typo_budget("nghiep"), 1);
        assert_eq!(typo_budget("vaccination"), 2);
    }

    #[test]
    fn hostile_queries_become_plain_words_or_nothing() {
        for raw in ["", "   ", "!!!", "\"", "*", "-", ":", "()", "\"*:-()^~{}[]", "'", "\u{301}"] {
            assert_eq!(q(raw), None, "{raw:?}");
        }
        let cases: &[(&str, &[&str])] = &[
            ("NEAR(a b)", &["near", "a", "b"]),
            ("title:vaccine^10", &["title", "vaccine", "10"]),
            ("lúa* -gạo", &["lua", "gao"]),
            ("x'); DROP TABLE technologies;--", &["x", "drop", "table", "technologies"]),
        ];
        for (raw, terms) in cases {
            assert_eq!(q(raw).unwrap().terms(), *terms, "{raw:?}");
        }
    }

    #[test]
    fn long_queries_are_capped() {
        let huge = "nông ".repeat(2_000) + &"x".repeat(10_000);
        assert_eq!(q(&huge).unwrap().terms(), ["nong"], "repeats collapse, the tail is not read");
        let many: String = (0..50).map(|i| format!("w{i} ")).collect();
        assert_eq!(q(&many).unwrap().terms().len(), MAX_TERMS);
        assert_eq!(q(&"a".repeat(500)).unwrap().terms()[0].len(), MAX_TERM_CHARS);
        assert_eq!(q(&"ệ".repeat(1_000)).unwrap().terms()[0], "e".repeat(MAX_TERM_CHARS));
    }

    #[test]
    fn any_input_yields_safe_terms() {
        let alphabet = [
            "a", "Đ", "ệ", "1", " ", "\"", "'", "*", ":", "(", ")", "-", "^", "\\", "NEAR", "&",
            "|", "!", "<", ">", "\u{301}", "\u{0}", "😀", "\n", "\u{200f}",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            let mut raw = String::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                raw.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if let Some(query) = q(&raw) {
                assert!(!query.terms().is_empty() && query.terms().len() <= MAX_TERMS);
                for term in query.terms() {
                    assert!(term.chars().all(char::is_alphanumeric), "{raw:?} -> {term:?}");
                }
            }
        }
    }

    fn marks(terms: &[&str]) -> Highlight {
        Highlight::new(terms.iter().map(|t| (*t).to_owned()))
    }

    #[test]
    fn snippets_mark_matches_in_the_original_text() {
        let text = "Chế phẩm sinh học dùng để điều trị bệnh đạo ôn trên lúa.";
        assert_eq!(
            snippet(text, &marks(&["dieu", "tri"]), SNIPPET_CHARS).unwrap(),
            "Chế phẩm sinh học dùng để <mark>điều</mark> <mark>trị</mark> bệnh đạo ôn trên lúa."
        );
        assert_eq!(snippet("Không liên quan", &marks(&["dieu"]), SNIPPET_CHARS), None);
    }

    #[test]
    fn the_best_snippet_covers_the_most_words() {
        let words = marks(&["cong", "nghe", "sinh", "hoc"]);
        let texts = ["Không khớp.", "Chủng vi sinh vật bản địa.", "Công nghệ sinh học xử lý rơm"];
        assert_eq!(
            best_snippet(texts, &words, SNIPPET_CHARS).unwrap(),
            "<mark>Công</mark> <mark>nghệ</mark> <mark>sinh</mark> <mark>học</mark> xử lý rơm"
        );
        assert_eq!(
            best_snippet(["sinh sinh sinh", "công nghệ"], &words, 50).unwrap(),
            "<mark>công</mark> <mark>nghệ</mark>",
            "repeating one word does not count as covering more"
        );
    }

    #[test]
    fn snippets_are_cut_around_the_first_match_and_escaped() {
        let text = format!(
            "{} <b>Vaccine</b> & \"an toàn\"\n\n cho gia cầm. {}",
            "Mở đầu dài dòng. ".repeat(20),
            "Phần sau. ".repeat(40)
        );
        let s = snippet(&text, &marks(&["vaccine"]), 80).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(
            s.contains(
                "&lt;b&gt;<mark>Vaccine</mark>&lt;/b&gt; &amp; &quot;an toàn&quot; cho gia cầm."
            ),
            "{s}"
        );
        assert!(!s.contains('\n'));
    }
}
