//! Search requests against the index: filters, text relevance, order, facets.
//!
//! Relevance follows ranking rules people expect (after Meilisearch's): every query word is
//! optional and results are ranked first by how many query words they match, then by how
//! many of those matched exactly (not through a typo or as a prefix), then by how many
//! adjacent query words they hold as a pair, then by accents typed matching, then by how
//! many query words the title holds, then BM25. Each rule is a tier of the score: a tier's largest total stays
//! below one unit of the tier above, so the tiers compare lexicographically.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use tantivy::collector::{Count, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, FuzzyTermQuery, Occur, Query,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Order as TantivyOrder, Searcher, Term};

use super::facets::{FacetCounts, FacetName, Facets};
use super::schema::{DocType, Fields};
use super::shift::ShiftQuery;
use super::top::TopByScore;
use super::{Search, SearchError};
use crate::db::types::{EntityId, OrganizationId};
use crate::domain::search::{Highlight, SearchQuery, pair, typo_budget};

// Score tiers (see the module comment). At most 12 words, 11 pairs; BM25 stays below
// 1 000 for queries of a few words.
const TITLE: f32 = 1_000.0;
const ACCENT: f32 = 13.0 * TITLE;
const PAIR: f32 = 13.0 * ACCENT;
const EXACT: f32 = 12.0 * PAIR;
const WORD: f32 = 13.0 * EXACT;
/// Variants kept per query word (the most frequent), so a short or one-letter word cannot
/// expand into thousands of terms.
const MAX_TYPO_VARIANTS: usize = 12;
const MAX_PREFIX_VARIANTS: usize = 24;

/// Filters on published documents (every field optional).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub kind: Option<String>,
    pub sector: Option<String>,
    pub province: Option<String>,
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
    pub price_max: Option<i64>,
    pub currency: Option<String>,
    pub transfer_form: Option<String>,
    pub ip_type: Option<String>,
    pub funding_level: Option<String>,
    pub rights_status: Option<String>,
    pub organization: Option<OrganizationId>,
    pub verified_only: bool,
    /// Leave out demands hiding their organisation (an outsider filtering by organisation).
    pub visible_organization_only: bool,
    /// Leave out this organisation's documents (matching: not one's own).
    pub exclude_organization: Option<OrganizationId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Best match first; newest first without text.
    Relevance,
    Newest,
    PriceAsc,
    PriceDesc,
}

pub struct Request<'a> {
    pub doc_type: DocType,
    pub text: Option<&'a SearchQuery>,
    pub filters: &'a Filters,
    pub order: Order,
    pub offset: usize,
    pub limit: usize,
    pub facets: &'a [FacetName],
}

/// One page of matches (best first), how many match in all, facet counts over every match,
/// and the words to mark in snippets.
#[derive(Debug, Default)]
pub struct Found {
    pub ids: Vec<EntityId>,
    pub total: u64,
    pub facets: FacetCounts,
    pub highlight: Highlight,
}

/// A matching candidate with its BM25 score against the other side's words, and its
/// matching criteria.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: EntityId,
    pub relevance: f32,
    pub criteria: Criteria,
}

