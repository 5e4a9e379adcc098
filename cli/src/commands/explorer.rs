//! `forja explorer`: the explorer page `forja node` serves at /explorer,
//! for any endpoint (forja-explorer does the work).

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
};

use forja_explorer::{Endpoint, Explorer, ServeOptions};

/// Serve the block explorer page for any JSON-RPC endpoint.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The endpoint's HTTP URL; the page's calls go through this server, which forwards
    /// read-only methods only
    #[arg(long, value_name = "URL")]
    pub rpc: String,
    /// Its WebSocket URL, for live updates [default: the RPC URL with ws:// or wss://]; without
    /// one the page polls
    #[arg(long, value_name = "URL")]
    pub ws: Option<String>,
    /// The project whose out/ artifacts decode calls, logs and errors [default: the current
    /// directory's project, when built]
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one (printed)
    #[arg(long, default_value_t = 8546)]
    pub port: u16,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out_dir = forja_explorer::project_out_dir(args.project.as_deref())?;
    let websocket = args.ws.clone().or_else(|| {
        args.rpc
            .strip_prefix("http")
            .map(|rest| format!("ws{rest}"))
    });
    let explorer = Explorer::new(out_dir.as_deref(), Endpoint::Proxied { websocket })?;
    let contracts = explorer.contract_count();
    let options = ServeOptions {
        listen: SocketAddr::new(args.host, args.port),
        upstream: args.rpc.clone(),
    };
    super::block_on(async move {
        forja_explorer::serve(
            explorer,
            options,
            |address| {
                println!(
                    "Explorer for {} ({contracts} contract(s) from {}): http://{address}/explorer",
                    args.rpc,
                    out_dir
                        .as_deref()
                        .map_or("no project".into(), |d| d.display().to_string())
                );
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await
    })??;
    Ok(ExitCode::SUCCESS)
}
