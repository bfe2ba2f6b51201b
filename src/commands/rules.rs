//! `grantguard rules` and `rules explain`: the catalog, from the embedded `rules/` files.

use crate::rules::Catalog;
use crate::{cli, Error, Outcome};
use std::io::Write;

pub(crate) fn rules_command(args: cli::RulesArgs, out: &mut dyn Write) -> Result<Outcome, Error> {
    let catalog = Catalog::builtin();
    let result = match args.command {
        None => {
            let mut text = String::new();
            for doc in catalog.docs() {
                text.push_str(&format!(
                    "{}  {:<28} {:<5} {}\n",
                    doc.id,
                    doc.name,
                    doc.default_severity.as_str(),
                    doc.summary
                ));
            }
            text.push_str("\nRun `grantguard rules explain ID` for what a rule finds, why it matters and what to do.\n");
            out.write_all(text.as_bytes())
        }
        Some(cli::RulesCommand::Explain { id }) => {
            let doc = catalog.get(&id).ok_or_else(|| Error::UnknownRule {
                id: id.clone(),
                known: catalog
                    .docs()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            out.write_all(
                format!(
                    "{} {} ({})\n{}\n\n{}\n",
                    doc.id,
                    doc.name,
                    doc.default_severity.as_str(),
                    doc.summary,
                    doc.explanation.trim_end()
                )
                .as_bytes(),
            )
        }
    };
    result.map_err(|source| Error::output(None, source))?;
    Ok(Outcome::Clear)
}
