//! Full-text search, the pure part: the words the index holds, the sanitised query, and the
//! highlighted snippet shown with each result.
//!
//! Indexed text and queries go through the same steps — [`fold`] (accents, đ, case), then
//! split into runs of letters and digits, each cut to [`MAX_TERM_CHARS`] — so "cong nghe
//! sinh hoc" meets "Công nghệ sinh học" on both engines. A query keeps only such words:
//! quotes, `*`, `:`, `-`, parentheses and the operators `AND`/`OR`/`NOT`/`NEAR` never reach
//! PostgreSQL's `to_tsquery` or SQLite's FTS5 `MATCH`, where they would be syntax.

use unicode_normalization::char::is_combining_mark;

use crate::domain::fold::fold;

/// At most this many words of a query are used; the rest are ignored.
pub const MAX_TERMS: usize = 12;
/// Words are cut to this many characters, in the index and in queries alike.
pub const MAX_TERM_CHARS: usize = 64;
/// Only the start of a longer query is read, so a 10 kB query costs nothing.
pub const MAX_QUERY_BYTES: usize = 1_024;
/// The last query word matches as a prefix from this length on: "nong nghi" finds "nông
/// nghiệp", while a short syllable ("tri", "hoc") stays exact instead of matching dozens of
/// longer ones.
pub const MIN_PREFIX_CHARS: usize = 4;
/// Characters of original text in a snippet (plus ellipses and `<mark>` tags).
pub const SNIPPET_CHARS: usize = 200;

/// Words FTS engines treat as operators when written in capitals; in a query they are noise.
const OPERATORS: &[&str] = &["AND", "OR", "NOT", "NEAR"];

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

fn cut(word: &str) -> &str {
    match word.char_indices().nth(MAX_TERM_CHARS) {
        Some((i, _)) => &word[..i],
        None => word,
    }
}

/// The folded words of `text`, each cut to [`MAX_TERM_CHARS`].
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| cut(w).to_owned())
        .collect()
}

/// The text an index stores for `parts`: their folded words separated by single spaces.
pub fn index_text(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        for word in words(part) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&word);
        }
    }
    out
}

/// A sanitised full-text query: folded words, AND-ed, the last one a prefix when long
/// enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
    prefix_last: bool,
    /// OR the terms instead of AND-ing them (matching: any shared word makes a candidate,
    /// the engine's rank orders them).
    any: bool,
}

impl SearchQuery {
    /// `None` when `raw` holds nothing searchable (blank, only punctuation or operators):
    /// callers then search without text.
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
        let mut terms: Vec<String> = Vec::new();
        for token in text.split(|c: char| !is_word_char(c)) {
            if token.is_empty() || OPERATORS.contains(&token) {
                continue;
            }
            for word in words(token) {
                if terms.len() < MAX_TERMS && !terms.contains(&word) {
                    terms.push(word);
                }
            }
        }
        let prefix_last = terms.last()?.chars().count() >= MIN_PREFIX_CHARS;
        Some(Self { terms, prefix_last, any: false })
    }

    /// A query matching documents with any of the words of `text` (exact words, no prefix).
    pub fn any_of(text: &str) -> Option<Self> {
        let mut query = Self::parse(text)?;
        query.prefix_last = false;
        query.any = true;
        Some(query)
    }

    /// A query matching documents with any of `terms`, words taken from another query.
    pub fn any_of_terms(terms: &[String]) -> Option<Self> {
        (!terms.is_empty()).then(|| Self { terms: terms.to_vec(), prefix_last: false, any: true })
    }

    /// A query matching documents with all of `terms` (exact words).
    pub fn all_of_terms(terms: &[String]) -> Option<Self> {
        (!terms.is_empty()).then(|| Self { terms: terms.to_vec(), prefix_last: false, any: false })
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// A `to_tsquery('simple', …)` argument: `'cong' & 'nghe' & 'hoc':*`. Terms are letters
    /// and digits only, so quoting cannot be broken out of.
    pub fn pg_tsquery(&self) -> String {
        let separator = if self.any { " | " } else { " & " };
        self.render(|term, prefix| format!("'{term}'{}", if prefix { ":*" } else { "" }), separator)
    }

    /// An FTS5 `MATCH` expression: `"cong" "nghe" "hoc"*` (each term a quoted string,
    /// juxtaposed = AND).
    pub fn fts5_match(&self) -> String {
        let separator = if self.any { " OR " } else { " " };
        self.render(
            |term, prefix| format!("\"{term}\"{}", if prefix { "*" } else { "" }),
            separator,
        )
    }

    fn render(&self, term: impl Fn(&str, bool) -> String, separator: &str) -> String {
        let last = self.terms.len().saturating_sub(1);
        self.terms
            .iter()
            .enumerate()
            .map(|(i, t)| term(t, self.prefix_last && i == last))
            .collect::<Vec<_>>()
            .join(separator)
    }

    /// Whether an indexed (folded, cut) word is one the query looks for.
    pub fn matches_word(&self, word: &str) -> bool {
        self.terms.iter().any(|t| t == word)
            || (self.prefix_last && self.terms.last().is_some_and(|t| word.starts_with(t.as_str())))
    }
}