impl Search {
    /// Answers a search request from the index alone.
    pub fn find(&self, req: &Request<'_>) -> Result<Found, SearchError> {
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let (text, strict, highlight) = match req.text {
            Some(q) => {
                let text = text_query(&searcher, f, q)?;
                (Some(text.any), text.all, text.highlight)
            }
            None => (None, None, Highlight::default()),
        };
        let query = filtered(f, req.doc_type, req.filters, text);
        let window = req.offset + req.limit;
        let facets = Facets(req.facets.to_vec());
        let (addresses, total, facets) = match (req.order, req.text.is_some()) {
            (Order::Relevance, true) => {
                let top = || TopByScore { limit: window.max(1) };
                // Documents holding every query word outrank all others (the first ranking
                // rule): when they fill the window, only they are scored, and the whole result
                // is only counted.
                let mut best = None;
                if let Some(strict) = strict {
                    let strict = filtered(f, req.doc_type, req.filters, Some(strict));
                    let (hits, holding_all) = searcher.search(&strict, &(top(), Count))?;
                    if holding_all >= window {
                        best = Some(hits);
                    }
                }
                let (hits, total, facets) = match best {
                    Some(hits) => {
                        let (total, facets) = searcher.search(&query, &(Count, facets))?;
                        (hits, total, facets)
                    }
                    None => {
                        let (hits, (total, facets)) =
                            searcher.search(&query, &(top(), (Count, facets)))?;
                        (hits, total, facets)
                    }
                };
                (hits.into_iter().map(|h| h.address).collect::<Vec<_>>(), total, facets)
            }
            (order, _) => {
                let (field, direction) = match order {
                    Order::Relevance | Order::Newest => ("recency", TantivyOrder::Desc),
                    Order::PriceAsc => ("price_key", TantivyOrder::Asc),
                    Order::PriceDesc => ("price_min", TantivyOrder::Desc),
                };
                let top =
                    TopDocs::with_limit(window.max(1)).order_by_fast_field::<i64>(field, direction);
                let (hits, (total, facets)) = searcher.search(&query, &(top, (Count, facets)))?;
                (hits.into_iter().map(|h| h.1).collect::<Vec<_>>(), total, facets)
            }
        };
        let page: Vec<DocAddress> =
            addresses.into_iter().skip(req.offset).take(req.limit).collect();
        Ok(Found { ids: ids_of(&searcher, &page)?, total: total as u64, facets, highlight })
    }

    /// Published documents of `doc_type` sharing a word with `text`, best by BM25 (title
    /// above the rest) first, at most `limit`, with `filters`.
    pub fn candidates(
        &self,
        doc_type: DocType,
        text: &SearchQuery,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<Candidate>, SearchError> {
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let mut words: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in text.words() {
            words.push((Occur::Should, Box::new(term(f.text, &word.folded))));
        }
        let query = filtered(f, doc_type, filters, Some(Box::new(BooleanQuery::new(words))));
        let hits = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let addresses: Vec<DocAddress> = hits.iter().map(|h| h.1).collect();
        let ids = ids_of(&searcher, &addresses)?;
        let criteria = criteria_of(&searcher, &addresses)?;
        Ok(hits
            .into_iter()
            .zip(ids.into_iter().zip(criteria))
            .map(|((relevance, _), (id, criteria))| Candidate { id, relevance, criteria })
            .collect())
    }
}

/// One segment's columns for the matching criteria, with the few values of each text column
/// decoded once (ordinal → text) instead of once per document.
struct CriteriaColumns {
    strings: Vec<(StrColumn, Vec<String>)>,
    trl: Column<u64>,
    price_min: Column<i64>,
    price_max: Column<i64>,
}

const CRITERIA_TEXT: [&str; 4] = ["sector", "currency", "transfer_form", "province"];

impl CriteriaColumns {
    fn open(segment: &tantivy::SegmentReader) -> Result<Self, SearchError> {
        let fast = segment.fast_fields();
        let mut strings = Vec::new();
        for name in CRITERIA_TEXT {
            let column =
                fast.str(name)?.ok_or_else(|| SearchError(format!("no fast field {name}")))?;
            let mut values = Vec::with_capacity(column.num_terms());
            for ord in 0..column.num_terms() as u64 {
                let mut text = String::new();
                column.ord_to_str(ord, &mut text).map_err(|e| SearchError(e.to_string()))?;
                values.push(text);
            }
            strings.push((column, values));
        }
        Ok(Self {
            strings,
            trl: fast.u64("trl")?,
            price_min: fast.i64("price_min")?,
            price_max: fast.i64("price_max")?,
        })
    }

    fn values(&self, field: usize, doc: tantivy::DocId) -> Vec<String> {
        let (column, values) = &self.strings[field];
        column.term_ords(doc).filter_map(|ord| values.get(ord as usize).cloned()).collect()
    }

