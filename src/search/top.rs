//! The best `limit` documents by score, equal scores newest first, then by address (so the
//! order does not depend on how the index happens to be split into segments).
//!
//! Unlike a score tweak, the recency column is read only for a document that can still
//! enter the page: most matches of a broad query score below the page's worst and cost one
//! comparison.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

#[derive(Clone, Copy)]
pub struct TopByScore {
    pub limit: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub score: Score,
    pub recency: i64,
    pub address: DocAddress,
}

impl Hit {
    /// Better first: higher score, then newer, then lower address.
    fn rank(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| other.recency.cmp(&self.recency))
            .then_with(|| self.address.cmp(&other.address))
    }
}

/// In the heap the worst hit is on top.
struct Worst(Hit);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank(&other.0)
    }
}

pub struct SegmentTop {
    segment: SegmentOrdinal,
    recency: Column<i64>,
    limit: usize,
    heap: BinaryHeap<Worst>,
}

impl Collector for TopByScore {
    type Fruit = Vec<Hit>;
    type Child = SegmentTop;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        Ok(SegmentTop {
            segment,
            recency: reader.fast_fields().i64("recency")?,
            limit: self.limit,
            heap: BinaryHeap::with_capacity(self.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Hit>>) -> tantivy::Result<Vec<Hit>> {
        let mut all: Vec<Hit> = fruits.into_iter().flatten().collect();
        all.sort_by(Hit::rank);
        all.truncate(self.limit);
        Ok(all)
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<Hit>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.limit == 0 {
            return;
        }
        if self.heap.len() == self.limit {
            // Below the page's worst: out, without reading its recency.
            if self.heap.peek().is_some_and(|w| score < w.0.score) {
                return;
            }
        }
        let hit = Hit {
            score,
            recency: self.recency.first(doc).unwrap_or(0),
            address: DocAddress::new(self.segment, doc),
        };
        if self.heap.len() < self.limit {
            self.heap.push(Worst(hit));
        } else if self.heap.peek().is_some_and(|w| hit.rank(&w.0) == Ordering::Less) {
            self.heap.pop();
            self.heap.push(Worst(hit));
        }
    }

    fn harvest(self) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        hits.sort_by(Hit::rank);
        hits
    }
}
