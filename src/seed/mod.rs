//! `techx seed`: a demo exchange to look at (`demo`), and large consistent data to measure
//! with (`synthetic`). Both write through the store layer or its bulk functions, so the
//! search index and every CHECK constraint see the same rows the API would write.

pub mod demo;
mod demo_data;
pub mod synthetic;
pub mod words;

use std::io::IsTerminal;

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::*;
use crate::error::ApiError;

/// Rows per table, in a fixed order: what a seed run added, and what tests compare.
pub fn counts(conn: &mut DbConn) -> Result<Vec<(&'static str, i64)>, ApiError> {
    macro_rules! count {
        ($($table:ident),* $(,)?) => {
            vec![$((stringify!($table), $table::table.count().get_result::<i64>(conn)?)),*]
        };
    }
    Ok(count!(
        users,
        organizations,
        memberships,
        organization_verifications,
        technologies,
        research_results,
        technology_reviews,
        demands,
        proposals,
        inquiries,
        inquiry_messages,
        deals,
        deal_events,
        deal_checklist,
        valuation_requests,
        valuation_request_events,
        match_notifications,
        outbox,
    ))
}

/// Progress of a long load: a bar on a terminal, plain lines (about every tenth) otherwise,
/// so logs of a scripted run stay readable.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Neither bar nor lines.
    quiet: bool,
    label: String,
    total: u64,
    done: u64,
    next_line: u64,
    started: std::time::Instant,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{msg:>14} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
            )
            .map(|s| s.progress_chars("=> "));
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar.set_message(label.to_owned());
            bar
        });
        Self {
            bar,
            quiet: false,
            label: label.to_owned(),
            total,
            done: 0,
            next_line: total.div_ceil(10).max(1),
            started: std::time::Instant::now(),
        }
    }

    /// A progress that shows nothing (tests, and the benchmark example's own output).
    pub fn hidden(label: &str, total: u64) -> Self {
        let mut p = Self::new(label, total);
        if let Some(bar) = p.bar.take() {
            bar.finish_and_clear();
        }
        p.quiet = true;
        p
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if self.quiet => {}
            None if self.done >= self.next_line || self.done == self.total => {
                eprintln!(
                    "{}: {}/{} ({:.0} s)",
                    self.label,
                    self.done,
                    self.total,
                    self.started.elapsed().as_secs_f64()
                );
                while self.next_line <= self.done {
                    self.next_line += self.total.div_ceil(10).max(1);
                }
            }
            None => {}
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
    }
}

/// What `techx seed --demo` prints: the accounts, once.
pub fn describe_demo(outcome: &demo::LoadOutcome) -> String {
    match outcome {
        demo::LoadOutcome::AlreadyLoaded => format!(
            "The demo exchange is already loaded ({} exists); nothing was changed.\n\
             Its passwords were shown when it was loaded; `techx admin create` or the \
             password reset flow gives new access.\n",
            demo::MARKER_EMAIL
        ),
        demo::LoadOutcome::Loaded(credentials) => {
            let mut out = String::from(
                "Demo exchange loaded. These passwords are shown only now; keep them.\n\n",
            );
            let width = credentials.iter().map(|c| c.email.len()).max().unwrap_or(0);
            for c in credentials {
                out.push_str(&format!("  {:width$}  {}  {}\n", c.email, c.password, c.role));
            }
            out.push_str(
                "\nSign in with POST /api/v1/auth/login {\"email\", \"password\"}, or from /docs/.\n",
            );
            out
        }
    }
}

/// What `techx seed --synthetic` prints.
pub fn describe_synthetic(r: &synthetic::Report) -> String {
    format!(
        "Synthetic data loaded in {:.1} s:\n  {} organisations (one owner each), {} technologies \
         ({} published), {} demands ({} published), {} enquiries, {} deals ({} completed), {} \
         valuation requests.\n  Every synthetic owner signs in with password {} \
         (e.g. {}).\n",
        r.elapsed.as_secs_f64(),
        r.organizations,
        r.technologies,
        r.published_technologies,
        r.demands,
        r.published_demands,
        r.inquiries,
        r.deals,
        r.completed_deals,
        r.valuation_requests,
        r.password,
        r.sample_email,
    )
}