    fn criteria(&self, doc: tantivy::DocId) -> Criteria {
        let sectors = self.values(0, doc);
        Criteria {
            // Fields were added to their sub-fields' codes for filtering; the criteria
            // want the codes themselves.
            sectors: sectors
                .iter()
                .filter(|s| {
                    s.contains('.') || !sectors.iter().any(|o| o.starts_with(&format!("{s}.")))
                })
                .cloned()
                .collect(),
            trl: self.trl.first(doc).and_then(|t| u8::try_from(t).ok()),
            price_min: self.price_min.first(doc),
            price_max: self.price_max.first(doc),
            currency: self.values(1, doc).into_iter().next(),
            transfer_forms: self.values(2, doc),
            province: self.values(3, doc).into_iter().next(),
        }
    }
}

/// What the matching criteria need of each document, read from fast fields.
fn criteria_of(
    searcher: &Searcher,
    addresses: &[DocAddress],
) -> Result<Vec<Criteria>, SearchError> {
    let mut segments: BTreeMap<u32, CriteriaColumns> = BTreeMap::new();
    let mut out = Vec::with_capacity(addresses.len());
    for address in addresses {
        let columns = match segments.entry(address.segment_ord) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(CriteriaColumns::open(searcher.segment_reader(address.segment_ord))?)
            }
        };
        out.push(columns.criteria(address.doc_id));
    }
    Ok(out)
}

/// The matching criteria of an indexed document (a listing's offer or a demand's need).
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    pub sectors: Vec<String>,
    pub trl: Option<u8>,
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    pub currency: Option<String>,
    pub transfer_forms: Vec<String>,
    pub province: Option<String>,
}

fn ids_of(searcher: &Searcher, addresses: &[DocAddress]) -> Result<Vec<EntityId>, SearchError> {
    // Opening a column decodes its header: once per segment, not once per document.
    let mut columns: BTreeMap<u32, (Column<u64>, Column<u64>)> = BTreeMap::new();
    let mut ids = Vec::with_capacity(addresses.len());
    for address in addresses {
        let (hi, lo) = match columns.entry(address.segment_ord) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let fast = searcher.segment_reader(address.segment_ord).fast_fields();
                e.insert((fast.u64("id_hi")?, fast.u64("id_lo")?))
            }
        };
        let hi = hi.first(address.doc_id).unwrap_or(0);
        let lo = lo.first(address.doc_id).unwrap_or(0);
        ids.push(EntityId::from(uuid::Uuid::from_u128((u128::from(hi) << 64) | u128::from(lo))));
    }
    Ok(ids)
}

fn term(field: Field, text: &str) -> TermQuery {
    TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs)
}

fn constant(query: Box<dyn Query>, score: f32) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(query, score))
}

/// Documents whose text holds any of `words`.
fn any_word(f: &Fields, words: &[String]) -> Box<dyn Query> {
    match words {
        [] => Box::new(EmptyQuery),
        [word] => Box::new(term(f.text, word)),
        _ => Box::new(TermSetQuery::new(words.iter().map(|w| Term::from_field_text(f.text, w)))),
    }
}

/// Documents holding every word of `phrase`, as adjacent pairs when it has several.
fn phrase(f: &Fields, phrase: &[String]) -> Box<dyn Query> {
    match phrase {
        [] => Box::new(EmptyQuery),
        [word] => any_word(f, std::slice::from_ref(word)),
        _ => Box::new(BooleanQuery::new(
            phrase
                .windows(2)
                .map(|w| {
                    (Occur::Must, Box::new(term(f.pairs, &pair(&w[0], &w[1]))) as Box<dyn Query>)
                })
                .collect(),
        )),
    }
}

