//! Besu's files: `genesis.json` (read and written), and the directory a
//! Besu operator runs a network from (`export`).

pub mod genesis;

pub use genesis::{BesuGenesis, GenesisHeader};
