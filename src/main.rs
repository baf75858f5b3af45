//! The `autodoctor` command: the web server and its maintenance commands.

use autodoctor::config::Config;
use autodoctor::workers::Supervisor;
use autodoctor::{db, seed, server, telemetry};
use std::process::ExitCode;

// The test hooks record every password hashed; a release server must never carry them.
#[cfg(all(feature = "test-hooks", not(debug_assertions)))]
compile_error!("the `test-hooks` feature is for test builds only, never a release build");

const USAGE: &str = "\
usage: autodoctor [COMMAND]

commands:
  serve        run the web server (the default)
  migrate      apply the database migrations and exit
  seed         apply the migrations, load the demo data (idempotent) and print the demo logins
  check        run the consistency suite on the database; exits 1 when something is wrong
  reconcile [DAYS]
               compare the ledger with the payment gateway over the last DAYS (default 90)
               and list every difference; exits 1 when there is one
  admin create EMAIL [NAME]
               create a platform admin; the password comes from ADMIN_PASSWORD
               or, when that is unset, from the first line of standard input
  help         show this text

Configuration comes from environment variables (and an optional .env file); see README.md.";

/// glibc serves large allocations with mmap only until the first one is freed,
/// then raises its threshold, after which each 19 MiB argon2 block stays in the
/// arena of the blocking thread that hashed (BENCHMARKS.md: 505 MB after a burst
/// of log-ins). A fixed 1 MiB threshold hands freed blocks back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_blocks_to_the_system() {
    use std::os::raw::c_int;
    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    const M_MMAP_THRESHOLD: c_int = -3;
    // SAFETY: called first thing in main, before any other thread allocates.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_blocks_to_the_system() {}

fn main() -> ExitCode {
    return_freed_blocks_to_the_system();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("serve");
    if matches!(command, "help" | "-h" | "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if !matches!(command, "serve" | "migrate" | "seed" | "admin" | "reconcile" | "check") {
        eprintln!("autodoctor: unknown command {command:?}\n\n{USAGE}");
        return ExitCode::from(2);
    }

    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("autodoctor: {e}");
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    telemetry::init(&config.log_format);

    // Rendering a deep page (the owner's dashboard) in a debug build (scripts/run)
    // needs more than the default 2 MiB per worker thread; release builds far less.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("autodoctor: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, &args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autodoctor: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: &str, args: &[String], config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let pool = db::connect(&config)
        .await
        .map_err(|e| format!("cannot connect to the database (DATABASE_URL): {e}"))?;
    db::migrate(&pool).await.map_err(|e| format!("migrations failed: {e}"))?;
    match command {
        "migrate" => {
            println!("migrations applied");
            Ok(())
        }
        "seed" => {
            let logins = seed::load_demo_data(&pool).await?;
            println!("demo data loaded");
            for login in logins {
                println!("  {:<22} {:<36} {}", login.role, login.email, login.password);
            }
            Ok(())
        }
        "admin" => admin_command(&pool, &args[1..]).await,
        "check" => {
            let problems = autodoctor::consistency::check(&pool).await?;
            if problems.is_empty() {
                println!("consistent: every order, request, session, ledger entry and payout is whole");
                Ok(())
            } else {
                for p in &problems {
                    println!("  {p}");
                }
                Err(format!("{} problem(s) found", problems.len()).into())
            }
        }
        "reconcile" => {
            let days = match args.get(1) {
                None => 90,
                Some(d) => d
                    .parse::<i64>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or("DAYS must be 1 to 3650")?,
            };
            let state = autodoctor::state::AppState::start(config, pool).await?;
            let report = autodoctor::payouts::reconcile::reconcile(&state, days)
                .await
                .map_err(|e| format!("reconciliation failed: {e}"))?;
            println!(
                "checked {} orders, {} payouts, {} refunds over {days} days",
                report.checked_orders, report.checked_transfers, report.checked_refunds
            );
            if report.discrepancies.is_empty() {
                println!("no differences: the ledger and the payment gateway agree");
                Ok(())
            } else {
                for d in &report.discrepancies {
                    println!("  [{}] {}: {}", d.area, d.reference, d.detail);
                }
                Err(format!("{} difference(s) found", report.discrepancies.len()).into())
            }
        }
        _ => {
            autodoctor::auth::admin::bootstrap(&pool, config.bootstrap_admin.as_ref()).await?;
            autodoctor::auth::password::warm_up();
            let state = autodoctor::state::AppState::start(config, pool).await?;
            let workers = start_workers(&state);
            // SIGTERM or Ctrl-C: stop taking work, let requests and jobs in progress finish.
            let stop = workers.shutdown_handle();
            let signals = {
                let workers_stop = workers_stopper(&workers);
                tokio::spawn(async move {
                    server::shutdown_signal().await;
                    workers_stop();
                })
            };
            let grace = state.config.shutdown_grace;
            let served = server::serve(state, stop, grace).await;
            signals.abort();
            workers.shutdown(grace).await;
            served?;
            Ok(())
        }
    }
}

