use clap::Parser;
use insectid::inference::TestTime;
use server::config::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr in every command: stdout is the command's output (`identify --json`,
    // `check --json`), which other programs read and must not find log lines in.
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match cli.config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let config = cli.config;
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(server::serve(config)).map(|()| true),
        Command::Identify { files, json, top_k } => {
            runtime.block_on(server::cli::identify(&config, &files, json, top_k))
        }
        Command::BenchForward { batches, seconds, json } => {
            server::cli::bench_forward(&config, &batches, seconds, json).map(|()| true)
        }
        Command::Admin { action: server::config::AdminAction::Create { username } } => {
            runtime.block_on(server::cli::create_admin(&config, &username)).map(|()| true)
        }
        Command::Check { repair, grace_minutes, json } => {
            runtime.block_on(server::cli::check(&config, repair, grace_minutes, json))
        }
        Command::Finetune { spec, hidden, epochs, patience, views, unfreeze, unfreeze_epochs, mirror } => {
            let test_time = if mirror { TestTime::Flip } else { TestTime::None };
            let run = server::cli::finetune(
                &config,
                &spec,
                hidden,
                epochs,
                patience,
                views,
                unfreeze,
                unfreeze_epochs,
                test_time,
            );
            runtime.block_on(run).map(|()| true)
        }
        Command::Dataset { action } => runtime.block_on(server::cli::dataset(&config, action)).map(|()| true),
        Command::Eval { dir, split, out, json, concurrency } => {
            runtime.block_on(server::cli::eval(&config, &dir, &split, &out, json, concurrency)).map(|()| true)
        }
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