/// The snippet of whichever of `texts` matches the most distinct query words (the first
/// one on a tie), so a title holding the whole query beats a description holding one word.
pub fn best_snippet<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    query: &SearchQuery,
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
pub fn snippet(text: &str, query: &SearchQuery, max_chars: usize) -> Option<String> {
    scored_snippet(text, query, max_chars).map(|(_, snippet)| snippet)
}

/// The snippet and how many distinct query words `text` contains.
fn scored_snippet(text: &str, query: &SearchQuery, max_chars: usize) -> Option<(usize, String)> {
    // (start, end, is_word, matches) byte ranges covering `text`.
    let mut segments: Vec<(usize, usize, bool, bool)> = Vec::new();
    for (i, c) in text.char_indices() {
        let word = is_word_char(c);
        match segments.last_mut() {
            Some(last) if last.2 == word => last.1 = i + c.len_utf8(),
            _ => segments.push((i, i + c.len_utf8(), word, false)),
        }
    }
    let mut matched_terms = vec![false; query.terms.len()];
    for segment in segments.iter_mut().filter(|s| s.2) {
        let folded = fold(&text[segment.0..segment.1]);
        let word = cut(&folded);
        segment.3 = query.matches_word(word);
        if segment.3 {
            for (i, term) in query.terms.iter().enumerate() {
                let last = i + 1 == query.terms.len();
                matched_terms[i] |=
                    word == term || (last && query.prefix_last && word.starts_with(term.as_str()));
            }
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
    Some((matched_terms.iter().filter(|m| **m).count(), out.trim().to_owned()))
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
    fn folds_and_ands_terms_with_a_prefix_last_term() {
        let query = q("Công nghệ  sinh HỌC").unwrap();
        assert_eq!(query.terms(), ["cong", "nghe", "sinh", "hoc"]);
        // A short last word is matched exactly, a longer one as a prefix.
        assert_eq!(query.pg_tsquery(), "'cong' & 'nghe' & 'sinh' & 'hoc'");
        assert_eq!(query.fts5_match(), r#""cong" "nghe" "sinh" "hoc""#);
        let query = q("nông nghi").unwrap();
        assert_eq!(query.pg_tsquery(), "'nong' & 'nghi':*");
        assert_eq!(query.fts5_match(), r#""nong" "nghi"*"#);
    }

    #[test]
    fn decomposed_input_is_one_word() {
        let decomposed: String =
            unicode_normalization::UnicodeNormalization::nfd("Nông nghiệp").collect();
        assert_eq!(q(&decomposed).unwrap().terms(), ["nong", "nghiep"]);
    }

    #[test]
    fn hostile_queries_become_plain_words_or_nothing() {
        for raw in [
            "",
            "   ",
            "!!!",
            "\"",
            "*",
            "-",
            ":",
            "()",
            "\"*:-()^~{}[]",
            "AND OR NOT",
            "NEAR",
            "'''",
        ] {
            assert_eq!(q(raw), None, "{raw:?}");
        }
        let cases: &[(&str, &str, &str)] = &[
            ("NEAR(a b)", "'a' & 'b'", r#""a" "b""#),
            ("\"cong nghe", "'cong' & 'nghe':*", r#""cong" "nghe"*"#),
            ("lúa* -gạo", "'lua' & 'gao'", r#""lua" "gao""#),
            ("title:vaccine", "'title' & 'vaccine':*", r#""title" "vaccine"*"#),
            ("(unbalanced OR", "'unbalanced':*", r#""unbalanced"*"#),
            ("a' | b & !c <-> d", "'a' & 'b' & 'c' & 'd'", r#""a" "b" "c" "d""#),
            (
                "x'); DROP TABLE technologies;--",
                "'x' & 'drop' & 'table' & 'technologies':*",
                r#""x" "drop" "table" "technologies"*"#,
            ),
            ("and or not near", "'and' & 'or' & 'not' & 'near':*", r#""and" "or" "not" "near"*"#),
        ];
        for (raw, pg, fts) in cases {
            let query = q(raw).unwrap();
            assert_eq!(query.pg_tsquery(), *pg, "{raw:?}");
            assert_eq!(query.fts5_match(), *fts, "{raw:?}");
        }
    }

    #[test]
    fn long_queries_are_capped() {
        let huge = "nông ".repeat(2_000) + &"x".repeat(10_000);
        let query = q(&huge).unwrap();
        assert_eq!(query.terms(), ["nong"], "repeats collapse, the tail beyond 1 kB is not read");
        let many: String = (0..50).map(|i| format!("w{i} ")).collect();
        assert_eq!(q(&many).unwrap().terms().len(), MAX_TERMS);
        let long_word = "a".repeat(500);
        assert_eq!(q(&long_word).unwrap().terms()[0].len(), MAX_TERM_CHARS);
        // Cutting at 1 kB never splits a character.
        let accents = "ệ".repeat(1_000);
        assert_eq!(q(&accents).unwrap().terms()[0], "e".repeat(MAX_TERM_CHARS));
    }

    #[test]
    fn any_input_yields_safe_terms() {
        // Every character class, in many combinations: terms are always letters/digits.
        let alphabet = [
            "a", "Đ", "ệ", "1", " ", "\"", "'", "*", ":", "(", ")", "-", "^", "\\", "NEAR", "&",
            "|", "!", "<", ">", "\u{301}", "\u{0}", "😀", "\n",
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
                let fts = query.fts5_match();
                assert_eq!(fts.matches('"').count(), 2 * query.terms().len(), "{raw:?} -> {fts}");
            }
        }
    }

    #[test]
    fn index_text_matches_query_words() {
        assert_eq!(
            index_text(&["Công nghệ 4.0 — IoT", "Đắk Lắk; H5N1"]),
            "cong nghe 4 0 iot dak lak h5n1"
        );
        assert_eq!(index_text(&["", "  "]), "");
    }

    #[test]
    fn snippets_mark_matches_in_the_original_text() {
        let query = q("dieu tri").unwrap();
        let text = "Chế phẩm sinh học dùng để điều trị bệnh đạo ôn trên lúa.";
        assert_eq!(
            snippet(text, &query, SNIPPET_CHARS).unwrap(),
            "Chế phẩm sinh học dùng để <mark>điều</mark> <mark>trị</mark> bệnh đạo ôn trên lúa."
        );
        assert_eq!(snippet("Không liên quan", &query, SNIPPET_CHARS), None);
        // The last term matches as a prefix.
        let query = q("nong nghi").unwrap();
        assert_eq!(
            snippet("Nông nghiệp hữu cơ", &query, SNIPPET_CHARS).unwrap(),
            "<mark>Nông</mark> <mark>nghiệp</mark> hữu cơ"
        );
    }

    #[test]
    fn the_best_snippet_covers_the_most_query_words() {
        let query = q("cong nghe sinh hoc").unwrap();
        let texts = [
            "Không khớp.",
            "Chủng vi sinh vật bản địa.",
            "Công nghệ sinh học xử lý rơm",
            "Công nghệ sinh học",
        ];
        assert_eq!(
            best_snippet(texts, &query, SNIPPET_CHARS).unwrap(),
            "<mark>Công</mark> <mark>nghệ</mark> <mark>sinh</mark> <mark>học</mark> xử lý rơm"
        );
        assert_eq!(
            best_snippet(["vi sinh", "sinh học"], &query, 50).unwrap(),
            "<mark>sinh</mark> <mark>học</mark>"
        );
        assert_eq!(best_snippet(["không", ""], &query, 50), None);
        // Repeating one word does not count as covering more of the query.
        assert_eq!(
            best_snippet(["sinh sinh sinh", "công nghệ"], &query, 50).unwrap(),
            "<mark>công</mark> <mark>nghệ</mark>"
        );
    }

    #[test]
    fn snippets_are_cut_around_the_first_match_and_escaped() {
        let query = q("vaccine").unwrap();
        let text = format!(
            "{} <b>Vaccine</b> & \"an toàn\"\n\n cho gia cầm. {}",
            "Mở đầu dài dòng. ".repeat(20),
            "Phần sau. ".repeat(40)
        );
        let s = snippet(&text, &query, 80).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(
            s.contains(
                "&lt;b&gt;<mark>Vaccine</mark>&lt;/b&gt; &amp; &quot;an toàn&quot; cho gia cầm."
            ),
            "{s}"
        );
        assert!(!s.contains('\n'));
        let visible = s.replace("<mark>", "").replace("</mark>", "");
        assert!(visible.chars().count() <= 80 + 2 + 30, "{s}");
        // A match at the very start has no leading ellipsis.
        let s = snippet("Vaccine mới", &query, 80).unwrap();
        assert_eq!(s, "<mark>Vaccine</mark> mới");
    }

    #[test]
    fn any_of_ors_exact_words() {
        let q = SearchQuery::any_of("Xử lý nước thải").unwrap();
        assert_eq!(q.pg_tsquery(), "'xu' | 'ly' | 'nuoc' | 'thai'");
        assert_eq!(q.fts5_match(), "\"xu\" OR \"ly\" OR \"nuoc\" OR \"thai\"");
        assert!(SearchQuery::any_of(" ** ").is_none());
        assert!(!q.matches_word("thaix"), "no prefix");
    }
}