/// The background workers of `serve`, each under the supervisor.
fn start_workers(state: &autodoctor::state::AppState) -> Supervisor {
    let mut workers = Supervisor::new();
    if let Some(url) = state.config.smtp_url.clone() {
        let (pool, from) = (state.pool.clone(), state.config.mail_from.clone());
        workers.spawn("email", move |stop| {
            autodoctor::mail::outbox::run_sender(pool.clone(), url.clone(), from.clone(), stop)
        });
    }
    {
        let pool = state.pool.clone();
        let settings = autodoctor::offers::store::RoutingSettings::from_config(&state.config);
        workers.spawn("dispatch", move |stop| {
            autodoctor::offers::store::run_routing_worker(pool.clone(), settings.clone(), stop)
        });
    }
    {
        let pool = state.pool.clone();
        let settings = autodoctor::offers::store::RoutingSettings::from_config(&state.config);
        let interval = chrono::Duration::seconds(state.config.offer_mail_interval_secs);
        workers.spawn("offer-mail", move |stop| {
            autodoctor::offers::mail::run_offer_mail_worker(pool.clone(), settings.clone(), interval, stop)
        });
    }
    {
        let (s, hours) = (state.clone(), state.config.payout_interval_hours);
        workers.spawn("payouts", move |stop| autodoctor::payouts::run::run_scheduler(s.clone(), hours, stop));
    }
    if let Some(notify) = state.sandbox_deliveries.clone() {
        let pool = state.pool.clone();
        let secret = state.config.stripe_webhook_secret.clone();
        let url = state.config.sandbox_webhook_url.clone();
        workers.spawn("sandbox-webhooks", move |stop| {
            autodoctor::payments::sandbox::run_deliverer(
                pool.clone(),
                secret.clone(),
                url.clone(),
                notify.clone(),
                stop,
            )
        });
    }
    workers
}

/// A function that asks the supervisor's workers (and the server) to stop.
fn workers_stopper(workers: &Supervisor) -> impl FnOnce() + Send + 'static {
    let handle = workers.stop_sender();
    move || {
        let _ = handle.send(true);
    }
}

async fn admin_command(pool: &sqlx::PgPool, args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    use autodoctor::auth::queries::AdminOutcome;
    let (Some("create"), Some(email)) = (args.first().map(String::as_str), args.get(1)) else {
        return Err(format!("usage: autodoctor admin create EMAIL [NAME]\n\n{USAGE}").into());
    };
    let name = args.get(2).map(String::as_str).unwrap_or("Platform admin");
    let password = match std::env::var("ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            eprintln!("password (8 to 128 characters), then Enter:");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    match autodoctor::auth::admin::ensure_admin(pool, email, name, &password).await {
        Ok(AdminOutcome::Created(id)) => println!("admin {email} created ({id})"),
        Ok(AdminOutcome::AlreadyAdmin(_)) => println!("{email} is already an admin; nothing changed"),
        Err(e) => {
            return Err(format!(
                "{e}{}",
                match &e {
                    autodoctor::error::AppError::Invalid(fields) =>
                        format!(" {}", fields.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; ")),
                    _ => String::new(),
                }
            )
            .into())
        }
    }
    Ok(())
}