/// Indexed words `automaton`-close to `word`, most frequent first, at most
/// `cap`, leaving out `word` itself.
fn expand(
    searcher: &Searcher,
    f: &Fields,
    word: &str,
    distance: u8,
    prefix: bool,
    cap: usize,
) -> Result<Vec<String>, SearchError> {
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    for field in [f.text] {
        let fuzzy = if prefix {
            FuzzyTermQuery::new_prefix(Term::from_field_text(field, word), distance, true)
        } else {
            FuzzyTermQuery::new(Term::from_field_text(field, word), distance, true)
        };
        for segment in searcher.segment_readers() {
            let index = segment.inverted_index(field)?;
            let mut stream = index
                .terms()
                .search(fuzzy.automaton()?)
                .into_stream()
                .map_err(|e| SearchError(e.to_string()))?;
            while stream.advance() {
                if let Ok(text) = std::str::from_utf8(stream.key()) {
                    if text != word {
                        *found.entry(text.to_owned()).or_default() +=
                            u64::from(stream.value().doc_freq);
                    }
                }
            }
        }
    }
    let mut ranked: Vec<(String, u64)> = found.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(ranked.into_iter().take(cap).map(|(w, _)| w).collect())
}

/// The text part of a search, as documents holding any query word (`any`) and, for several
/// words, those holding every one (`all`, scored alike), with the words a snippet should mark.
struct TextQuery {
    any: Box<dyn Query>,
    all: Option<Box<dyn Query>>,
    highlight: Highlight,
}

/// One clause per query word (or synonym phrase) scoring a coverage unit, plus an exactness
/// unit and its BM25 when matched as typed (not through a typo or as a prefix); pair, accent
/// and title clauses on top.
fn text_query(searcher: &Searcher, f: &Fields, q: &SearchQuery) -> Result<TextQuery, SearchError> {
    let words = q.words();
    let mut marked: BTreeSet<String> = BTreeSet::new();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let word_clause =
        |i: usize, marked: &mut BTreeSet<String>| -> Result<Box<dyn Query>, SearchError> {
            let word = &words[i].folded;
            marked.insert(word.clone());
            // Matched as typed: the coverage and exactness tiers plus the word's BM25, in one
            // pass over its postings.
            let exact: Box<dyn Query> =
                Box::new(ShiftQuery::new(Box::new(term(f.text, word)), WORD + EXACT));
            let mut near: Vec<String> = Vec::new();
            if q.prefix_last() && i + 1 == words.len() {
                near.extend(expand(searcher, f, word, 0, true, MAX_PREFIX_VARIANTS)?);
            }
            // Typos are looked for where the word itself finds little: a word most listings hold
            // is no typo, and expanding it would only add noise (and cost) to a large result.
            let budget = typo_budget(word);
            let frequency = searcher.doc_freq(&Term::from_field_text(f.text, word))?;
            if budget > 0 && frequency < (searcher.num_docs() / 500).max(2) {
                near.extend(expand(searcher, f, word, budget, false, MAX_TYPO_VARIANTS)?);
            }
            if near.is_empty() {
                return Ok(exact);
            }
            marked.extend(near.iter().cloned());
            Ok(Box::new(DisjunctionMaxQuery::new(vec![exact, constant(any_word(f, &near), WORD)])))
        };
    // Each word's (or synonym phrase's) clause, required, for `all`.
    let mut every_word: Vec<Box<dyn Query>> = Vec::new();
    let mut in_synonym = vec![false; words.len()];
    for synonym in q.synonyms() {
        let span = synonym.start..synonym.start + synonym.len;
        let own: Vec<String> = words[span.clone()].iter().map(|w| w.folded.clone()).collect();
        let units = synonym.len as f32 * (WORD + EXACT);
        let mut ways: Vec<Box<dyn Query>> = vec![constant(phrase(f, &own), units)];
        for alternative in &synonym.alternatives {
            marked.extend(alternative.iter().cloned());
            ways.push(constant(phrase(f, alternative), units));
        }
        // Or the phrase's words one by one, each as any other word.
        let mut separate: Vec<Box<dyn Query>> = Vec::new();
        for i in span.clone() {
            in_synonym[i] = true;
            separate.push(word_clause(i, &mut marked)?);
        }
        let mut all_ways: Vec<Box<dyn Query>> = ways.iter().map(|w| w.box_clone()).collect();
        all_ways.push(Box::new(BooleanQuery::new(
            separate.iter().map(|w| (Occur::Must, w.box_clone())).collect(),
        )));
        ways.push(Box::new(BooleanQuery::new(
            separate.into_iter().map(|w| (Occur::Should, w)).collect(),
        )));
        clauses.push((Occur::Should, Box::new(DisjunctionMaxQuery::new(ways))));
        every_word.push(Box::new(DisjunctionMaxQuery::new(all_ways)));
    }
    for (i, covered) in in_synonym.iter().enumerate() {
        if !covered {
            let clause = word_clause(i, &mut marked)?;
            every_word.push(clause.box_clone());
            clauses.push((Occur::Should, clause));
        }
    }
    for w in words.windows(2) {
        clauses.push((
            Occur::Should,
            constant(Box::new(term(f.pairs, &pair(&w[0].folded, &w[1].folded))), PAIR),
        ));
    }
    for word in words {
        if let Some(accented) = &word.accented {
            clauses.push((Occur::Should, constant(Box::new(term(f.accented, accented)), ACCENT)));
        }
        let in_title =
            TermQuery::new(Term::from_field_text(f.title, &word.folded), IndexRecordOption::Basic);
        clauses.push((Occur::Should, constant(Box::new(in_title), TITLE)));
    }
    // Ranking extras (pairs, accents, titles) score alike in both; `all` requires every
    // word's clause instead of any.
    let all = (every_word.len() > 1).then(|| {
        let extras = clauses.len() - every_word.len();
        let mut required: Vec<(Occur, Box<dyn Query>)> =
            every_word.into_iter().map(|w| (Occur::Must, w)).collect();
        required.extend(clauses[clauses.len() - extras..].iter().map(|(o, c)| (*o, c.box_clone())));
        Box::new(BooleanQuery::new(required)) as Box<dyn Query>
    });
    Ok(TextQuery {
        any: Box::new(BooleanQuery::new(clauses)),
        all,
        highlight: Highlight::new(marked),
    })
}

