//! A query scoring what another scores plus a constant: a word's clause is worth its ranking
//! tier (a constant) plus its BM25 score, computed in one pass over the word's postings
//! instead of two clauses over the same documents.

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

#[derive(Debug)]
pub struct ShiftQuery {
    query: Box<dyn Query>,
    shift: Score,
}

impl ShiftQuery {
    pub fn new(query: Box<dyn Query>, shift: Score) -> Self {
        Self { query, shift }
    }
}

impl Clone for ShiftQuery {
    fn clone(&self) -> Self {
        Self { query: self.query.box_clone(), shift: self.shift }
    }
}

impl Query for ShiftQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let inner = self.query.weight(enable_scoring)?;
        if !enable_scoring.is_scoring_enabled() {
            return Ok(inner);
        }
        Ok(Box::new(ShiftWeight { inner, shift: self.shift }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.query.query_terms(visitor)
    }
}

struct ShiftWeight {
    inner: Box<dyn Weight>,
    shift: Score,
}

impl Weight for ShiftWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ShiftScorer {
            inner: self.inner.scorer(reader, boost)?,
            shift: self.shift * boost,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let inner = self.inner.explain(reader, doc)?;
        let mut explanation = Explanation::new_with_string(
            format!("{} + ...", self.shift),
            inner.value() + self.shift,
        );
        explanation.add_detail(inner);
        Ok(explanation)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.inner.count(reader)
    }
}

struct ShiftScorer {
    inner: Box<dyn Scorer>,
    shift: Score,
}

impl DocSet for ShiftScorer {
    fn advance(&mut self) -> DocId {
        self.inner.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.inner.seek(target)
    }

    fn doc(&self) -> DocId {
        self.inner.doc()
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }
}

impl Scorer for ShiftScorer {
    fn score(&mut self) -> Score {
        self.inner.score() + self.shift
    }
}
