//! Facet counts: for each asked field, how many matching documents hold each value, over the
//! whole result (not the page), counted from fast fields in the same pass as the top hits.

use std::collections::BTreeMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// The fields a front-end may ask counts of (`facets=sector,province,…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FacetName {
    Kind,
    Sector,
    Province,
    Trl,
    TransferForm,
    IpType,
    FundingLevel,
    RightsStatus,
    Currency,
    Verified,
}

impl FacetName {
    pub const ALL: [FacetName; 10] = [
        FacetName::Kind,
        FacetName::Sector,
        FacetName::Province,
        FacetName::Trl,
        FacetName::TransferForm,
        FacetName::IpType,
        FacetName::FundingLevel,
        FacetName::RightsStatus,
        FacetName::Currency,
        FacetName::Verified,
    ];

    /// The name in the API, which is also the index field's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FacetName::Kind => "kind",
            FacetName::Sector => "sector",
            FacetName::Province => "province",
            FacetName::Trl => "trl",
            FacetName::TransferForm => "transfer_form",
            FacetName::IpType => "ip_type",
            FacetName::FundingLevel => "funding_level",
            FacetName::RightsStatus => "rights_status",
            FacetName::Currency => "currency",
            FacetName::Verified => "verified",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Per facet, each value and how many matching documents hold it.
pub type FacetCounts = BTreeMap<FacetName, BTreeMap<String, u64>>;

pub struct Facets(pub Vec<FacetName>);

enum Source {
    /// At most one value per document (kind, province…): read directly.
    Single(StrColumn),
    Str(StrColumn),
    U64(Column<u64>),
    None,
}

pub struct SegmentFacets {
    columns: Vec<(FacetName, Source, Vec<u64>)>,
    /// Reused for a block's single values (no allocation per block).
    block: Vec<Option<u64>>,
}

impl Collector for Facets {
    type Fruit = FacetCounts;
    type Child = SegmentFacets;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFacets> {
        let fast = reader.fast_fields();
        let mut columns = Vec::new();
        for name in &self.0 {
            let source = match name {
                FacetName::Trl => fast.u64(name.as_str()).map(Source::U64).unwrap_or(Source::None),
                _ => match fast.str(name.as_str())? {
                    Some(c) if c.ords().get_cardinality().is_multivalue() => Source::Str(c),
                    Some(c) => Source::Single(c),
                    None => Source::None,
                },
            };
            let slots = match &source {
                Source::Str(column) | Source::Single(column) => column.num_terms(),
                Source::U64(_) => 10,
                Source::None => 0,
            };
            columns.push((*name, source, vec![0; slots]));
        }
        Ok(SegmentFacets { columns, block: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut all = FacetCounts::new();
        for name in &self.0 {
            all.entry(*name).or_default();
        }
        for fruit in fruits {
            for (name, values) in fruit {
                let into = all.entry(name).or_default();
                for (value, n) in values {
                    *into.entry(value).or_default() += n;
                }
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for SegmentFacets {
    type Fruit = FacetCounts;

    /// Matches without scores come in blocks: single-valued columns are read a block at a
    /// time, which is several times cheaper than a lookup per document.
    fn collect_block(&mut self, docs: &[DocId]) {
        self.block.resize(docs.len(), None);
        for (_, source, counts) in &mut self.columns {
            if let Source::Single(column) = source {
                column.ords().first_vals(docs, &mut self.block);
                for slot in self.block.iter().flatten() {
                    if let Some(n) = counts.get_mut(*slot as usize) {
                        *n += 1;
                    }
                }
            } else {
                for &doc in docs {
                    count_one(source, counts, doc);
                }
            }
        }
    }

    fn collect(&mut self, doc: DocId, _score: Score) {
        for (_, source, counts) in &mut self.columns {
            count_one(source, counts, doc);
        }
    }

    fn harvest(self) -> FacetCounts {
        let mut out = FacetCounts::new();
        for (name, source, counts) in self.columns {
            let values = out.entry(name).or_default();
            let mut text = String::new();
            for (slot, n) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                match &source {
                    Source::Str(column) | Source::Single(column) => {
                        text.clear();
                        if column.ord_to_str(slot as u64, &mut text).unwrap_or(false) {
                            values.insert(text.clone(), n);
                        }
                    }
                    Source::U64(_) => {
                        values.insert(slot.to_string(), n);
                    }
                    Source::None => {}
                }
            }
        }
        out
    }
}

fn count_one(source: &Source, counts: &mut [u64], doc: DocId) {
    match source {
        Source::Single(column) => {
            if let Some(slot) = column.ords().first(doc).and_then(|o| counts.get_mut(o as usize)) {
                *slot += 1;
            }
        }
        Source::Str(column) => {
            for ord in column.term_ords(doc) {
                if let Some(slot) = counts.get_mut(ord as usize) {
                    *slot += 1;
                }
            }
        }
        Source::U64(column) => {
            for value in column.values_for_doc(doc) {
                if let Some(slot) = counts.get_mut(value as usize) {
                    *slot += 1;
                }
            }
        }
        Source::None => {}
    }
}