/// `text` (when given) restricted to published documents of `doc_type` passing `filters`;
/// filters score nothing.
fn filtered(
    f: &Fields,
    doc_type: DocType,
    x: &Filters,
    text: Option<Box<dyn Query>>,
) -> BooleanQuery {
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let exact = |field: Field, value: &str| -> Box<dyn Query> {
        constant(
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic)),
            0.0,
        )
    };
    must.push((Occur::Must, exact(f.doc_type, doc_type.as_str())));
    if let Some(text) = text {
        must.push((Occur::Must, text));
    }
    let strings = [
        (f.kind, &x.kind),
        (f.sector, &x.sector),
        (f.province, &x.province),
        (f.currency, &x.currency),
        (f.transfer_form, &x.transfer_form),
        (f.ip_type, &x.ip_type),
        (f.funding_level, &x.funding_level),
        (f.rights_status, &x.rights_status),
    ];
    for (field, value) in strings {
        if let Some(value) = value {
            must.push((Occur::Must, exact(field, value)));
        }
    }
    if let Some(org) = x.organization {
        must.push((Occur::Must, exact(f.organization, &org.to_string())));
    }
    if x.verified_only {
        must.push((Occur::Must, exact(f.verified, "true")));
    }
    if x.visible_organization_only {
        must.push((Occur::Must, exact(f.hides_organization, "false")));
    }
    if let Some(org) = x.exclude_organization {
        must.push((Occur::MustNot, exact(f.organization, &org.to_string())));
    }
    if x.trl_min.is_some() || x.trl_max.is_some() {
        let bound = |t: Option<u8>| match t {
            Some(t) => Bound::Included(Term::from_field_u64(f.trl, u64::from(t))),
            None => Bound::Unbounded,
        };
        must.push((
            Occur::Must,
            constant(Box::new(RangeQuery::new(bound(x.trl_min), bound(x.trl_max))), 0.0),
        ));
    }
    if let Some(max) = x.price_max {
        must.push((
            Occur::Must,
            constant(
                Box::new(RangeQuery::new(
                    Bound::Unbounded,
                    Bound::Included(Term::from_field_i64(f.price_min, max)),
                )),
                0.0,
            ),
        ));
    }
    BooleanQuery::new(must)
}
