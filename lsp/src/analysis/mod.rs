//! Running solar over a set of files (with unsaved buffers) and copying the
//! results into the owned [`crate::index`] structures, split by job:
//! [`session`] runs solar, [`diagnostics`] converts what it reports (and
//! [`false_positives`] downgrades what solar gets wrong), [`returns`] adds the
//! return-type check solar leaves out, [`extract`] copies the results into
//! the index through [`symbols`] (declarations) and [`references`] (name
//! occurrences), and [`natspec`] renders doc comments.

mod diagnostics;
mod extract;
mod false_positives;
mod natspec;
mod references;
mod returns;
mod session;
mod symbols;

pub use diagnostics::{FileDiagnostic, Severity};
pub use natspec::doc_above;
pub use session::{AnalysisOutput, Extract, Overlays, analyze};
