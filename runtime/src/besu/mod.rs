//! Besu's files: `genesis.json` (read and written), and the directory a
//! Besu operator runs a network from (`export`).

pub mod export;
pub mod genesis;

pub use export::{BESU_IMAGE, BESU_RELEASE, BesuExport, ExportedNode, export};
pub use genesis::{BesuGenesis, GenesisHeader};
