//! `grantguard remove`, `restore` and `journal`: the command-line side of `crate::removal`.

use super::selector_of;
use crate::cli::{self, AccountArgs, CallArgs, Given, OutputArgs, WalkArgs};
use crate::inventory::walk::WalkOptions;
use crate::inventory::VpcAccessId;
use crate::output::render_options;
use crate::removal::journal::Action;
use crate::removal::repoint::{RepointRequest, TargetSpec};
use crate::removal::{Plan, RemovalRequest, ResultFormat, Targets};
use crate::rules::Catalog;
use crate::selection::Selector;
use crate::session::connect;
use crate::settings::{Flags, Settings};
use crate::{interrupt, removal, Error, Outcome};

pub(crate) async fn remove_command(
    account: &AccountArgs,
    given: &Given,
    output: &OutputArgs,
    args: cli::RemoveArgs,
) -> Result<Outcome, Error> {
    let context = context(
        account,
        given,
        output,
        &args.walk,
        &args.terraform,
        args.output.as_deref(),
    )
    .await?;
    Ok(removal::remove_command(&context, request_of(&args)).await?)
}

/// Connects for a removal or a repoint, after checking that `-o FILE` (when given) can be
/// written, so a typo costs no walk; colour only when the result goes to the terminal.
/// Ctrl-C exits 130 from here on, but never between a pending record and its outcome.
async fn context(
    account: &AccountArgs,
    given: &Given,
    output: &OutputArgs,
    walk: &WalkArgs,
    terraform: &[std::path::PathBuf],
    result_file: Option<&std::path::Path>,
) -> Result<removal::Context, Error> {
    if let Some(path) = result_file {
        crate::output::check_writable(path)?;
    }
    let to_stdout = result_file.is_none();
    interrupt::install();
    let catalog = Catalog::builtin();
    let settings = Settings::load(&flags(account, Some(walk), None, given), &catalog)?;
    // Terraform is read before any call: a damaged file costs no API calls.
    let terraform = settings.load_terraform(terraform)?;
    let (client, region) = connect(&settings).await?;
    Ok(removal::Context {
        client,
        region,
        config: settings.config,
        catalog,
        terraform,
        walk: WalkOptions {
            history_depth: settings.history_depth,
            progress: None,
        },
        render: render_options(output.color, to_stdout),
    })
}

/// The removal `args` ask for. Without a selector the request is `--all-safe` (clap requires
/// one of the two).
fn request_of(args: &cli::RemoveArgs) -> RemovalRequest {
    let targets = match selector_of(&args.selector) {
        Some(selector) if !args.all_safe => Targets::One(selector),
        _ => Targets::AllSafe { max: args.max },
    };
    RemovalRequest {
        targets,
        plan: Plan {
            dry_run: args.dry_run,
            yes: args.yes,
            reason: args.force.then(|| args.reason.clone()).flatten(),
            accept_warnings: args.accept_warnings,
            plan: args.plan.clone(),
            action: if args.abolish_apis {
                Action::RemoveVpcAccessAndAbolishApis
            } else {
                Action::RemoveVpcAccess
            },
        },
        journal: args.journal.clone(),
        format: match args.format {
            cli::RemovalFormat::Human => ResultFormat::Human,
            cli::RemovalFormat::Json => ResultFormat::Json,
        },
        output: args.output.clone(),
    }
}

/// The flags of a removal command that reads the account: remove walks it, restore and
/// journal only call it; none of them has `--min-severity`.
fn flags<'a>(
    account: &'a AccountArgs,
    walk: Option<&'a WalkArgs>,
    call: Option<&'a CallArgs>,
    given: &'a Given,
) -> Flags<'a> {
    Flags {
        account,
        walk,
        call,
        min_severity: None,
        given,
    }
}

pub(crate) async fn repoint_command(
    account: &AccountArgs,
    given: &Given,
    output: &OutputArgs,
    args: cli::RepointArgs,
) -> Result<Outcome, Error> {
    let context = context(
        account,
        given,
        output,
        &args.walk,
        &args.terraform,
        args.output.as_deref(),
    )
    .await?;
    let selector = match (&args.name, &args.vpc_access_id) {
        (Some(name), _) => Selector::Name(name.clone()),
        (None, Some(id)) => Selector::Id(VpcAccessId::from(id.as_str())),
        // clap requires one of the two.
        (None, None) => unreachable!("clap requires --name or --vpc-access-id"),
    };
    let request = RepointRequest {
        selector,
        target: TargetSpec {
            vpc_id: args.vpc_id.clone(),
            instance_id: args.instance_id.clone(),
            port: args.port,
            host: args.target_host_name.clone(),
        },
        dry_run: args.dry_run,
        yes: args.yes,
        reason: args.force.then(|| args.reason.clone()).flatten(),
        journal: args.journal.clone(),
        format: match args.format {
            cli::RepointFormat::Human => ResultFormat::Human,
            cli::RepointFormat::Json => ResultFormat::Json,
        },
        output: args.output.clone(),
        task_timeout: args.task_timeout,
    };
    Ok(removal::repoint::repoint_command(&context, request).await?)
}

pub(crate) async fn restore_command(
    account: &AccountArgs,
    given: &Given,
    args: cli::RestoreArgs,
) -> Result<Outcome, Error> {
    let path = removal::journal::resolve_path(args.journal.as_deref())?;
    let settings = Settings::load(
        &flags(account, None, Some(&args.call), given),
        &Catalog::builtin(),
    )?;
    let (client, _) = connect(&settings).await?;
    Ok(removal::restore::restore_command(&client, &path, args.id.as_deref()).await?)
}

pub(crate) async fn journal_command(
    account: &AccountArgs,
    given: &Given,
    args: cli::JournalArgs,
) -> Result<Outcome, Error> {
    let path = removal::journal::resolve_path(args.journal.as_deref())?;
    // Listing the journal needs no account; only reconciling a pending entry reads the
    // settings (and the config file) and connects.
    let mut connected: Option<Error> = None;
    let outcome = removal::restore::journal_command(&path, || async {
        let connecting = async {
            let settings = Settings::load(
                &flags(account, None, Some(&args.call), given),
                &Catalog::builtin(),
            )?;
            connect(&settings).await
        };
        match connecting.await {
            Ok((client, _)) => Ok(client),
            Err(error) => {
                connected = Some(error);
                Err(removal::RemovalError::NotConnected)
            }
        }
    })
    .await;
    match (outcome, connected) {
        (Err(_), Some(error)) => Err(error),
        (outcome, _) => Ok(outcome?),
    }
}
