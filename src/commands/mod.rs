//! One module per subcommand: each turns parsed arguments into calls of the stage modules
//! and returns an [`Outcome`]. [`run`] picks the module; the plumbing they share (runtime,
//! connecting, the walk, the audit) is in `session`, and where their text goes in `output`.

pub(crate) mod audit;
pub(crate) mod removal;
pub(crate) mod rules;
pub(crate) mod scan;
pub(crate) mod sim;
pub(crate) mod sim_snapshot;
pub(crate) mod whoami;

use crate::cli::{Cli, Command, SelectorArgs};
use crate::inventory::{GrantKey, VpcAccessId};
use crate::output::{emit, init_logging};
use crate::selection::Selector;
use crate::session::runtime;
use crate::{demo, policy, regions, shell, Error, Outcome};

/// Runs one command.
pub fn run(cli: Cli) -> Result<Outcome, Error> {
    init_logging(&cli.output);
    let Cli {
        account,
        output,
        command,
        given,
    } = cli;
    // Only audit and scan read several regions; a grant lives in one.
    let single = match &command {
        Command::Graph(_) => Some("graph"),
        Command::Remove(_) => Some("remove"),
        Command::Repoint(_) => Some("repoint"),
        Command::Restore(_) => Some("restore"),
        Command::Journal(_) => Some("journal"),
        Command::Whoami(_) => Some("whoami"),
        _ => None,
    };
    if let Some(name) = single {
        regions::require_single(account.region.as_deref(), name)?;
    }
    match command {
        Command::Rules(args) => rules::rules_command(args, &mut std::io::stdout().lock()),
        Command::Sim(args) => runtime()?.block_on(sim::sim_command(args)),
        Command::Scan(args) => {
            runtime()?.block_on(scan::scan_command(&account, &given, &output, args))
        }
        Command::Audit(args) => {
            runtime()?.block_on(audit::audit_command(&account, &given, &output, args))
        }
        Command::Graph(args) => {
            runtime()?.block_on(audit::graph_command(&account, &given, &output, args))
        }
        Command::Demo(args) => runtime()?.block_on(demo::demo_command(&output, args)),
        Command::Remove(args) => {
            runtime()?.block_on(removal::remove_command(&account, &given, &output, args))
        }
        Command::Repoint(args) => {
            runtime()?.block_on(removal::repoint_command(&account, &given, &output, args))
        }
        Command::Restore(args) => {
            runtime()?.block_on(removal::restore_command(&account, &given, args))
        }
        Command::Journal(args) => {
            runtime()?.block_on(removal::journal_command(&account, &given, args))
        }
        Command::Policy(args) => {
            let text = policy::render(args.with_removal);
            emit(None, |out| out.write_all(text.as_bytes()))?;
            Ok(Outcome::Clear)
        }
        Command::Whoami(args) => {
            runtime()?.block_on(whoami::whoami_command(&account, &args, &given))
        }
        Command::Completions(args) => {
            emit(None, |out| shell::completions(args.shell, out))?;
            Ok(Outcome::Clear)
        }
        Command::Man => {
            emit(None, shell::man)?;
            Ok(Outcome::Clear)
        }
    }
}

/// The selector flags as one [`Selector`], or `None` for every grant.
pub(crate) fn selector_of(args: &SelectorArgs) -> Option<Selector> {
    if let (Some(vpc_id), Some(instance_id), Some(port)) =
        (&args.vpc_id, &args.instance_id, args.port)
    {
        return Some(Selector::Key(GrantKey {
            vpc_id: vpc_id.as_str().into(),
            instance_id: instance_id.as_str().into(),
            port,
        }));
    }
    if let Some(name) = &args.name {
        return Some(Selector::Name(name.clone()));
    }
    args.vpc_access_id
        .as_ref()
        .map(|id| Selector::Id(VpcAccessId::from(id.as_str())))
}
